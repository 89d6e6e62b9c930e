"""``python -m strangler.demo.inventory``: run the inventory server in the foreground.

Prints one line with the base URL, then serves until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Sequence
from types import FrameType

from strangler.demo.inventory.server import start_inventory_server

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, serve until interrupted, return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m strangler.demo.inventory",
        description="Run the demo legacy SOAP InventoryService.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8001, help="port, 0 for any free one (default %(default)s)"
    )
    parser.add_argument("--username", help="user for /wsse/soap11 and /basic/soap11")
    parser.add_argument("--password", help="password for /wsse/soap11 and /basic/soap11")
    args = parser.parse_args(argv)
    if (args.username is None) != (args.password is None):
        parser.error("--username and --password go together")

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    server = start_inventory_server(
        args.host, args.port, username=args.username, password=args.password
    )
    try:
        print(
            f"InventoryService listening on {server.base_url} (WSDL {server.wsdl_url})", flush=True
        )
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
