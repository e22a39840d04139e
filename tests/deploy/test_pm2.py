"""deploy/pm2/ecosystem.config.js loads in Node and starts the venv's gpulens the right way."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "pm2" / "ecosystem.config.js"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is needed (the frontend needs it too)")


def load(home: str | None = None) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "GPULENS_HOME"}
    if home is not None:
        env["GPULENS_HOME"] = home
    script = "const c = require(process.argv[1]); process.stdout.write(JSON.stringify(c));"
    result = subprocess.run(
        [str(NODE), "-e", script, str(CONFIG)],
        capture_output=True, text=True, env=env, check=False, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def test_one_forked_python_entry_point() -> None:
    (app,) = load()["apps"]
    assert app["name"] == "gpulens"
    assert app["exec_mode"] == "fork"
    assert app["instances"] == 1
    assert app["interpreter"] == "none"
    assert app["script"] == "/opt/gpulens/bin/gpulens"
    assert app["args"] == "serve"
    assert app["cwd"] == "/opt/gpulens"


def test_restarts_are_bounded_and_backed_off() -> None:
    (app,) = load()["apps"]
    assert app["autorestart"] is True
    assert 1 <= app["max_restarts"] <= 50
    assert app.get("exp_backoff_restart_delay", 0) > 0 or app.get("restart_delay", 0) > 0
    assert app["kill_timeout"] >= 5000


def test_environment_uses_the_real_variable_names() -> None:
    from gpulens.config import Settings

    (app,) = load()["apps"]
    known = {name.upper() for name in Settings.model_fields} | {"PYTHONUNBUFFERED"}
    for env_name in ("env", "env_demo"):
        assert set(app[env_name]) <= known, env_name
        assert all(isinstance(v, str) for v in app[env_name].values())
    assert app["env"]["TELEMETRY_PROVIDER"] == "auto"
    assert app["env"]["HOST"] == "127.0.0.1"
    assert app["env_demo"]["TELEMETRY_PROVIDER"] == "replay"


def test_gpulens_home_points_at_a_checkouts_venv() -> None:
    venv = ROOT / ".venv"
    (app,) = load(str(venv))["apps"]
    assert app["cwd"] == str(venv)
    script = Path(app["script"])
    assert script == venv / "bin" / "gpulens"
    if script.exists():  # the venv `make venv` builds
        assert os.access(script, os.X_OK)
