"""The public API is small, listed once per module in ``__all__``, and importable."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "strangler.errors": {
        "StranglerError",
        "SpecError",
        "SpecProblem",
        "SystemLoadError",
        "UnknownOperation",
        "InvalidInput",
        "InputProblem",
        "LegacyError",
        "LegacyUnavailable",
        "LegacyTimeout",
        "LegacyProtocolError",
        "LegacyFault",
        "FaultInfo",
    },
    "strangler.spec": {"Spec", "load_spec", "parse_spec"},
    "strangler.rest": {"build_adapters", "build_app", "create_app"},
    "strangler.adapters.base": {"ADAPTER_CLASSES", "Adapter", "Operation", "adapter_class"},
    "strangler.adapters.soap": {"SoapAdapter"},
    "strangler.adapters.rpc": {"XmlRpcAdapter", "JsonRpcAdapter"},
    "strangler.adapters.db": {"DatabaseAdapter"},
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_all_lists_the_public_api(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = set(module.__all__)
    assert PUBLIC[module_name] <= exported
    for name in exported:
        assert hasattr(module, name), f"{module_name}.{name}"


def test_every_registered_adapter_kind_has_a_spec_model() -> None:
    from typing import get_args

    from strangler.adapters.base import ADAPTER_CLASSES
    from strangler.spec.models import System

    union = get_args(System)[0]
    kinds = {get_args(model.model_fields["kind"].annotation)[0] for model in get_args(union)}
    assert kinds == set(ADAPTER_CLASSES)
