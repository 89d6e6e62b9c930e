"""The spec of a legacy database system (SQLAlchemy URL or raw ODBC)."""

from __future__ import annotations

from typing import Literal

from strangler.spec.common import Frozen

__all__ = ["DatabaseSystem"]


class DatabaseSystem(Frozen):
    """A legacy database exposed table by table."""

    kind: Literal["database"]
