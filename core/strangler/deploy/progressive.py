"""Optional manifests for clusters that run Argo Rollouts or Knative, as Kustomize components.

* ``argo-rollouts``: a Rollout per role that takes over the role's Deployment
  (``workloadRef``) and moves a new image in by steps, with an AnalysisTemplate
  whose PromQL reads strangler's own metrics (the role's error rate and p99
  latency, of the new pods only); the HPA scales the Rollout instead.
* ``knative``: the inference role as a Knative Service that scales to zero
  when idle, in place of its Deployment, HPA and PodDisruptionBudget.

The queries select the new pods by ``rollouts_pod_template_hash`` and
``namespace``: labels that the Kubernetes scrape configuration in
``deploy/prometheus/`` copies from the pod.
"""

from __future__ import annotations

from typing import Any

from strangler.deploy.roles import Role
from strangler.deploy.workload import pod_spec, workload_labels

__all__ = ["ANALYSIS_METRICS", "analysis_template", "knative_service", "rollout"]

Obj = dict[str, Any]

ANALYSIS_METRICS = {
    "adapters": (
        "strangler_operation_requests_total",
        "strangler_operation_errors_total",
        "strangler_operation_seconds_bucket",
    ),
    "gateway": (
        "strangler_gateway_requests_total",
        "strangler_gateway_errors_total",
        "strangler_gateway_request_seconds_bucket",
    ),
    "inference": (
        "strangler_model_requests_total",
        "strangler_model_errors_total",
        "strangler_model_request_seconds_bucket",
    ),
}
"""Per role: the requests counter, the errors counter and the latency histogram."""

MAX_ERROR_RATE = 0.01
MAX_P99_S = 0.5
_SELECT = 'namespace="{{args.namespace}}",rollouts_pod_template_hash="{{args.canary-hash}}"'


def analysis_template(name: str, role: str) -> Obj:
    """The checks a new image of ``role`` must pass at each step."""
    requests, errors, latency = ANALYSIS_METRICS[role]
    error_rate = (
        f"(sum(rate({errors}{{{_SELECT}}}[2m])) or vector(0))"
        f" / clamp_min(sum(rate({requests}{{{_SELECT}}}[2m])), 1e-9)"
    )
    p99 = f"histogram_quantile(0.99, sum by (le) (rate({latency}{{{_SELECT}}}[2m])))"
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": f"{name}-{role}"},
        "spec": {
            "args": [
                {"name": "canary-hash"},
                {"name": "namespace"},
                {"name": "prometheus", "value": "http://prometheus.monitoring.svc:9090"},
            ],
            "metrics": [
                _check("error-rate", error_rate, f"result[0] <= {MAX_ERROR_RATE}"),
                _check(
                    "p99-seconds",
                    p99,
                    f"len(result) == 0 || isNaN(result[0]) || result[0] <= {MAX_P99_S}",
                ),
            ],
        },
    }


def _check(metric: str, query: str, condition: str) -> Obj:
    return {
        "name": metric,
        "interval": "1m",
        "count": 5,
        "failureLimit": 1,
        "successCondition": condition,
        "provider": {"prometheus": {"address": "{{args.prometheus}}", "query": query}},
    }


def rollout(name: str, role: str) -> Obj:
    """A Rollout that takes the role's Deployment over and checks each step."""
    full = f"{name}-{role}"
    analysis = {
        "templates": [{"templateName": full}],
        "startingStep": 1,
        "args": [
            {"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
            {"name": "namespace", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        ],
    }
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": full, "labels": workload_labels(name, role)},
        "spec": {
            "replicas": 2,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": workload_labels(name, role)},
            "workloadRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": full,
                "scaleDown": "progressively",
            },
            "strategy": {
                "canary": {
                    "analysis": analysis,
                    "steps": [
                        {"setWeight": 20},
                        {"pause": {"duration": "5m"}},
                        {"setWeight": 50},
                        {"pause": {"duration": "5m"}},
                    ],
                }
            },
        },
    }


def knative_service(name: str, role: Role, spec_keys: dict[str, str]) -> Obj:
    """The inference role as a Knative Service scaling to zero between bursts."""
    spec = pod_spec(name, role, spec_keys)
    spec.pop("topologySpreadConstraints")
    spec.pop("terminationGracePeriodSeconds")
    container = spec["containers"][0]
    container.pop("startupProbe")
    container["ports"] = [{"name": "http1", "containerPort": 8000}]
    for probe in ("livenessProbe", "readinessProbe"):  # Knative takes the serving port only
        container[probe]["httpGet"]["port"] = 8000
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": f"{name}-{role.name}", "labels": workload_labels(name, role.name)},
        "spec": {
            "template": {
                "metadata": {
                    "labels": workload_labels(name, role.name),
                    "annotations": {
                        "autoscaling.knative.dev/min-scale": "0",
                        "autoscaling.knative.dev/max-scale": "10",
                        "autoscaling.knative.dev/target": "50",
                    },
                },
                "spec": spec,
            }
        },
    }
