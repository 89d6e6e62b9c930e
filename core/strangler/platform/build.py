"""Build the components a spec describes, part by part, in registry order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strangler.platform.component import Component
from strangler.platform.core import Platform
from strangler.platform.registry import load, parts
from strangler.spec.models import Spec

__all__ = ["BuildContext", "build_platform"]


@dataclass
class BuildContext:
    """What a part's ``build`` function gets beside the spec.

    ``components`` holds what earlier parts built (adapters come first), so a
    later part can look legacy operations up while it is built.
    """

    cache_dir: Path | None = None
    components: list[Component] = field(default_factory=list)

    def platform(self) -> Platform:
        """The components built so far, for operation lookups."""
        return Platform(self.components)


BuildFunction = Callable[[Spec, BuildContext], Sequence[Component]]


def build_platform(spec: Spec, cache_dir: Path | None = None) -> Platform:
    """Every component of ``spec``; nothing is started yet (no I/O beyond loading)."""
    if cache_dir is None and spec.cache_dir:
        cache_dir = Path(spec.cache_dir)
    context = BuildContext(cache_dir=cache_dir)
    for part in parts():
        if part.build is None:
            continue
        if part.section is not None and spec.section(part.section) is None:
            continue
        build: Any = load(part.build, extra=part.extra, what=f"part {part.name!r}")
        context.components.extend(build(spec, context))
    return Platform(context.components)
