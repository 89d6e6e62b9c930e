"""The GitOps path (``deploy/gitops/``): the GitHub Actions workflow validated against
SchemaStore's workflow schema, the Tekton Pipeline and Tasks checked as Tekton resolves
them, and the steps that can run here run for real: the render step over the demo spec,
its overlays built by kubectl's kustomize, and the scan step."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from typer.testing import CliRunner

from strangler.cli import app as cli
from strangler.demo.estate import DEMO_SPEC

ROOT = Path(__file__).parents[2]
GITOPS = ROOT / "deploy" / "gitops"
SCRIPT = GITOPS / "pipeline.sh"
TEKTON = GITOPS / "tekton"
IMAGES = sorted(
    p.name.removesuffix(".Dockerfile") for p in (ROOT / "deploy/images").glob("*.Dockerfile")
)
SCHEMA = Path(__file__).parent / "data" / "github-workflow.schema.json"
REGISTRY, TAG = "registry.example/estate", "1.2.3"


def _workflow() -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load((GITOPS / "github-actions.yaml").read_text())
    if True in loaded:  # YAML 1.1 reads the key `on` as a boolean
        loaded["on"] = loaded.pop(True)
    return loaded


def _tekton() -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with its kustomize) is on the machine image"
    built = subprocess.run(
        [kubectl, "kustomize", str(TEKTON)], capture_output=True, text=True, timeout=60
    )
    assert built.returncode == 0, built.stderr
    return [doc for doc in yaml.safe_load_all(built.stdout) if doc]


def _kustomize(folder: Path) -> list[dict[str, Any]]:
    built = subprocess.run(
        ["kubectl", "kustomize", str(folder)], capture_output=True, text=True, timeout=60
    )
    assert built.returncode == 0, built.stderr
    return [doc for doc in yaml.safe_load_all(built.stdout) if doc]


def _env() -> dict[str, str]:
    """This machine's environment with the project's ``strangler`` first on PATH."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def _run(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def _images_of(folder: Path) -> set[str]:
    return {
        container["image"]
        for obj in _kustomize(folder)
        for container in obj.get("spec", {})
        .get("template", {})
        .get("spec", {})
        .get("containers", [])
    }


