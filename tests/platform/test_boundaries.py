"""HTTP only at the edge: the adapters, the spec and the platform import no web framework."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]

_PROBE = """
import importlib, pkgutil, sys

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("fastapi", "starlette", "uvicorn"):
            raise ImportError(f"{name} imported outside the REST edge")
        return None

sys.meta_path.insert(0, Refuse())
import strangler.adapters
names = ["strangler.platform", "strangler.spec", "strangler.errors"]
for info in pkgutil.walk_packages(strangler.adapters.__path__, "strangler.adapters."):
    if not info.name.endswith((".cli", ".openapi")):  # commands that render the REST API
        names.append(info.name)
for name in names:
    importlib.import_module(name)
print(len(names))
"""


def test_adapters_import_without_the_web_framework() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 40  # every adapter module was imported


_ETL_PROBE = """
import importlib, pkgutil, sys

class Refuse:
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top == "airflow" or (top in ("fastapi", "starlette") and not allowed):
            raise ImportError(f"{name} imported by the ETL library")
        return None

allowed = False
sys.meta_path.insert(0, Refuse())
import strangler.etl
names = []
for info in pkgutil.walk_packages(strangler.etl.__path__, "strangler.etl."):
    if info.name in ("strangler.etl.http", "strangler.etl.cli", "strangler.etl.feast_cli"):
        continue  # the REST face and the commands may use the web framework, never Airflow
    names.append(info.name)
    importlib.import_module(info.name)
allowed = True
for name in ("strangler.etl.http", "strangler.etl.cli"):
    importlib.import_module(name)
print(len(names))
"""


def test_the_etl_library_imports_no_airflow() -> None:
    """Airflow calls the ETL library, never the other way round (dags/ holds the DAGs)."""
    result = subprocess.run(
        [sys.executable, "-c", _ETL_PROBE], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 15  # every ETL module was imported
