"""The platform every part of strangler stands on.

* :mod:`.component`: the small :class:`Component` interface (start, close,
  health) and its optional faces.
* :mod:`.operations`: :class:`Operation` and the one lookup by
  ``system.name`` that every adapter kind answers.
* :mod:`.registry`: kinds of legacy system and parts of the platform,
  registered through entry points (no central list).
* :mod:`.core` / :mod:`.build`: the :class:`Platform` of built components, its
  lifecycle and health; :func:`build_platform` from a spec.
"""

from strangler.platform.build import BuildContext, build_platform
from strangler.platform.component import (
    Component,
    FastRoutes,
    Guard,
    Health,
    OwnAuthentication,
    RouteSource,
)
from strangler.platform.core import Platform
from strangler.platform.operations import Operation, OperationSource
from strangler.platform.registry import Kind, Part, register_kind, register_part

__all__ = [
    "BuildContext",
    "Component",
    "FastRoutes",
    "Guard",
    "Health",
    "Kind",
    "Operation",
    "OperationSource",
    "OwnAuthentication",
    "Part",
    "Platform",
    "RouteSource",
    "build_platform",
    "register_kind",
    "register_part",
]
