"""``python -m strangler.demo.inventory``: run the inventory server in the foreground.

Prints one line with the base URL, then serves until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

from collections.abc import Sequence

from strangler.demo.inventory.server import start_inventory_server
from strangler.demo.serving import foreground_parser, run_in_foreground

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, serve until interrupted, return the exit status."""
    parser = foreground_parser(
        "python -m strangler.demo.inventory", "Run the demo legacy SOAP InventoryService.", 8001
    )
    parser.add_argument("--username", help="user for /wsse/soap11 and /basic/soap11")
    parser.add_argument("--password", help="password for /wsse/soap11 and /basic/soap11")
    args = parser.parse_args(argv)
    if (args.username is None) != (args.password is None):
        parser.error("--username and --password go together")
    return run_in_foreground(
        lambda: start_inventory_server(
            args.host, args.port, username=args.username, password=args.password
        ),
        lambda server: f"InventoryService listening on {server.base_url} (WSDL {server.wsdl_url})",
    )


if __name__ == "__main__":
    raise SystemExit(main())
