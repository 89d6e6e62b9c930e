"""``strangler render k8s``: a Kustomize tree rendered from the spec.

.. code-block:: text

    base/                  a Deployment, Service, HPA, PodDisruptionBudget and
                           NetworkPolicy per role (roles.py), the ServiceAccount,
                           the spec ConfigMap (generated: a change rolls the pods),
                           the model repository's claim when models are served;
                           base/spec/ is laid out as the pods see /etc/strangler
                           (compose mounts it as it is)
    overlays/dev/          one replica, namespace strangler-dev, images :dev
    overlays/prod/         three replicas and up, namespace strangler
    components/argo-rollouts/   a Rollout and AnalysisTemplate per role
    components/knative/    the inference role as a scale-to-zero Knative Service
    SECRETS.md             the Secret's keys the pods read (never values)
    argocd/                with a repository URL: an Argo CD Application per overlay

Add a component to an overlay with ``components: [../../components/knative]``.
:func:`render_k8s` is pure: it returns file name → text; the command writes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from strangler.deploy.gitops import application
from strangler.deploy.progressive import analysis_template, knative_service, rollout
from strangler.deploy.roles import Role, split_roles
from strangler.deploy.workload import SPEC_DIR, role_objects

__all__ = ["render_k8s"]

Obj = dict[str, Any]
_KUSTOMIZE = "kustomize.config.k8s.io/v1beta1"


def render_k8s(
    spec_path: Path,
    *,
    name: str = "strangler",
    tag: str = "latest",
    repo_url: str | None = None,
    repo_path: str = ".",
    revision: str = "HEAD",
) -> dict[str, str]:
    """Every file of the tree for the spec at ``spec_path``; ``tag``: the prod images' tag.
    With ``repo_url``, Argo CD Applications sync the overlays from ``repo_path`` there."""
    roles = split_roles(spec_path)
    keys = _spec_keys(roles)
    files: dict[str, str] = {}
    resources: list[str] = []

    def add(path: str, obj: Obj) -> None:
        files[f"base/{path}"] = dump(obj)
        resources.append(path)

    add("serviceaccount.yaml", _service_account(name))
    for role in roles:
        for path, obj in role_objects(name, role, keys).items():
            add(path, obj)
    if any(role.models for role in roles):
        add("models-pvc.yaml", _models_claim(name))
    generator: list[str] = []
    for role in roles:
        files[f"base/spec/{role.name}.yaml"] = role.text
        generator.append(f"{role.name}.yaml=spec/{role.name}.yaml")
    files["base/spec/strangler.yaml"] = spec_path.read_text(encoding="utf-8")
    generator.append("strangler.yaml=spec/strangler.yaml")
    for key, relative in sorted(keys.items()):
        if not key.startswith("files."):
            continue
        source = next(r.files[relative] for r in roles if relative in r.files)
        files[f"base/spec/{relative}"] = source.read_text(encoding="utf-8")
        generator.append(f"{key}=spec/{relative}")
    files["base/kustomization.yaml"] = dump(
        {
            "apiVersion": _KUSTOMIZE,
            "kind": "Kustomization",
            "labels": [
                {
                    "pairs": {"app.kubernetes.io/part-of": "strangler"},
                    "includeSelectors": False,
                    "includeTemplates": True,
                }
            ],
            "resources": resources,
            "configMapGenerator": [{"name": f"{name}-spec", "files": generator}],
        }
    )
    files.update(_overlay("dev", roles, namespace=f"{name}-dev", tag="dev", replicas=1, most=2))
    files.update(_overlay("prod", roles, namespace=name, tag=tag, replicas=3, most=20))
    files.update(_rollouts(name, roles))
    inference = next((r for r in roles if r.name == "inference"), None)
    if inference is not None:
        files.update(_knative(name, inference, keys))
    files["SECRETS.md"] = _secrets_note(name, roles)
    if repo_url is not None:
        for env, namespace in (("dev", f"{name}-dev"), ("prod", name)):
            path = f"{repo_path.rstrip('/')}/overlays/{env}".removeprefix("./")
            app = application(
                name, env, namespace=namespace, repo_url=repo_url, path=path, revision=revision
            )
            files[f"argocd/{env}.yaml"] = dump(app)
    return files


def dump(obj: Obj) -> str:
    """One object as YAML, keys in the order given."""
    from io import StringIO

    yaml = YAML(typ="rt")
    yaml.width = 4096
    out = StringIO()
    yaml.dump(obj, out)
    return out.getvalue()


def _spec_keys(roles: list[Role]) -> dict[str, str]:
    """ConfigMap key → path under :data:`SPEC_DIR`: each role's spec, then the files."""
    keys = {f"{r.name}.yaml": f"{r.name}.yaml" for r in roles}
    keys["strangler.yaml"] = "strangler.yaml"
    for role in roles:
        for relative in role.files:
            keys["files." + relative.replace("/", ".")] = relative
    return keys


