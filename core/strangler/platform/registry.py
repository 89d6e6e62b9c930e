"""Where the parts of strangler are found: no central list to edit.

Two registries, both filled from Python entry points (so a separate package
adds its own kinds and parts just by being installed) and, in-process, by
:func:`register_kind` / :func:`register_part`:

* ``strangler.kinds``: kinds of legacy system (``kind: soap`` in ``systems:``).
  Each entry point names a :class:`Kind`.
* ``strangler.parts``: areas of the platform (events, inference, the gateway...).
  Each entry point names a :class:`Part`: its top-level section of
  ``strangler.yaml``, how its components are built, its CLI commands.

Everything is named by import strings and imported only when used, so a
missing optional dependency costs nothing until its kind or part is in a spec;
then :func:`load` says which extra to install.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

__all__ = [
    "KINDS_GROUP",
    "PARTS_GROUP",
    "Kind",
    "Part",
    "kind",
    "kinds",
    "load",
    "parts",
    "register_kind",
    "register_part",
    "unregister",
]

KINDS_GROUP = "strangler.kinds"
PARTS_GROUP = "strangler.parts"


@dataclass(frozen=True)
class Kind:
    """A kind of legacy system.

    ``spec``: the pydantic model of its entry under ``systems:`` (it has a
    ``kind: Literal[name]`` field). ``adapter``: the class, called as
    ``Adapter(system_name, system_spec, cache_dir=...)``. ``rest``: optional,
    a function ``(adapter) -> APIRouter`` for routes beyond one ``POST`` per
    operation (a table's list/get/insert...), kept beside the REST edge.
    ``cli``: optional, a function ``(typer_app) -> None`` adding commands.
    ``extra``: the pip extra that installs what it needs.
    """

    name: str
    spec: str
    adapter: str
    extra: str
    rest: str | None = None
    cli: str | None = None


@dataclass(frozen=True)
class Part:
    """An area of the platform with a section of its own in the spec.

    ``section``/``spec``: the top-level key of ``strangler.yaml`` and the
    pydantic model it is read into (absent keys stay ``None``). ``build``: a
    function ``(spec, context) -> list[Component]`` run when the app is built
    (``context`` is a :class:`~strangler.platform.build.BuildContext`, which
    gives earlier components, e.g. adapters to look operations up in).
    ``order`` sorts parts: lower builds and starts first (adapters are 0).
    ``cli``: optional, a function ``(typer_app) -> None`` adding commands.
    """

    name: str
    section: str | None = None
    spec: str | None = None
    build: str | None = None
    cli: str | None = None
    extra: str | None = None
    order: int = 100


_lock = threading.Lock()
_kinds: dict[str, Kind] | None = None
_parts: dict[str, Part] | None = None
_added_kinds: dict[str, Kind] = {}
_added_parts: dict[str, Part] = {}


def _discover() -> tuple[dict[str, Kind], dict[str, Part]]:
    global _kinds, _parts
    with _lock:
        if _kinds is None or _parts is None:
            found_kinds: dict[str, Kind] = {}
            for ep in entry_points(group=KINDS_GROUP):
                value = ep.load()
                if not isinstance(value, Kind):
                    raise TypeError(f"entry point {ep.name} of {KINDS_GROUP} is not a Kind")
                found_kinds[value.name] = value
            found_parts: dict[str, Part] = {}
            for ep in entry_points(group=PARTS_GROUP):
                value = ep.load()
                if not isinstance(value, Part):
                    raise TypeError(f"entry point {ep.name} of {PARTS_GROUP} is not a Part")
                found_parts[value.name] = value
            _kinds, _parts = found_kinds, found_parts
        return {**_kinds, **_added_kinds}, {**_parts, **_added_parts}


def kinds() -> dict[str, Kind]:
    """Every registered kind of legacy system, by name."""
    return _discover()[0]


def kind(name: str) -> Kind:
    """The kind called ``name``; ``LookupError`` naming the known ones otherwise."""
    known = kinds()
    try:
        return known[name]
    except KeyError:
        raise LookupError(f"no kind {name!r} (known: {', '.join(sorted(known))})") from None


def parts() -> list[Part]:
    """Every registered part, in build order."""
    return sorted(_discover()[1].values(), key=lambda p: (p.order, p.name))


def register_kind(value: Kind) -> None:
    """Add (or replace) a kind in this process, beside those of the entry points."""
    _added_kinds[value.name] = value
    _changed()


def register_part(value: Part) -> None:
    """Add (or replace) a part in this process, beside those of the entry points."""
    _added_parts[value.name] = value
    _changed()


def unregister(name: str) -> None:
    """Forget a kind or part added with ``register_*`` (tests use it to clean up)."""
    _added_kinds.pop(name, None)
    _added_parts.pop(name, None)
    _changed()


def _changed() -> None:
    from strangler.spec import models

    models.spec_model.cache_clear()


def load(target: str, *, extra: str | None = None, what: str = "") -> Any:
    """Import ``module:attribute``; a missing dependency names the extra to install."""
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f": pip install 'strangler[{extra}]'" if extra else ""
        raise ImportError(
            f"{what or module_name} needs packages that are missing{hint} ({exc})"
        ) from exc
    return getattr(module, attr) if attr else module
