"""The events part's CLI commands (``strangler asyncapi``, ``strangler events tail``)."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the event side's commands to ``app``."""
