"""The demo image built for real (Debian's buildah, a base made by debootstrap, no registry)
and run under an arbitrary UID: its REST API answers over loopback, from legacy servers
and models inside the image, and the process is that UID, not root.

A cold machine spends about four minutes making the base (debootstrap) and one fetching the
wheels, both cached outside the repository; every run builds the image from the sources
(about three minutes with buildah's vfs driver)."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.deploy import buildah
from tests.servers import free_port

DOCKERFILE = buildah.ROOT / "deploy" / "Dockerfile"
UID = 54321


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    assert os.geteuid() == 0, "buildah with the vfs driver and chroot isolation runs as root"
    tag = f"localhost/strangler-demo:test-{uuid.uuid4().hex[:8]}"
    buildah.build(DOCKERFILE, tag, buildah.base_image(), buildah.wheelhouse())
    try:
        yield tag
    finally:
        buildah.buildah("rmi", tag, check=False)


def _processes(port: int) -> dict[int, int]:
    """pid → real uid of the demo's processes (``--port PORT``), ``buildah run`` left out."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
            status = (entry / "status").read_text()
        except OSError:
            continue
        launcher = Path(args[0].decode(errors="replace")).name == "buildah"  # runs as root
        if b"--port" in args and str(port).encode() in args and b"demo" in args and not launcher:
            uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
            found[int(entry.name)] = int(uid_line.split()[1])
    return found


@pytest.mark.timeout(1800)
def test_the_demo_runs_in_its_image_as_an_arbitrary_uid(image: str, tmp_path: Path) -> None:
    config = json.loads(buildah.buildah("inspect", "--type", "image", image))
    docker = config["Docker"]["config"]
    assert docker["User"] == "10001:0"
    assert "http://127.0.0.1:8000/healthz" in docker["Healthcheck"]["Test"][-1]
    port = free_port()
    command = ["strangler", "demo", "--host", "127.0.0.1", "--port", str(port)]
    log = tmp_path / "demo.log"
    with buildah.run(image, command, f"{UID}:0", log) as process:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, log.read_text(errors="replace")[-4000:]
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-4000:]
            time.sleep(0.5)
        stock = httpx.post(f"{url}/soap/inventory/GetStock", json={"sku": "SKU-1001"}, timeout=30)
        assert stock.status_code == 200, stock.text
        assert stock.json()["sku"] == "SKU-1001"
        metrics = httpx.get(f"{url}/metrics", timeout=10).text
        assert 'strangler_operation_requests_total{operation="GetStock",system="inventory"}' in (
            metrics
        )
        running = _processes(port)
        assert running and set(running.values()) == {UID}, running
    for pid in _processes(port):  # nothing of it outlives the container
        os.kill(pid, 9)
        raise AssertionError(f"process {pid} of the demo was still running")
    lines = [line for line in log.read_text().splitlines() if line.startswith("{")]
    assert any(json.loads(line)["logger"].startswith("strangler") for line in lines)
