"""``strangler demo --nginx``: Debian's nginx carries the demo route's split.

:func:`nginx_plane` adds ``routes.nginx`` to the demo spec (a prefix in the
demo's own folder, a free loopback port, strangler's address for the side
endpoints), renders the route's present split with
:class:`~strangler.canary.nginx.NginxPlane` and starts nginx on it. The canary
controller then renders each step into that nginx and reloads it, measures the
modern side from its access log, and the demo's traffic goes through nginx,
which sends each request to strangler's ``/_strangler/sides/reorder-advice/{side}``.
nginx is stopped (gracefully) with the demo.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from strangler.canary.nginx import NginxError, NginxPlane
from strangler.gateway.state import RouteState
from strangler.spec import Spec
from strangler.spec.gateway import NginxPlaneSpec, RoutesSpec

__all__ = ["nginx_plane"]

START_S = 20.0
"""How long nginx may take to listen."""


@contextlib.contextmanager
def nginx_plane(spec: Spec, folder: Path, strangler_url: str) -> Iterator[tuple[Spec, str]]:
    """nginx running in front of ``strangler_url`` for the routes of ``spec``: the spec
    with its ``routes.nginx`` section, and nginx's URL. ``NginxError`` if nginx is
    missing or does not start."""
    routes: RoutesSpec = spec.section("routes")
    plane_spec = NginxPlaneSpec(
        dir=str(folder / "nginx"), listen=f"127.0.0.1:{_free_port()}", strangler_url=strangler_url
    )
    routes = routes.model_copy(update={"nginx": plane_spec})
    plane = NginxPlane(plane_spec, routes)
    seeds = {name: RouteState(route.mode, route.weight) for name, route in routes.items.items()}
    asyncio.run(plane.apply(seeds))  # no nginx runs yet: written and checked
    log = plane.dir / "logs" / "nginx.stderr.log"
    with log.open("ab") as sink:
        process = subprocess.Popen(plane.command(), stderr=sink, stdin=subprocess.DEVNULL)
    try:
        _wait_listening(process, plane, log)
        yield spec.model_copy(update={"routes": routes}), plane.url
    finally:
        _stop(process)


def _wait_listening(process: subprocess.Popen[bytes], plane: NginxPlane, log: Path) -> None:
    host, _, port = plane.spec.listen.rpartition(":")
    deadline = time.monotonic() + START_S
    while True:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((host, int(port))) == 0:
                return
        if process.poll() is not None:
            said = log.read_text(errors="replace").strip()
            raise NginxError(f"nginx exited at start: {said or process.returncode}")
        if time.monotonic() > deadline:
            _stop(process)
            raise NginxError(f"nginx did not listen on {plane.spec.listen} within {START_S} s")
        time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGQUIT)  # graceful: the workers finish what they carry
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