def test_the_script_lists_every_image_there_is_a_dockerfile_for() -> None:
    listed = subprocess.run(
        ["sh", str(SCRIPT), "images"], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == IMAGES
    usage = subprocess.run(["sh", str(SCRIPT), "nope"], cwd=ROOT, capture_output=True, text=True)
    assert usage.returncode == 2 and "usage" in usage.stderr


def test_the_workflow_validates_against_schemastore() -> None:
    workflow = _workflow()
    jsonschema.validate(workflow, json.loads(SCHEMA.read_text()))
    for name, job in workflow["jobs"].items():
        assert job["runs-on"] and job["steps"], name
        for step in job["steps"]:
            assert ("run" in step) != ("uses" in step), step
    images = workflow["jobs"]["images"]
    assert images["strategy"]["matrix"]["image"] == IMAGES
    runs = "\n".join(s.get("run", "") for s in images["steps"])
    assert "pipeline.sh build" in runs and "pipeline.sh scan" in runs
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "images"
    runs = "\n".join(s.get("run", "") for s in deploy["steps"])
    assert "pipeline.sh render" in runs and "pipeline.sh apply" in runs
    assert "argocd/$ENVIRONMENT.yaml" in runs
    # Both forms install strangler as the Tekton render task does (the extras the CLI needs).
    (install,) = (s["run"] for s in deploy["steps"] if s.get("name") == "Install strangler")
    assert '".[rest,etl]"' in install
    assert '".[rest,etl]"' in (TEKTON / "render-task.yaml").read_text()


def test_the_workflow_render_step_runs_here(tmp_path: Path) -> None:
    """The deploy job's render step, its expressions given a run's values, over a copy of
    the spec: the overlays it leaves name the pushed images and build."""
    workflow = _workflow()
    (step,) = (s for s in workflow["jobs"]["deploy"]["steps"] if s.get("name") == "Render")
    values = {
        "github.server_url": "https://github.com",
        "github.repository": "acme/estate",
        "github.ref_name": "main",
    }
    script = re.sub(r"\$\{\{ ([^}]+) \}\}", lambda m: values[m.group(1)], step["run"])
    checkout = tmp_path / "checkout"
    shutil.copytree(ROOT / "deploy", checkout / "deploy", ignore=shutil.ignore_patterns("k8s"))
    shutil.copytree(DEMO_SPEC.parent, checkout / "demo")
    env = {**_env(), "SPEC": "demo/strangler.yaml", "REGISTRY": REGISTRY, "TAG": TAG}
    ran = _run(script, checkout, env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    out = checkout / "deploy" / "k8s"
    for overlay in ("dev", "prod"):
        assert _images_of(out / "overlays" / overlay) == {
            f"{REGISTRY}/strangler-{role}:{TAG}" for role in ("adapters", "gateway", "inference")
        }
    application = yaml.safe_load((out / "argocd" / "prod.yaml").read_text())
    assert application["spec"]["source"] == {
        "repoURL": "https://github.com/acme/estate.git",
        "targetRevision": "main",
        "path": "deploy/k8s/overlays/prod",
    }


def test_the_tekton_objects_resolve() -> None:
    objects = _tekton()
    assert {o["apiVersion"] for o in objects} == {"tekton.dev/v1"}
    tasks = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Task"}
    (pipeline,) = (o for o in objects if o["kind"] == "Pipeline")
    assert {o["kind"] for o in objects} == {"Task", "Pipeline"}
    declared = {p["name"] for p in pipeline["spec"]["params"]}
    workspaces = {w["name"] for w in pipeline["spec"]["workspaces"]}
    names = {t["name"] for t in pipeline["spec"]["tasks"]}
    text = yaml.safe_dump(pipeline["spec"]["tasks"])
    assert set(re.findall(r"\$\(params\.([\w-]+)\)", text)) <= declared
    for entry in pipeline["spec"]["tasks"]:
        task = tasks[entry["taskRef"]["name"]]["spec"]
        assert set(entry.get("runAfter", [])) <= names, entry["name"]
        params = {p["name"]: p for p in task.get("params", [])}
        given = {p["name"] for p in entry.get("params", [])}
        assert given <= set(params), entry["name"]
        assert {n for n, p in params.items() if "default" not in p} <= given, entry["name"]
        bound = {w["name"]: w["workspace"] for w in entry.get("workspaces", [])}
        assert set(bound.values()) <= workspaces, entry["name"]
        for workspace in task.get("workspaces", []):
            assert workspace.get("optional") or workspace["name"] in bound, entry["name"]
        for step in task["steps"]:
            used = set(re.findall(r"\$\(params\.([\w-]+)\)", yaml.safe_dump(step)))
            assert used <= set(params), (entry["name"], step["name"])
            spaces = set(re.findall(r"\$\(workspaces\.([\w-]+)\.", yaml.safe_dump(step)))
            assert spaces <= {w["name"] for w in task["workspaces"]}
            assert step["image"] and step["script"].startswith("#!/bin/sh\n")
    order = {t["name"]: set(t.get("runAfter", [])) for t in pipeline["spec"]["tasks"]}
    assert order["apply"] == {"scan", "render"} and order["scan"] == {"build"}
    run = yaml.safe_load((TEKTON / "pipelinerun.yaml").read_text())
    assert run["spec"]["pipelineRef"]["name"] == pipeline["metadata"]["name"]
    assert {w["name"] for w in run["spec"]["workspaces"]} == workspaces
    required = {p["name"] for p in pipeline["spec"]["params"] if "default" not in p}
    assert required <= {p["name"] for p in run["spec"]["params"]}


def _step(task: str, step: str, **values: str) -> str:
    (obj,) = (o for o in _tekton() if o["metadata"]["name"] == task)
    (found,) = (s for s in obj["spec"]["steps"] if s["name"] == step)
    script: str = found["script"]
    for key, value in values.items():
        script = script.replace(f"$({key})", value)
    assert not re.search(r"\$\((params|workspaces)\.", script), script
    return script


def test_the_tekton_render_step_runs_here(tmp_path: Path) -> None:
    script = _step(
        "strangler-render",
        "render",
        **{
            "workspaces.source.path": str(ROOT),
            "params.spec": str(DEMO_SPEC),
            "params.out": str(tmp_path / "k8s"),
            "params.registry": REGISTRY,
            "params.tag": TAG,
        },
    )
    ran = _run(script, ROOT, _env())
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert _images_of(tmp_path / "k8s" / "overlays" / "prod") == {
        f"{REGISTRY}/strangler-{role}:{TAG}" for role in ("adapters", "gateway", "inference")
    }
    # What the apply step applies is what kubectl's kustomize builds from the same folder.
    apply = _step(
        "strangler-apply",
        "apply",
        **{
            "workspaces.source.path": str(ROOT),
            "params.out": str(tmp_path / "k8s"),
            "params.environment": "dev",
        },
    )
    assert 'deploy/gitops/pipeline.sh apply "' in apply
    assert 'kubectl apply -k "$out/overlays/$env"' in SCRIPT.read_text()


def test_the_tekton_scan_step_runs_here() -> None:
    script = _step(
        "strangler-scan",
        "scan",
        **{
            "workspaces.source.path": str(ROOT),
            "workspaces.registry-credentials.bound": "false",
            "workspaces.registry-credentials.path": "/nowhere",
            "params.severity": "HIGH,CRITICAL",
            "params.registry": REGISTRY,
            "params.tag": TAG,
        },
    )
    if shutil.which("trivy") is None:
        ran = _run(script, ROOT, _env())
        assert ran.returncode == 0, ran.stderr
        assert "trivy is not installed: the images are not scanned" in ran.stdout
    else:  # trivy here would need the images and its database; it is only asked to start
        version = subprocess.run(["trivy", "--version"], capture_output=True, timeout=30)
        assert version.returncode == 0


def test_render_step_names_a_command_strangler_accepts() -> None:
    helped = CliRunner().invoke(cli, ["render", "k8s", "--help"])
    assert helped.exit_code == 0
    for option in ("--tag", "--repo-url", "--repo-path", "--revision"):
        assert option in helped.output
        assert option in SCRIPT.read_text()
    assert "strangler render k8s" in SCRIPT.read_text()


def test_build_hands_each_dockerfile_its_base_and_pushes(tmp_path: Path) -> None:
    """The build subcommand's calls of the container engine, recorded at its command line
    (the images themselves are built for real by ``test_image_build.py``)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls"
    engine = bin_dir / "docker"
    engine.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    engine.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "BUILDER": "docker",
        "PUSH": "1",
        "BASE": "debian-python:local",
        "AIRFLOW_BASE": "airflow:local",
    }
    ran = subprocess.run(
        ["sh", str(SCRIPT), "build", REGISTRY, TAG],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert ran.returncode == 0, ran.stderr
    calls = log.read_text().splitlines()
    assert len(calls) == 2 * len(IMAGES)
    for role in IMAGES:
        ref = f"{REGISTRY}/strangler-{role}:{TAG}"
        base = "airflow:local" if role == "airflow" else "debian-python:local"
        dockerfile = ROOT / "deploy/images" / f"{role}.Dockerfile"
        assert re.search(r"^ARG BASE=", dockerfile.read_text(), flags=re.MULTILINE)
        assert (
            f"build --build-arg BASE={base} -f deploy/images/{role}.Dockerfile -t {ref} ." in calls
        )
        assert f"push {ref}" in calls


def _shell_scripts() -> dict[str, str]:
    """Every shell script of the pipeline: the script, each Tekton step and each workflow
    ``run``, their substitutions (Tekton's ``$(...)``, GitHub's ``${{ }}``) read as the
    variables they stand for."""
    scripts = {"pipeline.sh": SCRIPT.read_text()}
    for obj in _tekton():
        for step in obj["spec"].get("steps", []):
            text = re.sub(r"\$\((params|workspaces)\.[\w.-]+\)", "${TEKTON}", step["script"])
            scripts[f"{obj['metadata']['name']}/{step['name']}"] = text
    for name, job in _workflow()["jobs"].items():
        for index, step in enumerate(job["steps"]):
            if "run" in step:
                text = re.sub(r"\$\{\{[^}]+\}\}", "${EXPRESSION}", step["run"])
                scripts[f"{name}/{index}"] = "#!/bin/bash\n" + text
    return scripts


def test_every_shell_step_passes_shellcheck(tmp_path: Path) -> None:
    shellcheck = shutil.which("shellcheck") or str(Path(sys.executable).parent / "shellcheck")
    assert Path(shellcheck).exists(), "shellcheck is installed by the dev extra (./run setup)"
    files = []
    for index, (where, text) in enumerate(_shell_scripts().items()):
        file = tmp_path / f"{index}.sh"
        file.write_text(text, encoding="utf-8")
        files.append((where, file))
    checked = subprocess.run(
        [shellcheck, "--severity", "style", *(str(f) for _, f in files)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    names = {str(f): where for where, f in files}
    report = re.sub(r"\S+\.sh", lambda m: names.get(m.group(0), m.group(0)), checked.stdout)
    assert checked.returncode == 0, report
