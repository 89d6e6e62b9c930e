"""strangler installed without extras: the CLI starts and validates a spec.

The packages of the extras are made unimportable in a child process, as they
are after a bare ``pip install strangler``; each part's registration must then
import nothing beyond the core dependencies until the part is used.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXTRAS = [
    "sqlalchemy",
    "orjson",
    "fastapi",
    "starlette",
    "lxml",
    "zeep",
    "httpx",
    "psycopg",
    "pyodbc",
    "kafka",
    "onnxruntime",
    "numpy",
    "redis",
    "jwt",
    "uvicorn",
    "aiohttp",
    "opentelemetry",
]

BLOCKED_CLI = f"""
import importlib.abc, sys
BLOCK = set({EXTRAS!r})
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCK:
            raise ModuleNotFoundError(f"No module named {{name!r}}")
        return None
sys.meta_path.insert(0, Blocker())
sys.argv = ["strangler", *sys.argv[1:]]
from strangler.cli import app
app()
"""


def strangler(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCKED_CLI, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_the_cli_starts_without_the_extras() -> None:
    done = strangler("--help")
    assert done.returncode == 0, done.stderr
    for command in ("validate", "serve", "etl", "canary", "render", "demo"):
        assert command in done.stdout


def test_a_spec_validates_without_the_extras() -> None:
    done = strangler("validate", "core/strangler/demo/strangler.yaml")
    assert done.returncode == 0, done.stderr
    assert "valid" in done.stdout
