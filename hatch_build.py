"""Build hook: the dashboard goes into the wheel, so `pip install gpulens` needs no Node.

hatchling runs this for both targets (pyproject.toml, [tool.hatch.build.hooks.custom]):

- From a checkout, the dashboard is built first (`npm ci` when frontend/node_modules
  is missing, then `npm run build`, exactly as `make build`), so the wheel and the
  sdist always carry the page of the commit they are built from.
- From an sdist (it has PKG-INFO) the dashboard it carries in frontend/dist is used
  as it is: building the wheel from the sdist needs no Node and gives the same wheel.
  GPULENS_PREBUILT_DASHBOARD=1 does the same in a checkout whose frontend/dist was
  built by other means (the Docker image builds it in a Node stage).
- An editable install (`pip install -e .`, the developer setup) builds nothing: the
  server finds frontend/dist in the checkout.

The wheel gets frontend/dist as gpulens/static (src/gpulens/api/static.py serves it).
A wheel without a dashboard is never produced: a missing Node or a failed build stops
the build with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

NODE_MIN = (20, 19)
PREBUILT_ENV = "GPULENS_PREBUILT_DASHBOARD"


class DashboardBuildError(RuntimeError):
    """The dashboard could not be built or found; the message says what to do."""


def node_version(node: str) -> tuple[int, int]:
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout
    match = re.match(r"v(\d+)\.(\d+)", out.strip())
    if match is None:
        raise DashboardBuildError(f"could not read the Node version from {out.strip()!r}")
    return int(match.group(1)), int(match.group(2))


def build_dashboard(frontend: Path, log: Any) -> None:
    """`npm ci` (when node_modules is missing) and `npm run build` in ``frontend``."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise DashboardBuildError(
            "building gpulens from a checkout builds the dashboard, which needs Node >= "
            f"{NODE_MIN[0]}.{NODE_MIN[1]} and npm on PATH; install them, or build the wheel "
            f"from the sdist, or set {PREBUILT_ENV}=1 with a built frontend/dist"
        )
    if node_version(node) < NODE_MIN:
        raise DashboardBuildError(
            f"Node {'.'.join(map(str, node_version(node)))} is too old for the dashboard "
            f"build; Node >= {NODE_MIN[0]}.{NODE_MIN[1]} is needed"
        )
    if not (frontend / "node_modules").is_dir():
        log.display_info("gpulens: npm ci (frontend/package-lock.json)")
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=frontend, check=True
        )
    log.display_info("gpulens: npm run build (the dashboard)")
    subprocess.run([npm, "run", "build"], cwd=frontend, check=True)


class DashboardBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name == "wheel" and version == "editable":
            return
        root = Path(self.root)
        frontend = root / "frontend"
        dist = frontend / "dist"
        from_sdist = (root / "PKG-INFO").is_file()
        if from_sdist or os.environ.get(PREBUILT_ENV) == "1":
            self.app.display_info(f"gpulens: using the dashboard built in {dist}")
        else:
            build_dashboard(frontend, self.app)
        if not (dist / "index.html").is_file():
            where = "the sdist" if from_sdist else f"{PREBUILT_ENV}=1"
            raise DashboardBuildError(f"{dist}/index.html is missing ({where}): no dashboard")
        if self.target_name == "wheel":
            build_data["force_include"][str(dist)] = "gpulens/static"
