"""Where a feature view's rows come from: :func:`open_source` and the :class:`Source` protocol.

A view's ``source.from`` names a database system's table (``erp.orders``, by
its API name, read in the modern shape the system's ``tables:`` entry gives it),
a database system with a ``query`` (``erp``; its ``fields`` decode the result's
columns), or an operation of a SOAP or RPC system (``inventory.ListItems``).
Each is reached through the system's own adapter, so connections, credentials,
timeouts and the mapping layer are the same as on the REST side.

``systems`` replaces a system's address for one run (what a scheduler hands
in from its own connection store): for a database a SQLAlchemy URL (it has
``://``) or else a raw ODBC string; for SOAP the service address; for RPC the
endpoint URL.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from strangler.errors import SpecError, SpecProblem, StranglerError
from strangler.etl.types import Batch, Schema
from strangler.spec.features import FeaturesSpec, FeatureViewSpec
from strangler.spec.models import Spec

__all__ = ["Source", "open_source", "view_spec", "with_address"]


class Source(Protocol):
    """Rows of one view in batches; ``schema`` is known before the first one."""

    schema: Schema
    estimated_rows: int | None

    def batches(
        self, *, resume: dict[str, Any] | None, low: Any | None, high: Any | None
    ) -> Iterator[Batch]:
        """Rows in watermark order (when the view has one), ``low`` <= watermark < ``high``,
        after the ``resume`` checkpoint of an interrupted run."""
        ...

    def close(self) -> None: ...


def _problem(where: str, message: str) -> SpecError:
    return SpecError([SpecProblem("spec", None, where, message)])


def view_spec(spec: Spec, view: str) -> FeatureViewSpec:
    """The view called ``view``; ``SpecError`` naming the known ones otherwise."""
    features: FeaturesSpec | None = spec.section("features")
    if features is None or view not in features.views:
        known = ", ".join(sorted(features.views)) if features is not None else "none"
        raise _problem("features.views", f"no feature view {view!r} (views: {known})")
    return features.views[view]


def with_address(system: Any, address: str) -> Any:
    """``system``'s spec reached at ``address`` (see the module's docstring)."""
    data = system.model_dump(by_alias=True, exclude_unset=True)
    if system.kind == "database":
        odbc = "://" not in address
        data["url"], data["odbc"] = (None, address) if odbc else (address, None)
    elif system.kind == "soap":
        data["address"] = address
    else:
        data["url"] = address
    return type(system).model_validate(data)


def open_source(
    spec: Spec,
    view_name: str,
    *,
    systems: Mapping[str, str] | None = None,
    cache_dir: Path | None = None,
    by_time: bool = False,
) -> Source:
    """The source of ``view_name`` (see the module's docstring), its schema read.

    Its rows are ordered and bounded by the view's watermark (default: its
    timestamp); ``by_time``: by its timestamp instead (a backfill of a time range).
    """
    view = view_spec(spec, view_name)
    where = f"features.views.{view_name}.source.from"
    name = view.source.system
    system = spec.systems.get(name)
    if system is None:
        known = ", ".join(sorted(spec.systems)) or "none"
        raise _problem(where, f"no system {name!r} (systems: {known})")
    if systems and name in systems:
        try:
            system = with_address(system, systems[name])
        except ValueError as exc:
            raise _problem(f"systems.{name}", f"the address given for this run: {exc}") from None
    if cache_dir is None and spec.cache_dir:
        cache_dir = Path(spec.cache_dir)
    if system.kind == "database":
        from strangler.etl.db_open import open_database_source

        return open_database_source(view_name, view, name, system, cache_dir, by_time=by_time)
    from strangler.etl.operation_source import OperationSource
    from strangler.platform.registry import kind, load

    if view.source.name is None:
        raise _problem(where, f"{name} is a {system.kind} system: name an operation (system.op)")
    if view.source.query is not None:
        raise _problem(where, "a query needs a database system")
    found = kind(system.kind)
    cls: Any = load(found.adapter, extra=found.extra, what=f"the {found.name!r} adapter")
    adapter = cls(name, system, cache_dir=cache_dir)
    try:
        return OperationSource(view_name, view, adapter, by_time=by_time)
    except BaseException:
        _close_quietly(adapter)
        raise


def _close_quietly(adapter: Any) -> None:
    import asyncio
    import contextlib

    with contextlib.suppress(StranglerError, OSError, RuntimeError):
        asyncio.run(adapter.close())
