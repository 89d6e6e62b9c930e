"""One role's Kubernetes objects: Deployment, Service, HPA, PodDisruptionBudget, NetworkPolicy.

Every pod runs ``strangler serve`` over its role's spec (mounted from the spec
ConfigMap at :data:`SPEC_DIR`), as a non-root user with a read-only root
filesystem, no privilege escalation and no capabilities; what it writes goes to
two ``emptyDir`` volumes (``/tmp`` and the cache folder). Liveness is
``/healthz`` (the process answers), readiness ``/readyz`` (every component is
up); a start-up probe gives a slow first WSDL fetch time before liveness
counts. Each ``${VAR}`` of the role's spec is an environment variable taken
from the Secret ``<name>-secrets`` (optional where the spec gives a default):
the manifests name keys, never values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from strangler.deploy.roles import MODELS_DIR, Role

__all__ = ["CACHE_DIR", "PORT", "SPEC_DIR", "Sizing", "role_objects", "workload_labels"]

PORT = 8000
SPEC_DIR = "/etc/strangler"
CACHE_DIR = "/var/lib/strangler/cache"

Obj = dict[str, Any]


@dataclass(frozen=True)
class Sizing:
    """A role's resource requests and limits, and its replica bounds."""

    cpu: str
    memory: str
    cpu_limit: str
    memory_limit: str
    replicas: int = 2
    max_replicas: int = 10


SIZES = {
    "adapters": Sizing("100m", "256Mi", "1", "512Mi"),
    "gateway": Sizing("200m", "256Mi", "2", "512Mi"),
    "inference": Sizing("250m", "512Mi", "2", "1Gi"),
}


def workload_labels(name: str, role: str) -> dict[str, str]:
    """The labels that select a role's pods."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/component": role}


def role_objects(name: str, role: Role, spec_keys: dict[str, str]) -> dict[str, Obj]:
    """File name → object, for one role; ``spec_keys`` maps ConfigMap keys to mounted paths."""
    full = f"{name}-{role.name}"
    return {
        f"{role.name}-deployment.yaml": deployment(name, role, spec_keys),
        f"{role.name}-service.yaml": _service(name, role.name),
        f"{role.name}-hpa.yaml": _hpa(full, SIZES[role.name]),
        f"{role.name}-pdb.yaml": _pdb(name, role.name),
        f"{role.name}-networkpolicy.yaml": _network_policy(name, role.name),
    }


def deployment(name: str, role: Role, spec_keys: dict[str, str]) -> Obj:
    """The role's Deployment (its pod template is reused by the Knative Service)."""
    sizing = SIZES[role.name]
    selector = workload_labels(name, role.name)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"{name}-{role.name}", "labels": selector},
        "spec": {
            "replicas": sizing.replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0},
            },
            "template": {
                "metadata": {
                    "labels": selector,
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(PORT),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": pod_spec(name, role, spec_keys),
            },
        },
    }


def pod_spec(name: str, role: Role, spec_keys: dict[str, str]) -> Obj:
    """What every pod of the role runs."""
    sizing = SIZES[role.name]
    mounts = [
        {"name": "spec", "mountPath": SPEC_DIR, "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "cache", "mountPath": CACHE_DIR},
    ]
    volumes: list[Obj] = [
        {
            "name": "spec",
            "configMap": {
                "name": f"{name}-spec",
                "items": [{"key": k, "path": p} for k, p in sorted(spec_keys.items())],
            },
        },
        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
        {"name": "cache", "emptyDir": {"sizeLimit": "256Mi"}},
    ]
    if role.models:
        mounts.append({"name": "models", "mountPath": MODELS_DIR, "readOnly": True})
        volumes.append({"name": "models", "persistentVolumeClaim": {"claimName": f"{name}-models"}})
    container = {
        "name": "strangler",
        "image": f"strangler-{role.name}",
        "imagePullPolicy": "IfNotPresent",
        "args": [
            "serve",
            "--config",
            f"{SPEC_DIR}/{role.name}.yaml",
            "--host",
            "0.0.0.0",
            "--port",
            str(PORT),
        ],
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": _environment(name, role),
        "resources": {
            "requests": {"cpu": sizing.cpu, "memory": sizing.memory},
            "limits": {"cpu": sizing.cpu_limit, "memory": sizing.memory_limit},
        },
        "startupProbe": _probe("/healthz", period=2, failures=60),
        "livenessProbe": _probe("/healthz", period=10, failures=3),
        "readinessProbe": _probe("/readyz", period=5, failures=2),
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": mounts,
    }
    return {
        "serviceAccountName": name,
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationGracePeriodSeconds": 30,
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": workload_labels(name, role.name)},
            }
        ],
        "containers": [container],
        "volumes": volumes,
    }


def _environment(name: str, role: Role) -> list[Obj]:
    env: list[Obj] = [
        {"name": "STRANGLER_CACHE_DIR", "value": CACHE_DIR},
        {"name": "HOME", "value": "/tmp"},
        {"name": "STRANGLER_LOG_FORMAT", "value": "json"},
        {"name": "OTEL_SERVICE_NAME", "value": f"{name}-{role.name}"},
        {
            "name": "OTEL_EXPORTER_OTLP_ENDPOINT",
            "valueFrom": {
                "configMapKeyRef": {
                    "name": f"{name}-telemetry",
                    "key": "OTEL_EXPORTER_OTLP_ENDPOINT",
                    "optional": True,
                }
            },
        },
    ]
    for variable, defaulted in sorted(role.variables.items()):
        ref = {"name": f"{name}-secrets", "key": variable, "optional": defaulted}
        env.append({"name": variable, "valueFrom": {"secretKeyRef": ref}})
    return env


def _probe(path: str, *, period: int, failures: int) -> Obj:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def _service(name: str, role: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"{name}-{role}", "labels": workload_labels(name, role)},
        "spec": {
            "type": "ClusterIP",
            "selector": workload_labels(name, role),
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def _hpa(full: str, sizing: Sizing) -> Obj:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": full},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": full},
            "minReplicas": sizing.replicas,
            "maxReplicas": sizing.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
        },
    }


def _pdb(name: str, role: str) -> Obj:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": f"{name}-{role}"},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": workload_labels(name, role)}},
    }


def _network_policy(name: str, role: str) -> Obj:
    """The gateway takes traffic from anywhere; the other roles from their namespace and
    namespaces labelled ``strangler.io/client: "true"`` (and ``monitoring``, to scrape)."""
    port = [{"protocol": "TCP", "port": "http"}]
    if role == "gateway":
        ingress: list[Obj] = [{"ports": port}]
    else:
        ingress = [
            {
                "from": [
                    {"podSelector": {}},
                    {"namespaceSelector": {"matchLabels": {"strangler.io/client": "true"}}},
                    {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
                        }
                    },
                ],
                "ports": port,
            }
        ]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"{name}-{role}"},
        "spec": {
            "podSelector": {"matchLabels": workload_labels(name, role)},
            "policyTypes": ["Ingress"],
            "ingress": ingress,
        },
    }
