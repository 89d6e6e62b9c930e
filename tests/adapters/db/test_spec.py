"""The database system's spec: what it accepts, and the clear refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from strangler.errors import SpecError
from strangler.spec import parse_spec
from strangler.spec.database import DatabaseSystem


def _spec(**fields: Any) -> DatabaseSystem:
    return DatabaseSystem.model_validate({"kind": "database", **fields})


def test_defaults_and_table_forms() -> None:
    spec = _spec(url="sqlite:////tmp/x.db", tables=["A", "B"])
    assert spec.tables is not None and set(spec.tables) == {"A", "B"}
    assert not spec.tables["A"].writes  # read-only unless said otherwise
    assert (spec.max_page_size, spec.default_page_size, spec.char_padding) == (500, 50, "strip")
    spec = _spec(odbc="DSN=x", schema="dbo", tables={"A": None, "B": {"writes": True}})
    assert spec.tables is not None and spec.tables["B"].writes and spec.db_schema == "dbo"
    assert _spec(url="sqlite:////tmp/x.db").tables is None  # every table, read-only


def test_secrets_are_masked() -> None:
    spec = _spec(url="postgresql+psycopg://u:hunter2@h/db", procedures={})
    assert "hunter2" not in repr(spec) and "hunter2" not in str(spec.model_dump())
    assert "hunter2" not in repr(_spec(odbc="DRIVER={x};PWD=hunter2"))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "exactly one of 'url'"),
        ({"url": "sqlite:///a.db", "odbc": "DSN=x"}, "exactly one of 'url'"),
        ({"url": "not a url"}, "SQLAlchemy URL"),
        ({"url": "sqlite:///a.db", "default_page_size": 600}, "default_page_size"),
        ({"url": "sqlite:///a.db", "max_page_size": 0}, "greater than 0"),
        ({"url": "sqlite:///a.db", "tables": ["A", "A"]}, "listed twice"),
        ({"url": "sqlite:///a.db", "tables": {"A": {"key": []}}}, "at least one column"),
        ({"url": "sqlite:///a.db", "tables": {"A": {"key": ["k"], "columns": ["x"]}}}, "key"),
        ({"url": "sqlite:///a.db", "tables": {"A": {"write": True}}}, "Extra inputs"),
        ({"url": "sqlite:///a.db", "procedures": {"p; DROP TABLE x": {}}}, "identifier"),
        ({"url": "sqlite:///a.db", "procedures": {"p": {"params": {"a b": "string"}}}}, "plain"),
        ({"url": "sqlite:///a.db", "procedures": {"p": {"params": {"a": "blob"}}}}, "string"),
        ({"url": "sqlite:///a.db", "tables": ["p"], "procedures": {"p": {}}}, "both"),
    ],
)
def test_bad_specs_are_refused_clearly(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _spec(**fields)


def test_yaml_spec_relative_sqlite_path(tmp_path: Path) -> None:
    text = "systems:\n  shop:\n    kind: database\n    url: sqlite:///data/shop.db\n"
    spec = parse_spec(text, filename="s.yaml", base_dir=tmp_path, env={})
    system = spec.systems["shop"]
    assert isinstance(system, DatabaseSystem) and system.url is not None
    assert system.url.get_secret_value() == f"sqlite:///{tmp_path / 'data' / 'shop.db'}"


def test_yaml_spec_error_names_the_field() -> None:
    text = "systems:\n  shop:\n    kind: database\n    url: sqlite:///a.db\n    pool_size: -1\n"
    with pytest.raises(SpecError, match="pool_size"):
        parse_spec(text, filename="s.yaml", env={})
