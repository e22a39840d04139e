"""hatch_build.py, the build hook that puts the dashboard into the wheel.

Run on the hook directly, with stand-in `node` and `npm` on PATH (shell scripts that
log their arguments), so each case is fast and needs no network. The real builds,
from the checkout and from the sdist, are tests/integration/test_wheel.py's.
"""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hatch_build import DashboardBuildError, DashboardBuildHook

from gpulens import __version__

ROOT = Path(__file__).resolve().parents[2]


class Quiet:
    """The hatchling Application's display methods, kept."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def display_info(self, message: str) -> None:
        self.lines.append(message)


def tool(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project root with frontend/ and an empty PATH (no Node)."""
    root = tmp_path / "project"
    (root / "frontend").mkdir(parents=True)
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.delenv("GPULENS_PREBUILT_DASHBOARD", raising=False)
    return root


def node(project: Path, version: str = "v20.19.0") -> Path:
    """Stand-in node and npm; npm logs its arguments and `run build` writes a page."""
    bin_dir = project.parent / "bin"
    log = project.parent / "npm.log"
    tool(bin_dir, "node", f"echo {version}")
    tool(
        bin_dir,
        "npm",
        f'echo "$*" >> {log}\n'
        'if [ "$1 $2" = "run build" ]; then /bin/mkdir -p dist && echo page > dist/index.html; fi',
    )
    return log


def run_hook(
    root: Path, target: str = "wheel", version: str = "standard"
) -> tuple[dict[str, Any], Quiet]:
    app = Quiet()
    hook = DashboardBuildHook(str(root), {}, None, None, str(root / "out"), target, app=app)  # type: ignore[arg-type]
    build_data: dict[str, Any] = {"force_include": {}}
    hook.initialize(version, build_data)
    return build_data, app


def test_from_a_checkout_builds_the_dashboard_and_ships_it_as_gpulens_static(
    project: Path,
) -> None:
    log = node(project)
    build_data, _ = run_hook(project)
    assert log.read_text().splitlines() == [
        "ci --no-audit --no-fund --loglevel=error",
        "run build",
    ]
    dist = project / "frontend" / "dist"
    assert build_data["force_include"] == {str(dist): "gpulens/static"}


def test_installed_node_modules_are_reused(project: Path) -> None:
    log = node(project)
    (project / "frontend" / "node_modules").mkdir()
    run_hook(project)
    assert log.read_text().splitlines() == ["run build"]


def test_the_sdist_target_builds_the_dashboard_but_maps_nothing(project: Path) -> None:
    log = node(project)
    build_data, _ = run_hook(project, target="sdist")
    assert "run build" in log.read_text()
    assert build_data["force_include"] == {}  # the sdist takes frontend/dist as an artifact


def test_without_node_the_build_stops_and_says_what_is_needed(project: Path) -> None:
    with pytest.raises(DashboardBuildError, match=r"needs Node >= 20\.19 and npm on PATH"):
        run_hook(project)


def test_too_old_node_stops_the_build(project: Path) -> None:
    log = node(project, version="v18.20.4")
    with pytest.raises(DashboardBuildError, match=r"Node 18\.20 is too old"):
        run_hook(project)
    assert not log.exists()


def test_a_failed_npm_build_stops_the_build(project: Path) -> None:
    node(project)
    tool(project.parent / "bin", "npm", "exit 3")
    with pytest.raises(Exception, match="returned non-zero exit status 3"):
        run_hook(project)


def test_from_an_sdist_the_carried_dashboard_is_used_without_node(project: Path) -> None:
    (project / "PKG-INFO").write_text("Metadata-Version: 2.4\n")
    (project / "frontend" / "dist").mkdir()
    (project / "frontend" / "dist" / "index.html").write_text("page")
    build_data, app = run_hook(project)
    assert build_data["force_include"] == {str(project / "frontend" / "dist"): "gpulens/static"}
    assert any("using the dashboard built in" in line for line in app.lines)


def test_an_sdist_without_the_dashboard_makes_no_wheel(project: Path) -> None:
    (project / "PKG-INFO").write_text("Metadata-Version: 2.4\n")
    with pytest.raises(DashboardBuildError, match=r"index\.html is missing \(the sdist\)"):
        run_hook(project)


def test_prebuilt_setting_uses_frontend_dist_and_requires_it(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GPULENS_PREBUILT_DASHBOARD", "1")
    with pytest.raises(DashboardBuildError, match="GPULENS_PREBUILT_DASHBOARD=1"):
        run_hook(project)
    (project / "frontend" / "dist").mkdir()
    (project / "frontend" / "dist" / "index.html").write_text("page")
    build_data, _ = run_hook(project)
    assert build_data["force_include"] == {str(project / "frontend" / "dist"): "gpulens/static"}


def test_an_editable_install_builds_nothing(project: Path) -> None:
    build_data, _ = run_hook(project, version="editable")  # no Node on PATH: no error
    assert build_data["force_include"] == {}


def test_the_version_is_written_once() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"]
    assert "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["hatch"]["version"]["path"] == "src/gpulens/__init__.py"
    package = (ROOT / "frontend" / "package.json").read_text()
    assert '"version"' not in package
    assert __version__.count(".") == 2


def test_the_build_backend_is_pinned_and_matches_the_dev_lock() -> None:
    """One commit, one wheel: the backend is pinned, and the venv's copy (mypy checks the
    hook against it) is the same version."""
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    pins = dict(r.split("==") for r in requires)
    assert set(pins) == {"hatchling", "hatch-fancy-pypi-readme"}
    lock = (ROOT / "requirements-dev.lock").read_text()
    assert f"hatchling=={pins['hatchling']} " in lock
