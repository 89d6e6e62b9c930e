"""What the container image is built from: the Dockerfile copies every source root,
and the wheel it installs carries the code and the data files the code reads.

The image itself needs a Docker engine; these tests run the same build steps
(build the wheel, install it outside the source tree) without one.
"""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def _sources() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    sources: list[str] = config["tool"]["hatch"]["build"]["targets"]["wheel"]["sources"]
    return sources


def test_dockerfile_copies_every_source_root() -> None:
    copied = set(re.findall(r"^COPY (\S+) ", DOCKERFILE.read_text(), flags=re.MULTILINE))
    for source in _sources():
        assert source in copied, f"deploy/Dockerfile does not COPY {source}/"
    assert re.search(r"^USER 10001", DOCKERFILE.read_text(), flags=re.MULTILINE)
    assert DOCKERFILE.read_text().count("FROM ") >= 2  # multi-stage


def test_wheel_installs_and_runs_outside_the_source_tree(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = dist.glob("strangler-*.whl")
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
         str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )  # fmt: skip
    # The installed wheel first, this environment's dependencies after it.
    path = f"{target}:{sysconfig.get_paths()['purelib']}:{sysconfig.get_paths()['platlib']}"
    script = (
        "import strangler.cli, strangler.demo.inventory as inv, strangler.demo.estate as est\n"
        "from importlib.resources import files\n"
        "assert str(inv.WSDL_PATH).startswith(TARGET), inv.WSDL_PATH\n"
        "assert inv.WSDL_PATH.is_file() and est.DEMO_SPEC.is_file()\n"
        "xsd = files('strangler.adapters.soap').joinpath('schemas', 'soap-encoding.xsd')\n"
        "assert xsd.is_file()\n"
        "from strangler.demo.estate import running_estate\n"
        "from strangler.rest.app import create_app\n"
        "with running_estate() as estate:\n"
        "    assert create_app(estate.spec).openapi()['paths']\n"
        "print('ok')\n"
    ).replace("TARGET", repr(str(target)))
    result = subprocess.run(
        [str(python), "-c", script],
        env={"PYTHONPATH": path, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
