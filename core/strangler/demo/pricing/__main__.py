"""``python -m strangler.demo.pricing``: run the pricing service in the foreground.

Prints one line with the XML-RPC URL, then serves until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Sequence
from types import FrameType

from strangler.demo.pricing.server import start_pricing_server

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, serve until interrupted, return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m strangler.demo.pricing",
        description="Run the demo legacy XML-RPC pricing service.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8002, help="port, 0 for any free one (default %(default)s)"
    )
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    server = start_pricing_server(args.host, args.port)
    try:
        print(f"PricingService (XML-RPC) listening on {server.url}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
