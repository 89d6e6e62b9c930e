"""``strangler render k8s``: the demo spec's Kustomize tree, built by kustomize (kubectl's),
every object validated against Kubernetes 1.37's schemas (``kubernetes-validate``,
offline, strict), each role's mounted spec served for real over the running estate."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from typer.testing import CliRunner

from strangler.cli import app as cli
from strangler.demo.estate import DEMO_SPEC, running_estate
from strangler.deploy.progressive import ANALYSIS_METRICS
from strangler.deploy.roles import split_roles
from strangler.rest.app import build_app, create_app
from strangler.spec import load_spec

K8S_VERSION = "1.37"
CUSTOM = {
    ("argoproj.io/v1alpha1", "Rollout"),
    ("argoproj.io/v1alpha1", "AnalysisTemplate"),
    ("serving.knative.dev/v1", "Service"),
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("k8s") / "demo"
    result = CliRunner().invoke(cli, ["render", "k8s", str(DEMO_SPEC), str(out)])
    assert result.exit_code == 0, result.output
    return out


def _kustomize(folder: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with its kustomize) is on the machine image"
    built = subprocess.run(
        [kubectl, "kustomize", str(folder)], capture_output=True, text=True, timeout=120
    )
    assert built.returncode == 0, built.stderr
    return [doc for doc in yaml.safe_load_all(built.stdout) if doc]


def _with_components(rendered: Path, tmp_path: Path, *components: str) -> Path:
    """A kustomization over the prod overlay plus ``components`` (as a user adds them)."""
    folder = rendered / "overlays" / f"prod-{'-'.join(components)}"
    folder.mkdir(exist_ok=True)
    listed = ", ".join(f"../../components/{c}" for c in components)
    (folder / "kustomization.yaml").write_text(
        f"resources: [../prod]\ncomponents: [{listed}]\n", encoding="utf-8"
    )
    return folder


def _pod_specs(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for obj in objects:
        template = obj.get("spec", {}).get("template")
        if template and "containers" in template.get("spec", {}):
            yield f"{obj['kind']}/{obj['metadata']['name']}", template["spec"]


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_every_object_of_each_overlay_validates(rendered: Path, overlay: str) -> None:
    objects = _kustomize(rendered / "overlays" / overlay)
    kinds = {obj["kind"] for obj in objects}
    assert {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ConfigMap",
        "ServiceAccount",
        "Namespace",
    } <= kinds
    assert "Secret" not in kinds  # referenced by key, never rendered with values
    for obj in objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    namespace = "strangler-dev" if overlay == "dev" else "strangler"
    deployments = [o for o in objects if o["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == {
        "strangler-adapters",
        "strangler-gateway",
        "strangler-inference",
    }
    for deployment in deployments:
        assert deployment["metadata"]["namespace"] == namespace
        assert deployment["spec"]["replicas"] == (1 if overlay == "dev" else 3)


def test_components_build_and_their_pods_validate(rendered: Path, tmp_path: Path) -> None:
    objects = _kustomize(_with_components(rendered, tmp_path, "argo-rollouts", "knative"))
    found = {(o["apiVersion"], o["kind"]) for o in objects}
    assert found >= CUSTOM
    for obj in objects:
        if (obj["apiVersion"], obj["kind"]) not in CUSTOM:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    # Knative replaces the inference Deployment; its pod spec is a core PodSpec.
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert ("Deployment", "strangler-inference") not in names
    knative = next(o for o in objects if o["apiVersion"] == "serving.knative.dev/v1")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    kubernetes_validate.validate({**pod, "spec": knative["spec"]["template"]["spec"]}, "1.37")
    assert (
        knative["spec"]["template"]["metadata"]["annotations"]["autoscaling.knative.dev/min-scale"]
        == "0"
    )
    # The HPAs scale the Rollouts, which take the Deployments over.
    for hpa in (o for o in objects if o["kind"] == "HorizontalPodAutoscaler"):
        assert hpa["spec"]["scaleTargetRef"]["kind"] == "Rollout"
    for rollout in (o for o in objects if o["kind"] == "Rollout"):
        ref = rollout["spec"]["workloadRef"]
        assert ("Deployment", ref["name"]) in names or ref["name"] == "strangler-inference"


def test_pods_are_locked_down_and_probe_the_real_health_routes(rendered: Path) -> None:
    objects = _kustomize(rendered / "overlays" / "prod")
    app_paths = {getattr(r, "path", "") for r in build_app([]).routes}
    assert {"/healthz", "/readyz", "/metrics"} <= app_paths
    for where, pod in _pod_specs(objects):
        assert pod["securityContext"]["runAsNonRoot"] is True, where
        assert pod["automountServiceAccountToken"] is False, where
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert container["resources"]["requests"] and container["resources"]["limits"]
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
            writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
            assert writable == {"/tmp", "/var/lib/strangler/cache"}, where


def test_every_spec_variable_is_a_secret_reference(rendered: Path) -> None:
    objects = _kustomize(rendered / "overlays" / "prod")
    configmap = next(o for o in objects if o["kind"] == "ConfigMap")
    for where, pod in _pod_specs(objects):
        (container,) = pod["containers"]
        role = container["args"][container["args"].index("--config") + 1]
        text = configmap["data"][Path(role).name]
        used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
        assert used, where
        refs = {
            e["name"]: e["valueFrom"]["secretKeyRef"]
            for e in container["env"]
            if "secretKeyRef" in e.get("valueFrom", {})
        }
        assert set(refs) == used, where
        assert all(ref["name"] == "strangler-secrets" and ref["key"] for ref in refs.values())
    assert "DEMO_GATEWAY_STATE" in (rendered / "SECRETS.md").read_text()


def test_each_role_serves_its_share_of_the_spec_from_the_mounted_files(
    rendered: Path, tmp_path: Path
) -> None:
    """The ConfigMap laid out as the pods mount it; each role's spec loads from there and
    its app serves the routes of its sections, and together they serve the whole spec's."""
    objects = _kustomize(rendered / "overlays" / "prod")
    configmap = next(o for o in objects if o["kind"] == "ConfigMap")
    mounted = tmp_path / "etc-strangler"
    (_, pod), *_ = _pod_specs(objects)
    for item in pod["volumes"][0]["configMap"]["items"]:
        path = mounted / item["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(configmap["data"][item["key"]], encoding="utf-8")
    models = DEMO_SPEC.parent / "models"
    with running_estate(state_dir=tmp_path / "state") as estate:
        paths: dict[str, set[str]] = {}
        for role in ("adapters", "gateway", "inference"):
            text = (mounted / f"{role}.yaml").read_text()
            local = mounted / f"{role}-here.yaml"  # the model volume is this checkout's folder
            local.write_text(text.replace("/var/lib/strangler/models", str(models)))
            app = create_app(load_spec(local, env=estate.env), cache_dir=tmp_path / role)
            paths[role] = set(app.openapi()["paths"])
        whole = set(create_app(estate.spec, cache_dir=tmp_path / "whole").openapi()["paths"])
    assert any(p.startswith("/soap/inventory/") for p in paths["adapters"])
    assert not any(p.startswith("/v2/") for p in paths["adapters"])
    assert "/api/reorder-advice" in paths["gateway"]
    assert any(p.startswith("/v2/models/") for p in paths["inference"])
    assert not any(p.startswith("/soap/") for p in paths["inference"])
    assert set().union(*paths.values()) == whole


def test_analysis_queries_parse_and_name_the_roles_metrics(rendered: Path, tmp_path: Path) -> None:
    folder = rendered / "components" / "argo-rollouts"
    rules = []
    for role, names in ANALYSIS_METRICS.items():
        template = yaml.safe_load((folder / f"{role}-analysis.yaml").read_text())
        for index, metric in enumerate(template["spec"]["metrics"]):
            query = metric["provider"]["prometheus"]["query"]
            assert any(name in query for name in names)
            concrete = query.replace("{{args.namespace}}", "ns").replace(
                "{{args.canary-hash}}", "abc"
            )
            rules.append(f"      - record: check:{role}:{index}\n        expr: '{concrete}'")
    file = tmp_path / "analysis-rules.yaml"
    file.write_text("groups:\n  - name: analysis\n    rules:\n" + "\n".join(rules) + "\n")
    checked = subprocess.run(
        ["promtool", "check", "rules", str(file)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_roles_follow_the_spec_sections(tmp_path: Path) -> None:
    spec = tmp_path / "strangler.yaml"
    spec.write_text(
        "systems:\n  erp: {kind: database, url: '${ERP_URL}', tables: {T: {}}}\n",
        encoding="utf-8",
    )
    (role,) = split_roles(spec)
    assert role.name == "adapters" and role.variables == {"ERP_URL": False}
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["render", "k8s", str(spec), str(out)])
    assert result.exit_code == 0, result.output  # ERP_URL is the cluster's, not this machine's
    deployment = yaml.safe_load((out / "base" / "adapters-deployment.yaml").read_text())
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    ref = next(e for e in env if e["name"] == "ERP_URL")["valueFrom"]["secretKeyRef"]
    assert ref["optional"] is False
    assert not (out / "base" / "gateway-deployment.yaml").exists()
    assert not (out / "components" / "knative").exists()


def test_a_bad_spec_is_refused_with_its_line(tmp_path: Path) -> None:
    spec = tmp_path / "strangler.yaml"
    spec.write_text("systems:\n  erp: {kind: database, url: 'nope', tables: {T: {}}}\n")
    result = CliRunner().invoke(cli, ["render", "k8s", str(spec), str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "strangler.yaml:2" in result.output
    empty = tmp_path / "empty.yaml"
    empty.write_text("version: 1\n")
    result = CliRunner().invoke(cli, ["render", "k8s", str(empty), str(tmp_path / "out2")])
    assert result.exit_code == 1 and "nothing to deploy" in result.output


def test_argo_cd_applications_sync_the_overlays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = [
        "render",
        "k8s",
        str(DEMO_SPEC),
        "deploy/k8s",
        "--repo-url",
        "https://git.example/estate.git",
    ]
    result = CliRunner().invoke(cli, [*args, "--revision", "main"])
    assert result.exit_code == 0, result.output
    for env, namespace in (("dev", "strangler-dev"), ("prod", "strangler")):
        app = yaml.safe_load((tmp_path / "deploy/k8s/argocd" / f"{env}.yaml").read_text())
        assert app["kind"] == "Application" and app["apiVersion"] == "argoproj.io/v1alpha1"
        source = app["spec"]["source"]
        assert source == {
            "repoURL": "https://git.example/estate.git",
            "targetRevision": "main",
            "path": f"deploy/k8s/overlays/{env}",
        }
        assert (tmp_path / source["path"] / "kustomization.yaml").is_file()
        assert app["spec"]["destination"]["namespace"] == namespace
        assert ("automated" in app["spec"]["syncPolicy"]) is (env == "dev")
    absolute = ["render", "k8s", str(DEMO_SPEC), str(tmp_path / "elsewhere")]
    refused = CliRunner().invoke(cli, [*absolute, "--repo-url", "https://git.example/e.git"])
    assert refused.exit_code == 2 and "--repo-path" in refused.output
