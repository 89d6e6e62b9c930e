"""SOAP 1.2 with actions: Apache CXF's ``hello_world_soap12.wsdl``.

Like a server that dispatches on the SOAP 1.2 ``action`` parameter, it checks
it: ``sayHi`` must come with ``action="sayHiAction"``, ``pingMe`` (no
``soapAction`` in the WSDL) with none or an empty one. ``sayHi`` greets with a
running count of greetings; ``pingMe`` answers an empty ``pingMeResponse``
unless the server is put in maintenance, when it faults with a ``Receiver``
code and the WSDL's ``faultDetail``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.adapters.soap.legacy_servers.plumbing import (
    Answer,
    Fault,
    LegacyServer,
    Request,
    el,
    serve,
)

WSDL = "cxf_hello_world_soap12/hello_world_soap12.wsdl"
NS = "http://apache.org/hello_world_soap12_http/types"


def _expect_action(request: Request, allowed: tuple[str | None, ...]) -> None:
    if request.action not in allowed:
        raise Fault("client", f"unexpected action {request.action!r}")


@dataclass
class Greeter:
    """The server's state: greetings so far, and whether it is in maintenance."""

    greetings: int = 0
    maintenance: bool = False

    def say_hi(self, request: Request) -> Answer:
        _expect_action(request, ("sayHiAction",))
        self.greetings += 1
        return Answer(
            [
                el(
                    f"{{{NS}}}sayHiResponse",
                    el(f"{{{NS}}}responseType", f"Bonjour #{self.greetings}"),
                )
            ]
        )

    def ping_me(self, request: Request) -> Answer:
        _expect_action(request, (None, ""))
        if self.maintenance:
            detail = el(
                f"{{{NS}}}faultDetail", el(f"{{{NS}}}minor", "1"), el(f"{{{NS}}}major", "2")
            )
            raise Fault("server", "PingMe is down for maintenance", detail)
        return Answer([el(f"{{{NS}}}pingMeResponse")])


@contextmanager
def running(greeter: Greeter) -> Iterator[LegacyServer]:
    with serve({f"{{{NS}}}sayHi": greeter.say_hi, f"{{{NS}}}pingMe": greeter.ping_me}) as server:
        yield server
