"""nginx as the data plane: each step rendered into nginx's configuration and reloaded.

With ``routes.nginx: {dir: DIR, listen: HOST:PORT}``, :meth:`NginxPlane.apply`
turns every route's live state into nginx's split
(:mod:`strangler.gateway.render`, :mod:`strangler.gateway.nginx_conf`), and:

1. writes the files into ``DIR/nginx.next/`` and has ``nginx -t`` check them
   there (a configuration nginx refuses never replaces the running one:
   :class:`NginxError` with nginx's words);
2. moves each into ``DIR/nginx/`` by an atomic rename;
3. reloads the nginx whose pid is in ``DIR/nginx.pid`` (``reload: signal``: a
   SIGHUP; ``reload: command``: ``nginx -s reload``); nginx starts new workers
   on the new configuration and lets the old ones finish what they carry, so
   no request is dropped;
4. confirms it is live: ``GET http://LISTEN/_strangler/nginx`` answers the
   new version (a hash of the rendered files), and the workers of the old
   configuration have left.

Nothing changes when the rendered files are those already live. When no nginx
runs yet, the files are written and checked, ready for
``nginx -p DIR -c DIR/nginx/nginx.conf -e stderr`` (:meth:`NginxPlane.command`).

nginx forwards bytes, so each side must be an HTTP service that speaks the
route's public contract. Where nginx sends a side, first found: ``upstreams``
(``route.side`` → URL, as ``strangler render nginx --upstream``); the spec's
``legacy_url``/``modern_url``, where ``{route}`` and ``{path}`` (the route's
public path) are filled in; a ``{url: ...}`` side's own URL when the spec maps
none of its requests or answers; else strangler itself, where the side answers
alone (``STRANGLER/_strangler/sides/{route}/{side}``, see
:class:`~strangler.gateway.routing.SideApp`: an operation, a model, a mapped
service), ``STRANGLER`` being ``routes.nginx.strangler_url`` or the
``strangler_url`` given (the gateway gives its server's address).

Each route's requests are logged as JSON lines into ``DIR/logs/strangler-access.log``
for :class:`~strangler.canary.access_log.AccessLogSource`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.client
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from strangler.errors import SpecError, SpecProblem, StranglerError
from strangler.gateway.nginx_conf import CanaryOptions, render_nginx
from strangler.gateway.render import RoutePlan, plan_routes
from strangler.gateway.routing import side_path
from strangler.gateway.sides import SideName
from strangler.gateway.state import RouteState
from strangler.spec.gateway import NginxPlaneSpec, RoutesSpec, UrlTarget

__all__ = ["ACCESS_LOG", "NginxError", "NginxPlane", "nginx_binary"]

log = logging.getLogger(__name__)

ACCESS_LOG = "logs/strangler-access.log"
"""The routes' access log, relative to the nginx prefix (``routes.nginx.dir``)."""

_ORDER = ("nginx/strangler-http.conf", "nginx/strangler-locations.conf", "nginx/nginx.conf")


class NginxError(StranglerError):
    """nginx refused the configuration, could not be reloaded, or did not take it up."""


