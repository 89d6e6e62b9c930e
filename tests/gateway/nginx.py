"""Debian's nginx run on a rendered configuration, every path under a temporary prefix."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["check_config", "nginx_binary", "run_nginx"]


def nginx_binary() -> str:
    """The nginx executable; a clear failure when it is missing (``./run setup`` installs it)."""
    found = shutil.which("nginx", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if found is None:
        raise RuntimeError("nginx is not installed: ./run setup (or apt-get install nginx)")
    return found


def check_config(conf: Path, prefix: Path) -> None:
    """``nginx -t`` on ``conf``: ``RuntimeError`` with nginx's words if it refuses."""
    prefix.mkdir(parents=True, exist_ok=True)
    command = [nginx_binary(), "-p", str(prefix), "-c", str(conf), "-e", "stderr", "-t"]
    checked = subprocess.run(command, capture_output=True, text=True, check=False)
    if checked.returncode != 0:
        raise RuntimeError(f"nginx refuses the configuration:\n{checked.stderr}")


@contextlib.contextmanager
def run_nginx(conf: Path, prefix: Path, port: int) -> Iterator[str]:
    """Run ``nginx -p prefix -c conf`` (``daemon off``) until it accepts on ``port``; its URL."""
    check_config(conf, prefix)
    command = [nginx_binary(), "-p", str(prefix), "-c", str(conf), "-e", "stderr"]
    log = prefix / "stderr.log"
    with log.open("ab") as sink:
        process = subprocess.Popen(command, stderr=sink)
    try:
        deadline = time.monotonic() + 20
        while not _accepts(port):
            if process.poll() is not None:
                raise RuntimeError(f"nginx exited: {log.read_text(errors='replace')}")
            if time.monotonic() > deadline:
                raise RuntimeError("nginx did not start listening within 20 s")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGQUIT)  # graceful: workers finish, then exit
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0
