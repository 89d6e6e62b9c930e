"""A spec split by role: what each kind of pod serves, and what it needs from outside.

strangler runs as three roles, each a separate workload on a cluster, all the
same program (``strangler serve``) over a different part of one spec:

* ``adapters``: the legacy systems as REST (``systems:``) and their events
  (``events:``);
* ``inference``: the served models (``models:``) and the feature tables they read
  (``features:``);
* ``gateway``: the routes (``routes:``) and the SOAP shim in front of them
  (``shim:``), with what its sides call in-process (the systems of a legacy
  operation, the models of a by-entity prediction).

Any other top-level section (a part this module does not know, such as
``security:``) goes to every role: it is taken to apply to each API.

A role is present when its own section is. Its spec keeps the original text of
the sections it takes (comments included) and the ``${VAR}`` references as they
are, to be filled in from the pod's environment; :attr:`Role.variables` lists
them. Files the spec names by a relative path that a pod needs (a SOAP system's
WSDL and the schemas beside it) are listed to be shipped with the spec; a
model repository is a volume of its own (:data:`MODELS_DIR`).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from strangler.errors import SpecError, SpecProblem

__all__ = ["COMMON", "MODELS_DIR", "ROLES", "Role", "split_roles"]

ROLES = ("adapters", "gateway", "inference")
"""Every role, in the order they are rendered."""

COMMON = ("version", "server", "limits", "cache_dir")
"""Top-level keys every role's spec keeps."""

MODELS_DIR = "/var/lib/strangler/models"
"""Where a pod finds the model repository (a volume): ``models.repository`` points here."""

_OWN = {
    "adapters": ("systems", "events"),
    "inference": ("models",),
    "gateway": ("routes", "shim"),
}
_KNOWN = {*COMMON, "systems", "events", "models", "features", "routes", "shim"}
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}")
_OPERATION = re.compile(r"^[A-Za-z0-9_.-]+\.[A-Za-z0-9_]+$")
_SCHEMA_SUFFIXES = (".wsdl", ".xsd")


@dataclass(frozen=True)
class Role:
    """One role's share of the spec."""

    name: str
    text: str
    """Its spec as YAML, ``${VAR}`` references untouched."""
    variables: dict[str, bool] = field(default_factory=dict)
    """Each ``${VAR}`` its spec reads, and whether the spec gives it a default."""
    files: dict[str, Path] = field(default_factory=dict)
    """Files its spec names by relative path: the path as written → the file here."""
    models: bool = False
    """Whether it serves models (and mounts the model repository at :data:`MODELS_DIR`)."""


def split_roles(spec_path: Path) -> list[Role]:
    """The roles present in the spec at ``spec_path`` (it is not validated here)."""
    tree = _read(spec_path)
    present = [r for r in ROLES if any(tree.get(k) for k in _OWN[r])]
    if not present:
        problem = "the spec has no systems, models or routes: nothing to deploy"
        raise SpecError([SpecProblem(str(spec_path), None, "", problem)])
    return [_role(name, tree, spec_path.parent) for name in present]


def _read(spec_path: Path) -> CommentedMap:
    try:
        tree = YAML(typ="rt").load(spec_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError([SpecProblem(str(spec_path), None, "", f"cannot read: {exc}")]) from exc
    except YAMLError as exc:
        raise SpecError([SpecProblem(str(spec_path), None, "", f"not valid YAML: {exc}")]) from exc
    if not isinstance(tree, CommentedMap):
        raise SpecError([SpecProblem(str(spec_path), 1, "", "the spec must be a mapping")])
    return tree


def _sections(name: str, tree: CommentedMap) -> list[str]:
    keys = [*COMMON, *_OWN[name], *(k for k in tree if k not in _KNOWN)]
    if name == "inference":
        keys.append("features")  # by-entity predictions read the feature tables
    if name == "gateway":
        operations, models = _route_targets(tree.get("routes"))
        if operations or tree.get("shim"):  # the shim serves a SOAP system's WSDL
            keys += ["systems", "events"]
        if models:
            keys += ["models", "features"]
    return [k for k in tree if k in keys]


def _role(name: str, tree: CommentedMap, base: Path) -> Role:
    kept = CommentedMap()
    for key in _sections(name, tree):
        kept[key] = tree[key]
    if "server" in kept:  # the pod listens where the manifests say, not where the spec does
        del kept["server"]
    serves_models = isinstance(kept.get("models"), dict)
    if serves_models:
        models = CommentedMap(kept["models"])
        models["repository"] = MODELS_DIR
        kept["models"] = models
    out = io.StringIO()
    yaml = YAML(typ="rt")
    yaml.width = 4096
    yaml.dump(kept, out)
    header = f"# The {name} role's part of the spec (rendered by strangler render k8s).\n"
    return Role(
        name=name,
        text=header + out.getvalue(),
        variables=_required(_variables(kept)),
        files=dict(_files(kept.get("systems"), base)),
        models=serves_models,
    )


def _route_targets(routes: Any) -> tuple[bool, bool]:
    """Whether any route calls a legacy operation, a served model, in-process."""
    operations = models = False
    items = routes.get("items") if isinstance(routes, dict) else None
    for route in (items or {}).values():
        if not isinstance(route, dict):
            continue
        for side in (route.get("legacy"), route.get("modern")):
            by_name = isinstance(side, str) and _OPERATION.match(side) is not None
            if by_name or (isinstance(side, dict) and "operation" in side):
                operations = True
            elif isinstance(side, dict) and "model" in side:
                models = True
    return operations, models


def _required(found: Iterator[tuple[str, bool]]) -> dict[str, bool]:
    """Each variable once: defaulted only where every reference gives a default."""
    variables: dict[str, bool] = {}
    for name, defaulted in found:
        variables[name] = variables.get(name, True) and defaulted
    return variables


def _variables(node: Any) -> Iterator[tuple[str, bool]]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _variables(value)
    elif isinstance(node, list):
        for value in node:
            yield from _variables(value)
    elif isinstance(node, str):
        for match in _VAR.finditer(node):
            yield match.group(1), match.group(2) is not None


def _files(systems: Any, base: Path) -> Iterator[tuple[str, Path]]:
    """A SOAP system's WSDL named by relative path, and the schemas in its folder."""
    for system in (systems or {}).values():
        wsdl = system.get("wsdl") if isinstance(system, dict) else None
        if not isinstance(wsdl, str) or "://" in wsdl or "${" in wsdl or wsdl.startswith("/"):
            continue
        found = (base / wsdl).resolve()
        if not found.is_file():
            continue
        folder = Path(wsdl).parent
        for sibling in sorted(found.parent.iterdir()):
            if sibling.suffix in _SCHEMA_SUFFIXES and sibling.is_file():
                yield (folder / sibling.name).as_posix(), sibling
