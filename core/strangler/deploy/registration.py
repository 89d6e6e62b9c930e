"""Deployment registers itself as a part: the ``strangler render k8s`` command.

Named by the ``strangler.parts`` entry point ``deploy`` in ``pyproject.toml``.
It has no spec section and builds nothing; it orders after the gateway so that
its command joins the gateway's ``render`` group.
"""

from __future__ import annotations

from strangler.platform.registry import Part

__all__ = ["DEPLOY"]

DEPLOY = Part(name="deploy", cli="strangler.deploy.cli:register_cli", order=900)
