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
        "NotFound",
        "RowNotFound",
        "NotAllowed",
        "UnknownModel",
        "UpstreamError",
        "UpstreamTimeout",
        "BadTensor",
        "ModelError",
        "ModelOverloaded",
    },
    "strangler.spec": {"Spec", "load_spec", "parse_spec"},
    "strangler.rest": {"build_app", "create_app"},
    "strangler.platform": {
        "BuildContext",
        "Component",
        "Health",
        "Kind",
        "Operation",
        "OperationSource",
        "Part",
        "Platform",
        "RouteSource",
        "FastRoutes",
        "build_platform",
        "register_kind",
        "register_part",
    },
    "strangler.adapters.base": {"Adapter", "Operation"},
    "strangler.adapters.calls": {"LegacyCaller", "Breakers", "Reply", "Usable"},
    "strangler.adapters.soap": {"SoapAdapter"},
    "strangler.adapters.rpc": {"XmlRpcAdapter", "JsonRpcAdapter"},
    "strangler.adapters.db": {"DatabaseAdapter"},
    "strangler.etl": {
        "FeatureStore",
        "Progress",
        "QualityFailed",
        "RunReport",
        "open_source",
        "run_view",
    },
    "strangler.inference": {"ModelServer", "ServedModel"},
    "strangler.adapters.soap.safe_xml": {"ExternalResourceRefused", "declares_dtd", "safe_parser"},
    "strangler.shim.hardening": {"EnvelopeRefused", "parse_envelope"},
    "strangler.shim.security": {
        "AuthenticationFailed",
        "Authenticator",
        "NoncesFull",
        "remove_security_header",
    },
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_all_lists_the_public_api(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = set(module.__all__)
    assert PUBLIC[module_name] <= exported
    for name in exported:
        assert hasattr(module, name), f"{module_name}.{name}"


def test_every_registered_kind_has_its_spec_model_and_adapter() -> None:
    from typing import get_args

    from strangler.adapters.base import Adapter
    from strangler.platform.registry import kinds, load

    registered = kinds()
    assert {"soap", "xmlrpc", "jsonrpc", "database"} <= set(registered)
    for name, kind in registered.items():
        model = load(kind.spec)
        assert get_args(model.model_fields["kind"].annotation) == (name,)
        adapter = load(kind.adapter)
        assert {"operations", "lookup", "invoke", "start", "close", "health"} <= set(dir(adapter))
        assert issubclass(adapter, object) and Adapter is not None


def test_the_core_lists_no_kind_or_part_by_name() -> None:
    """Kinds and parts register themselves; the edge, the spec and the CLI name none."""
    from pathlib import Path

    root = Path(__file__).parents[1] / "core" / "strangler"
    for path in [
        root / "rest" / "app.py",
        root / "spec" / "models.py",
        root / "cli" / "__init__.py",
    ]:
        text = path.read_text(encoding="utf-8")
        for name in ("strangler.adapters", "strangler.demo", "SoapAdapter", "DatabaseAdapter"):
            assert name not in text, f"{path.name} names {name}"


def test_every_install_hint_names_an_extra_that_exists() -> None:
    import tomllib
    from pathlib import Path

    from strangler.platform.registry import kinds, load, parts

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    extras = set(project["project"]["optional-dependencies"])
    named = {k.extra for k in kinds().values()} | {p.extra for p in parts() if p.extra}
    assert named <= extras, named - extras
    with pytest.raises(ImportError, match=r"pip install 'strangler\[db\]'"):
        load("strangler_no_such_module:Thing", extra="db")
