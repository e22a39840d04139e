"""The wheel, as a user installs it: no checkout, no Node, no network for the page.

`make test-wheel` (part of `make test`) builds dist/ with `make dist` first, then runs
these with ``-m wheel``: what the sdist and the wheel carry, that building again from
the checkout gives byte-identical files (the wheel in dist/ was built from the sdist,
so this also proves the sdist builds the same wheel), and that the wheel installed
into a fresh virtual environment, with nothing but that environment on PATH, serves
the dashboard and streams telemetry in replay.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect
from websockets.typing import Origin

from gpulens import __version__
from tests.integration.server import serve_process
from tests.live import receive

pytestmark = pytest.mark.wheel

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist"


def one(pattern: str) -> Path:
    found = sorted(DIST.glob(pattern))
    assert len(found) == 1, f"dist/{pattern}: {found}; `make dist` builds it (make test-wheel)"
    return found[0]


@pytest.fixture(scope="module")
def wheel() -> Path:
    return one("gpulens-*-py3-none-any.whl")


@pytest.fixture(scope="module")
def sdist() -> Path:
    return one("gpulens-*.tar.gz")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_file_names_carry_the_one_version(wheel: Path, sdist: Path) -> None:
    assert wheel.name == f"gpulens-{__version__}-py3-none-any.whl"
    assert sdist.name == f"gpulens-{__version__}.tar.gz"


def test_wheel_carries_the_dashboard_the_package_and_its_metadata(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = zf.read(f"gpulens-{__version__}.dist-info/METADATA").decode()
        index = zf.read("gpulens/static/index.html").decode()
        entry_points = zf.read(f"gpulens-{__version__}.dist-info/entry_points.txt").decode()
    scripts = re.findall(r'src="/(assets/[^"]+\.js)"', index)
    assert scripts, "index.html loads no script"
    assert all(f"gpulens/static/{s}" in names for s in scripts)
    assert any(n.startswith("gpulens/static/assets/") and n.endswith(".css") for n in names)
    for module in ("cli.py", "api/app.py", "services/stream.py", "py.typed"):
        assert f"gpulens/{module}" in names
    assert "gpulens/data/demo-h100x2.jsonl.gz" in names
    assert f"gpulens-{__version__}.dist-info/licenses/LICENSE" in names
    assert "gpulens = gpulens.cli:main" in entry_points
    # Only the package: no tests, sources of the page, node_modules or build hook.
    assert not [n for n in names if n.startswith(("tests/", "frontend/", "node_modules/"))]
    assert "hatch_build.py" not in names
    assert f"Version: {__version__}" in metadata
    assert "License-Expression: MIT" in metadata
    assert "Requires-Python: >=3.11" in metadata
    assert "Requires-Dist: nvidia-ml-py" in metadata
    assert "Description-Content-Type: text/markdown" in metadata
    # README links work off the repository: no relative image or document link is left.
    assert not re.findall(r"\]\((?!https?://|#|mailto:)[^)]+\)", metadata)


def test_sdist_carries_the_sources_and_the_built_dashboard(sdist: Path) -> None:
    top = f"gpulens-{__version__}/"
    with tarfile.open(sdist) as tf:
        names = {n.removeprefix(top) for n in tf.getnames()}
    for needed in (
        "PKG-INFO",
        "pyproject.toml",
        "hatch_build.py",
        "LICENSE",
        "README.md",
        "src/gpulens/cli.py",
        "frontend/package.json",
        "frontend/package-lock.json",
        "frontend/index.html",
        "frontend/vite.config.ts",
        "frontend/src/main.tsx",
        "frontend/dist/index.html",
        "deploy/systemd/gpulens.service",
    ):
        assert needed in names, needed
    assert not [n for n in names if "node_modules" in n or n.startswith((".venv", "tests/"))]


def test_building_again_from_the_checkout_gives_the_same_files(
    wheel: Path, sdist: Path, tmp_path: Path
) -> None:
    """Reproducible: a second `python -m build` of this commit (the dashboard built again
    with Vite) gives byte-identical sdist and wheel."""
    out = tmp_path / "again"
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    again = {p.name: p for p in out.iterdir()}
    assert set(again) == {wheel.name, sdist.name}
    if sha256(again[wheel.name]) != sha256(wheel):
        with zipfile.ZipFile(wheel) as a, zipfile.ZipFile(again[wheel.name]) as b:
            differ = [
                i.filename
                for i in a.infolist()
                if i.filename not in b.namelist() or a.read(i) != b.read(i.filename)
            ]
        pytest.fail(f"the wheel differs from a rebuild of the same commit: {differ[:10]}")
    assert sha256(again[sdist.name]) == sha256(sdist), "the sdist differs from a rebuild"


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel installed: the pinned dependencies
    first (hash-checked, requirements.lock), then the wheel with its declared
    dependencies resolved against them. Returns its bin/ directory."""
    venv = tmp_path_factory.mktemp("user") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    pip += ["--disable-pip-version-check", "--no-input"]
    subprocess.run([*pip, "-r", str(ROOT / "requirements.lock")], check=True)
    subprocess.run([*pip, str(wheel)], check=True)
    return venv / "bin"


def user_env(bin_dir: Path, home: Path) -> dict[str, str]:
    """Only the new environment on PATH: no Node, no checkout's venv, no nvidia-smi."""
    env = {"PATH": str(bin_dir), "HOME": str(home), "LANG": "C.UTF-8"}
    assert shutil.which("node", path=env["PATH"]) is None
    assert shutil.which("npm", path=env["PATH"]) is None
    return env


def test_installed_gpulens_says_its_version(installed: Path, tmp_path: Path) -> None:
    out = subprocess.run(
        [str(installed / "gpulens"), "--version"],
        env=user_env(installed, tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == f"gpulens {__version__}"


def test_installed_wheel_serves_the_dashboard_and_streams(installed: Path, tmp_path: Path) -> None:
    """`gpulens serve` from the wheel, run away from the checkout (its cwd has no
    frontend/), finds the dashboard inside the package."""
    env = user_env(installed, tmp_path)
    env |= {"TELEMETRY_PROVIDER": "replay", "POLL_INTERVAL_MS": "250"}
    with serve_process(tmp_path / "serve.log", installed / "gpulens", env, cwd=tmp_path) as (
        address,
        _proc,
    ):
        page = httpx.get(f"http://{address}/", timeout=5)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert '<div id="root">' in page.text
        scripts = re.findall(r'src="(/assets/[^"]+\.js)"', page.text)
        assert scripts
        for src in scripts:
            asset = httpx.get(f"http://{address}{src}", timeout=5)
            assert asset.status_code == 200
            assert "javascript" in asset.headers["content-type"]
            assert "immutable" in asset.headers["cache-control"]
        # A client-side route falls back to the page, never a 404.
        assert '<div id="root">' in httpx.get(f"http://{address}/gpu/0", timeout=5).text

        config = httpx.get(f"http://{address}/api/config", timeout=5).json()
        assert config["version"] == __version__

        with connect(f"ws://{address}/ws/gpu", origin=Origin(f"http://{address}")) as ws:
            hello = receive(ws)
            assert hello["type"] == "hello"
            assert hello["config"]["version"] == __version__
            assert hello["status"]["provider"] == "replay"
            telemetry = receive(ws)
            while telemetry["type"] != "telemetry":
                telemetry = receive(ws)
            assert telemetry["source"] == "replay"
            assert len(telemetry["gpus"]) == 2
            assert telemetry["gpus"][0]["name"].startswith("NVIDIA H100")
    log = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in log
    assert os.fspath(ROOT) not in log, "the installed server used files from the checkout"
