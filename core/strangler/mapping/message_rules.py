"""One message's spec rules while its modern shape is built, and which were used.

A :class:`~strangler.spec.operations.MessageMap` names legacy field paths
(renames and conversions, groups to flatten, fields to nest); the shape is
built by walking the legacy model, asking :class:`MessageRules` about each
path. A path no walk asked about names no field: :meth:`MessageRules.unused`
lists them so the spec is refused at load.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from strangler.mapping.spec import FieldMap
from strangler.spec.operations import MessageMap

__all__ = ["MessageRules"]


@dataclass
class MessageRules:
    """The rules of one message; ``tag`` is the operation's modern name, ``name``
    the legacy model's (both name the models only this message uses)."""

    spec: MessageMap
    unwrap: bool
    tag: str
    name: str
    used: set[str] = field(default_factory=set)

    def _paths(self) -> tuple[str, ...]:
        nested = (p for ps in self.spec.nest.values() for p in ps)
        return (*self.spec.fields, *self.spec.flatten, *nested)

    def touches(self, path: tuple[str, ...]) -> bool:
        """Whether this message's own rules reach below ``path``."""
        prefix = ".".join(path) + "."
        return any(p.startswith(prefix) for p in self._paths())

    def field(self, path: tuple[str, ...]) -> FieldMap | None:
        """The spec's entry for the legacy field at ``path``, if any."""
        key = ".".join(path)
        found = self.spec.fields.get(key)
        if found is not None:
            self.used.add(key)
        return found

    def flattened(self, path: tuple[str, ...]) -> bool:
        """Whether the group at ``path`` is to be lifted into its parent."""
        key = ".".join(path)
        if key in self.spec.flatten:
            self.used.add(key)
            return True
        return False

    def unused(self) -> list[str]:
        """The spec's paths that matched no field."""
        return [p for p in self._paths() if p not in self.used]