def nginx_binary() -> str:
    """The nginx executable (``$PATH``, then ``/usr/sbin``)."""
    found = shutil.which("nginx", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if found is None:
        raise NginxError("nginx is not installed (Debian: apt-get install nginx)")
    return found


class NginxPlane:
    """A :class:`~strangler.canary.model.DataPlane` rendering and reloading nginx."""

    name = "nginx"

    def __init__(
        self,
        spec: NginxPlaneSpec,
        routes: RoutesSpec,
        *,
        upstreams: Mapping[str, str] | None = None,
        base_dir: Path | None = None,
        source: str = "<spec>",
        confirm_timeout_s: float = 15.0,
        strangler_url: str | None = None,
    ) -> None:
        directory = Path(spec.dir)
        self.dir = (
            directory if directory.is_absolute() or base_dir is None else base_dir / directory
        )
        self.spec = spec
        self.routes = routes
        self.source = source
        self.confirm_timeout_s = confirm_timeout_s
        self.strangler_url = spec.strangler_url or strangler_url
        self.upstreams = self._upstreams(dict(upstreams or {}), self.strangler_url)
        self.version: str | None = None
        self.reloads = 0
        self._lock = threading.Lock()

    @property
    def conf_path(self) -> Path:
        return self.dir / "nginx" / "nginx.conf"

    @property
    def pid_path(self) -> Path:
        return self.dir / "nginx.pid"

    @property
    def access_log(self) -> Path:
        return self.dir / ACCESS_LOG

    @property
    def url(self) -> str:
        """Where nginx answers, from ``listen`` (a wildcard address is asked on loopback)."""
        host, _, port = self.spec.listen.rpartition(":")
        if host in ("", "*", "0.0.0.0", "[::]"):
            host = "127.0.0.1"
        return f"http://{host}:{port}"

    def command(self) -> list[str]:
        """How to run nginx on this configuration (in the foreground, logs to stderr)."""
        return [nginx_binary(), "-p", str(self.dir), "-c", str(self.conf_path), "-e", "stderr"]

    def render(self, states: Mapping[str, RouteState]) -> tuple[str, dict[str, str]]:
        """The version and files of ``states`` (names below ``nginx/``)."""
        plans = plan_routes(self.routes, self.upstreams, states, source=self.source)
        bare = render_nginx(plans, listen=self.spec.listen, source=self.source)
        digest = hashlib.sha256()
        for name in sorted(bare):
            digest.update(name.encode() + b"\0" + bare[name].encode() + b"\0")
        version = digest.hexdigest()[:16]
        options = CanaryOptions(version, ACCESS_LOG, log_bodies=_fair_routes(self.routes, plans))
        files = render_nginx(plans, listen=self.spec.listen, source=self.source, canary=options)
        return version, files

    async def apply(self, states: Mapping[str, RouteState]) -> None:
        """Render ``states``, check, swap, reload and confirm (see the module)."""
        await asyncio.to_thread(self._apply, states)

    async def close(self) -> None:
        """Nothing to release: nginx is not this object's to stop."""

    def _apply(self, states: Mapping[str, RouteState]) -> None:
        with self._lock:
            version, files = self.render(states)
            if version == self.version:
                return
            (self.dir / "logs").mkdir(parents=True, exist_ok=True)
            self._check_and_swap(files)
            pid = self._running_pid()
            if pid is None:
                log.info("nginx configuration %s written to %s (no nginx runs)", version, self.dir)
                self.version = version
                return
            workers = _children(pid)
            self._reload(pid)
            self._confirm(version, pid, workers)
            self.version = version
            self.reloads += 1
            log.info("nginx reloaded on configuration %s", version)

    def _check_and_swap(self, files: Mapping[str, str]) -> None:
        staged = self.dir / "nginx.next"
        live = self.dir / "nginx"
        staged.mkdir(parents=True, exist_ok=True)
        live.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (staged / Path(name).name).write_text(text, encoding="utf-8")
        checked = subprocess.run(
            [*self.command()[:3], "-c", str(staged / "nginx.conf"), "-e", "stderr", "-t"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if checked.returncode != 0:
            raise NginxError(f"nginx refuses the rendered configuration: {checked.stderr.strip()}")
        for name in _ORDER:  # the main file last: it includes the other two
            os.replace(staged / Path(name).name, live / Path(name).name)

    def _running_pid(self) -> int | None:
        try:
            pid = int(self.pid_path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, someone else's
        with contextlib.suppress(OSError):  # a stale pid file, its number reused: not nginx
            if "nginx" not in Path(f"/proc/{pid}/comm").read_text():
                return None
        return pid

    def _reload(self, pid: int) -> None:
        if self.spec.reload == "signal":
            try:
                os.kill(pid, signal.SIGHUP)
            except OSError as exc:
                raise NginxError(f"cannot signal nginx (pid {pid}) to reload: {exc}") from exc
            return
        done = subprocess.run(
            [*self.command()[:5], "-e", "stderr", "-s", "reload"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if done.returncode != 0:
            raise NginxError(f"nginx -s reload failed: {done.stderr.strip()}")

    def _confirm(self, version: str, pid: int, workers: set[int]) -> None:
        """Wait until nginx answers ``version`` and the old workers have gone."""
        deadline = time.monotonic() + self.confirm_timeout_s
        seen = ""
        while True:
            seen = self._live_version() or seen
            if seen == version:
                break
            if time.monotonic() > deadline:
                raise NginxError(
                    f"nginx at {self.url} still answers configuration {seen or 'nothing'} "
                    f"{self.confirm_timeout_s} s after the reload to {version} "
                    "(its error log says why)"
                )
            time.sleep(0.02)
        while workers & _children(pid):
            if time.monotonic() > deadline:
                log.warning("nginx's old workers still finish their requests after the reload")
                return
            time.sleep(0.02)

    def _live_version(self) -> str:
        """What ``GET /_strangler/nginx`` answers on a fresh connection (empty: nothing)."""
        parts = urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=2)
        try:
            conn.request("GET", "/_strangler/nginx")
            return conn.getresponse().read().decode("ascii", "replace").strip()
        except (OSError, http.client.HTTPException):
            return ""
        finally:
            conn.close()

    def _upstreams(self, given: dict[str, str], strangler_url: str | None) -> dict[str, str]:
        problems: list[SpecProblem] = []
        templates = {"legacy": self.spec.legacy_url, "modern": self.spec.modern_url}
        sides: tuple[SideName, ...] = ("legacy", "modern")
        for name, route in self.routes.items.items():
            for side in sides:
                key = f"{name}.{side}"
                if key in given:
                    continue
                template = templates[side]
                target = getattr(route, side)
                mapped = getattr(route.request, side) or getattr(route.response, side)
                if template is not None:
                    given[key] = template.replace("{route}", name).replace("{path}", route.path)
                elif isinstance(target, UrlTarget) and not mapped:
                    continue  # nginx calls it itself
                elif strangler_url is not None:
                    given[key] = strangler_url.rstrip("/") + side_path(name, side)
                else:
                    problems.append(
                        SpecProblem(
                            self.source,
                            None,
                            "routes.nginx.strangler_url",
                            f"nginx cannot call route {name!r}'s {side} side itself: give "
                            "where strangler answers it (strangler_url) or the URL of an HTTP "
                            f"service that speaks the route's public contract ({side}_url)",
                        )
                    )
        if problems:
            raise SpecError(problems)
        return given


def _fair_routes(routes: RoutesSpec, plans: list[RoutePlan]) -> frozenset[str]:
    """The routes whose fairness segment is read from the request body (logged for it)."""
    return frozenset(
        plan.name
        for plan in plans
        if (rollout := routes.items[plan.name].rollout) is not None and rollout.fairness is not None
    )


def _children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (nginx's workers); empty where /proc is not."""
    found: set[int] = set()
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(entry.path, "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.add(int(entry.name))
    return found
