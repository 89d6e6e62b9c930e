"""Argo CD Applications over the rendered overlays, for a GitOps path.

With ``--repo-url``, ``strangler render k8s`` also writes ``argocd/<env>.yaml``: an
Application per overlay that syncs ``<repo-path>/overlays/<env>`` from that repository
into the overlay's namespace (dev prunes and heals by itself; prod syncs when asked).
"""

from __future__ import annotations

from typing import Any

__all__ = ["application"]


def application(
    name: str, env: str, *, namespace: str, repo_url: str, path: str, revision: str
) -> dict[str, Any]:
    """The Argo CD Application of one overlay."""
    spec: dict[str, Any] = {
        "project": "default",
        "source": {"repoURL": repo_url, "targetRevision": revision, "path": path},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
        "syncPolicy": {"syncOptions": ["CreateNamespace=true"]},
    }
    if env == "dev":
        spec["syncPolicy"]["automated"] = {"prune": True, "selfHeal": True}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": f"{name}-{env}", "namespace": "argocd"},
        "spec": spec,
    }