def _service_account(name: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name},
        "automountServiceAccountToken": False,
    }


def _models_claim(name: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": f"{name}-models",
            "annotations": {
                "strangler.io/contents": "the model repository: <name>/<version>/model.onnx"
            },
        },
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }


def _overlay(
    env: str, roles: list[Role], *, namespace: str, tag: str, replicas: int, most: int
) -> dict[str, str]:
    scale = [{"op": "replace", "path": "/spec/replicas", "value": replicas}]
    bounds = [
        {"op": "replace", "path": "/spec/minReplicas", "value": replicas},
        {"op": "replace", "path": "/spec/maxReplicas", "value": most},
    ]
    kustomization = {
        "apiVersion": _KUSTOMIZE,
        "kind": "Kustomization",
        "namespace": namespace,
        "resources": ["namespace.yaml", "../../base"],
        "labels": [{"pairs": {"strangler.io/environment": env}, "includeSelectors": False}],
        "images": [{"name": f"strangler-{r.name}", "newTag": tag} for r in roles],
        "patches": [
            {"target": {"kind": "Deployment"}, "patch": dump_inline(scale)},
            {"target": {"kind": "HorizontalPodAutoscaler"}, "patch": dump_inline(bounds)},
        ],
    }
    namespace_obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    return {
        f"overlays/{env}/kustomization.yaml": dump(kustomization),
        f"overlays/{env}/namespace.yaml": dump(namespace_obj),
    }


def dump_inline(value: list[Obj]) -> str:
    """A JSON 6902 patch as the YAML text Kustomize takes inline."""
    import json

    return json.dumps(value)


def _rollouts(name: str, roles: list[Role]) -> dict[str, str]:
    files: dict[str, str] = {}
    resources: list[str] = []
    patches: list[Obj] = []
    for role in roles:
        files[f"components/argo-rollouts/{role.name}-rollout.yaml"] = dump(rollout(name, role.name))
        files[f"components/argo-rollouts/{role.name}-analysis.yaml"] = dump(
            analysis_template(name, role.name)
        )
        resources += [f"{role.name}-rollout.yaml", f"{role.name}-analysis.yaml"]
        target = [
            {
                "op": "replace",
                "path": "/spec/scaleTargetRef",
                "value": {
                    "apiVersion": "argoproj.io/v1alpha1",
                    "kind": "Rollout",
                    "name": f"{name}-{role.name}",
                },
            }
        ]
        patches.append(
            {
                "target": {"kind": "HorizontalPodAutoscaler", "name": f"{name}-{role.name}"},
                "patch": dump_inline(target),
            }
        )
    files["components/argo-rollouts/kustomization.yaml"] = dump(
        {
            "apiVersion": "kustomize.config.k8s.io/v1alpha1",
            "kind": "Component",
            "resources": resources,
            "patches": patches,
        }
    )
    return files


def _knative(name: str, role: Role, keys: dict[str, str]) -> dict[str, str]:
    full = f"{name}-{role.name}"
    removed = [
        ("apps/v1", "Deployment"),
        ("v1", "Service"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("policy/v1", "PodDisruptionBudget"),
    ]
    patches = [
        {  # a strategic merge patch names its object by exact group, version and kind
            "patch": dump(
                {"$patch": "delete", "apiVersion": api, "kind": kind, "metadata": {"name": full}}
            ),
        }
        for api, kind in removed
    ]
    return {
        "components/knative/inference-service.yaml": dump(knative_service(name, role, keys)),
        "components/knative/kustomization.yaml": dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1alpha1",
                "kind": "Component",
                "resources": ["inference-service.yaml"],
                "patches": patches,
            }
        ),
    }


def _secrets_note(name: str, roles: list[Role]) -> str:
    lines = [
        f"# Secret `{name}-secrets`",
        "",
        "The pods read each `${VAR}` of their spec from this Secret's key of the same name.",
        "The manifests name the keys only; create the Secret yourself, e.g.",
        "",
        f"    kubectl create secret generic {name}-secrets --from-literal=KEY=value ...",
        "",
        "| key | read by | required |",
        "| --- | --- | --- |",
    ]
    found: dict[str, tuple[list[str], bool]] = {}
    for role in roles:
        for variable, defaulted in role.variables.items():
            users, required = found.get(variable, ([], False))
            found[variable] = ([*users, role.name], required or not defaulted)
    for variable, (users, required) in sorted(found.items()):
        lines.append(f"| `{variable}` | {', '.join(users)} | {'yes' if required else 'no'} |")
    if not found:
        lines.append("| (none) | | |")
    lines += [
        "",
        f"The spec is mounted at `{SPEC_DIR}` (ConfigMap `{name}-spec`); set",
        f"`OTEL_EXPORTER_OTLP_ENDPOINT` in ConfigMap `{name}-telemetry` to export traces.",
        "",
    ]
    return "\n".join(lines)
