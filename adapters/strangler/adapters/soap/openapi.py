"""``wsdl2openapi``: the OpenAPI 3.1 document of a WSDL, without running a server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from strangler.spec.soap import SoapSystem

__all__ = ["system_name_for", "wsdl_to_openapi"]


def system_name_for(wsdl: str) -> str:
    """A system name derived from the WSDL's file name (``BLZService.wsdl`` → ``blzservice``)."""
    stem = Path(wsdl.split("?")[0].rstrip("/")).stem or "service"
    name = re.sub(r"[^A-Za-z0-9_-]", "_", stem).lower()
    return name if name[:1].isalpha() else f"s_{name}"


def wsdl_to_openapi(
    wsdl: str, *, system: str | None = None, cache_dir: Path | None = None
) -> dict[str, Any]:
    """The OpenAPI document the REST API for ``wsdl`` would serve."""
    from strangler.adapters.soap.adapter import SoapAdapter
    from strangler.rest.app import build_app

    name = system or system_name_for(wsdl)
    spec = SoapSystem(kind="soap", wsdl=wsdl)
    adapter = SoapAdapter(name, spec, cache_dir=cache_dir)
    app = build_app([adapter], title=f"{name} (from {Path(wsdl).name})")
    document: dict[str, Any] = app.openapi()
    return document
