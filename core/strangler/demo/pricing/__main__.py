"""``python -m strangler.demo.pricing``: run the pricing service in the foreground.

Prints one line with the XML-RPC URL, then serves until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

from collections.abc import Sequence

from strangler.demo.pricing.server import start_pricing_server
from strangler.demo.serving import foreground_parser, run_in_foreground

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, serve until interrupted, return the exit status."""
    parser = foreground_parser(
        "python -m strangler.demo.pricing", "Run the demo legacy XML-RPC pricing service.", 8002
    )
    args = parser.parse_args(argv)
    return run_in_foreground(
        lambda: start_pricing_server(args.host, args.port),
        lambda server: f"PricingService (XML-RPC) listening on {server.url}",
    )


if __name__ == "__main__":
    raise SystemExit(main())
