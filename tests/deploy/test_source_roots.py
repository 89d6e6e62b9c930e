"""Every list naming the source roots names the same ones: the wheel, its editable
install, the type checker and the formatter check of ``./run lint``."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_every_list_of_source_roots_names_the_same_roots() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wheel = config["tool"]["hatch"]["build"]["targets"]["wheel"]
    roots = set(wheel["sources"])
    assert {"core", "adapters", "etl", "inference"} <= roots
    assert set(wheel["dev-mode-dirs"]) == roots
    assert {p.removesuffix("/strangler") for p in wheel["only-include"]} == roots
    assert set(config["tool"]["mypy"]["mypy_path"].split(":")) == roots
    assert {p.removesuffix("/strangler") for p in config["tool"]["mypy"]["files"]} == roots
    checked = re.search(r"ruff\" format --check --quiet ([\w ]+?) &&", (ROOT / "run").read_text())
    assert checked is not None, "./run lint has no ruff format --check over the roots"
    assert set(checked.group(1).split()) == roots
    for root in roots:
        assert (ROOT / root / "strangler").is_dir(), root
        assert not (ROOT / root / "strangler" / "__init__.py").exists(), f"{root}: namespace"
