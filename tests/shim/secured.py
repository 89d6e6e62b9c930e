"""A real shim over the demo's legacy InventoryService, open and secured.

One app serves the same WSDL twice: ``/InventoryService`` asks for nothing,
``/SecuredInventory`` for a UsernameToken (digest or text) or HTTP basic, with the
passwords taken from the environment through the spec's ``${VAR}`` (the values below
never appear in the spec text). ``state`` names a database for the used nonces, so two
apps over one database stand for two replicas.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from strangler.demo.inventory import InventoryServer
from strangler.rest.app import create_app
from strangler.spec import parse_spec
from tests.servers import run_app

__all__ = ["BASIC", "CLERK", "ENV", "running_shim"]

WSDL = Path(__file__).parents[2] / "core" / "strangler" / "demo" / "inventory" / "inventory.wsdl"
CLERK = ("clerk", "c1erk-pass")
BASIC = ("batch", "b4tch-pass")
ENV = {"CLERK_PASSWORD": CLERK[1], "BATCH_PASSWORD": BASIC[1]}

_SPEC = """
systems:
  inventory: {{kind: soap, wsdl: {wsdl}, address: "{address}", timeout_s: 5}}
  secured: {{kind: soap, wsdl: {wsdl}, address: "{address}", timeout_s: 5}}
shim:
  services:
    inventory: {{path: /InventoryService}}
    secured:
      path: /SecuredInventory
      security:
        username_token:
          users: {{clerk: "${{CLERK_PASSWORD}}"}}
          digest: true
          text: true
          max_age_s: 300
        basic: {{users: {{batch: "${{BATCH_PASSWORD}}"}}}}
        state: "${{NONCE_STATE:-}}"
"""


@contextmanager
def running_shim(
    inventory: InventoryServer, folder: Path, *, state: str | None = None
) -> Iterator[str]:
    """The app's base URL while it runs."""
    folder.mkdir(parents=True, exist_ok=True)
    text = _SPEC.format(wsdl=WSDL, address=inventory.base_url)
    env = {**ENV, **({"NONCE_STATE": state} if state else {})}
    spec = parse_spec(text, filename="shim.yaml", base_dir=folder, env=env)
    with run_app(create_app(spec, cache_dir=folder)) as url:
        yield url
