"""Images built for real with Debian's buildah, without any registry.

* :func:`base_image`: a Debian root filesystem made by ``debootstrap --variant=minbase``
  from Debian's packages, with Python and the ODBC drivers the images install, imported
  as ``localhost/strangler-base:<key>``;
* :func:`wheelhouse`: the wheels of ``strangler[demo]`` (and hatchling, which builds it),
  fetched by the host's pip, so the build itself needs no package index;
* :func:`build` and :func:`run`: ``buildah bud`` and ``buildah run`` with the vfs storage
  driver and chroot isolation (which work here as root, sharing the host's loopback).

The base and the wheels are cached outside the repository (``$STRANGLER_IMAGE_CACHE``,
default ``/var/cache/strangler-test``) under a key hashed from what makes them, so later
runs on the same machine (CI's among them) reuse them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).parents[2]
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = (
    "python3",
    "python3-venv",
    "ca-certificates",
    "unixodbc",
    "odbc-mariadb",
    "odbc-postgresql",
    "libsqliteodbc",
    "tdsodbc",
    "libgomp1",
)
"""Python, and what the images' runtime stage installs (so its apt-get finds it there)."""
EXTRA_WHEELS = ("hatchling", "async-timeout")
"""hatchling builds strangler's wheel; redis wants async-timeout on Debian's Python 3.11.2."""


def cache_dir() -> Path:
    folder = Path(os.environ.get("STRANGLER_IMAGE_CACHE", "/var/cache/strangler-test"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def buildah(*args: str, timeout: float = 600, check: bool = True) -> str:
    """``buildah --storage-driver vfs ARGS``; its standard output."""
    tool = shutil.which("buildah")
    if tool is None:
        raise RuntimeError("buildah is missing: ./run setup (apt-get install buildah)")
    done = subprocess.run(
        [tool, "--storage-driver", "vfs", *args], capture_output=True, text=True, timeout=timeout
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"buildah {' '.join(args)} failed:\n{done.stderr[-4000:]}")
    return done.stdout.strip()


def _key(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def base_image() -> str:
    """The locally made base image's name (made once per key)."""
    key = _key("v1", SUITE, MIRROR, *PACKAGES)
    name = f"localhost/strangler-base:{key}"
    if buildah("images", "-q", name, check=False):
        return name
    rootfs = cache_dir() / f"base-{key}" / "rootfs"
    if not (rootfs / "usr" / "bin" / "python3").exists():
        debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
        staging = Path(tempfile.mkdtemp(prefix="rootfs-", dir=cache_dir()))
        subprocess.run(
            [
                debootstrap,
                "--variant=minbase",
                f"--include={','.join(PACKAGES)}",
                SUITE,
                str(staging),
                MIRROR,
            ],
            check=True,
            capture_output=True,
            timeout=1200,
        )
        rootfs.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(rootfs, ignore_errors=True)
        staging.rename(rootfs)
    container = buildah("from", "scratch")
    try:
        mount = buildah("mount", container)
        subprocess.run(["cp", "-a", f"{rootfs}/.", mount], check=True, timeout=600)
        buildah("umount", container)
        buildah("config", "--env", "PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", container)
        buildah("commit", "-q", container, name)
    finally:
        buildah("rm", container, check=False)
    return name


def wheelhouse() -> Path:
    """A folder with every wheel ``strangler[demo]`` installs (made once per key)."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    key = _key("v1", pyproject, *EXTRA_WHEELS, sys.version)
    folder = cache_dir() / f"wheels-{key}"
    if (folder / ".complete").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "-w", str(folder), f"{ROOT}[demo]",
         *EXTRA_WHEELS],
        check=True,
        capture_output=True,
        timeout=900,
    )  # fmt: skip
    for own in folder.glob("strangler-*.whl"):
        own.unlink()  # the build makes its own from the sources
    (folder / ".complete").touch()
    return folder


def build(dockerfile: Path, tag: str, base: str, wheels: Path) -> None:
    """``buildah bud`` of ``dockerfile`` over the repository, pip reading ``wheels`` only."""
    buildah(
        "bud",
        "--isolation",
        "chroot",
        "--format",
        "docker",
        "-q",
        "-f",
        str(dockerfile),
        "--build-arg",
        f"BASE={base}",
        "--build-arg",
        "PIP_NO_INDEX=1",
        "--build-arg",
        "PIP_FIND_LINKS=/wheels",
        "-v",
        f"{wheels}:/wheels:ro",
        "-t",
        tag,
        str(ROOT),
        timeout=1200,
    )


@contextlib.contextmanager
def run(
    image: str, command: Sequence[str], user: str, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``buildah run`` ``command`` in a container of ``image`` as ``user``; stopped on exit."""
    container = buildah("from", "-q", image)
    tool = shutil.which("buildah") or "buildah"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [tool, "--storage-driver", "vfs", "run", "--isolation", "chroot", "--user", user,
             container, "--", *command],
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        buildah("rm", container, check=False)
