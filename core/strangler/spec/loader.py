"""Load ``strangler.yaml``: YAML with line numbers, ``${VAR}`` from the environment.

Every failure is a :class:`~strangler.errors.SpecError` whose problems carry the
file, the line and the field, so the CLI can print them without a traceback.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from strangler.errors import SpecError, SpecProblem
from strangler.spec.models import Spec, spec_model

__all__ = ["load_spec", "parse_spec"]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def load_spec(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Spec:
    """Read and validate the spec file at ``path``."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError([SpecProblem(str(file), None, "", f"cannot read: {exc.strerror}")]) from exc
    return parse_spec(text, filename=str(file), base_dir=file.parent, env=env)


def parse_spec(
    text: str,
    *,
    filename: str = "<spec>",
    base_dir: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Spec:
    """Validate spec ``text``; relative paths are taken from ``base_dir``."""
    yaml = YAML(typ="rt")
    try:
        tree = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise SpecError(
            [SpecProblem(filename, line, "", f"not valid YAML: {exc.problem}")]
        ) from exc
    if tree is None:
        tree = CommentedMap()
    if not isinstance(tree, CommentedMap):
        raise SpecError([SpecProblem(filename, 1, "", "the spec must be a mapping at the top")])
    problems: list[SpecProblem] = []
    data = _Substituter(tree, os.environ if env is None else env, filename, problems).walk(tree, ())
    if problems:
        raise SpecError(problems)
    context = {"base_dir": str(base_dir) if base_dir is not None else None}
    try:
        return spec_model().model_validate(data, context=context)
    except ValidationError as exc:
        raise SpecError(
            [
                SpecProblem(filename, *_locate(tree, err["loc"]), err["msg"])
                for err in exc.errors(include_url=False)
            ]
        ) from None


class _Substituter:
    """Turns the YAML tree into plain data, replacing ``${VAR}`` and ``${VAR:-default}``."""

    def __init__(
        self,
        tree: CommentedMap,
        env: Mapping[str, str],
        filename: str,
        problems: list[SpecProblem],
    ) -> None:
        self.tree, self.env, self.filename, self.problems = tree, env, filename, problems

    def walk(self, node: Any, loc: tuple[str | int, ...]) -> Any:
        if isinstance(node, CommentedMap):
            return {k: self.walk(v, (*loc, k)) for k, v in node.items()}
        if isinstance(node, CommentedSeq):
            return [self.walk(v, (*loc, i)) for i, v in enumerate(node)]
        if isinstance(node, str) and "${" in node:
            return _VAR.sub(lambda m: self._value(m, loc), node)
        return node

    def _value(self, match: re.Match[str], loc: tuple[str | int, ...]) -> str:
        name, default = match.group(1), match.group(2)
        if name in self.env:
            return self.env[name]
        if default is not None:
            return default
        line = _line_of(self.tree, loc)
        message = f"environment variable {name} is not set"
        self.problems.append(SpecProblem(self.filename, line, _dotted(loc), message))
        return ""


def _line_of(tree: Any, loc: tuple[str | int, ...]) -> int | None:
    """The 1-based line of the deepest part of ``loc`` that exists in ``tree``."""
    return _locate(tree, loc)[0]


def _locate(tree: Any, loc: tuple[str | int, ...]) -> tuple[int | None, str]:
    """Line and dotted field name of ``loc``, without the tags pydantic adds for unions."""
    line: int | None = None
    node = tree
    parts: list[str] = []
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedMap) and node.get("kind") == part:
            continue  # a discriminated union's tag, not a key of the file
        else:
            node = None
        parts.append(str(part))
    return line, ".".join(parts)


def _dotted(loc: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in loc)
