"""The running service never imports ``gpulens.testing`` (the NVML stand-in and friends).

Each check runs in a fresh interpreter, so modules the test session already
imported (the suite uses ``gpulens.testing`` itself) cannot hide or fake a leak.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Prints the gpulens.testing modules in sys.modules, as JSON, on the last line of stderr.
_REPORT = textwrap.dedent(
    """
    import json, sys
    leaked = sorted(m for m in sys.modules if m.split(".")[:2] == ["gpulens", "testing"])
    print(json.dumps(leaked), file=sys.stderr)
    """
)


def _run(code: str) -> tuple[list[str], str]:
    """Run ``code`` in a fresh interpreter: the gpulens.testing modules it imported, its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEMETRY_", "GPULENS_"))}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code) + _REPORT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    leaked: list[str] = json.loads(done.stderr.strip().splitlines()[-1])
    return leaked, done.stdout


def _leaked(code: str) -> list[str]:
    return _run(code)[0]


def test_the_app_and_the_cli_do_not_import_gpulens_testing() -> None:
    code = """
        import gpulens.api.app, gpulens.api.server, gpulens.cli
        from gpulens.api.app import create_app
        from gpulens.config import Settings
        create_app(Settings())
    """
    assert _leaked(code) == []


def test_no_runtime_module_imports_gpulens_testing() -> None:
    # Every module of the package but gpulens.testing itself and __main__ (which runs the CLI).
    # (pkgutil.walk_packages would import gpulens.testing itself to look inside it.)
    code = """
        import importlib, pkgutil

        def walk(package):
            for mod in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
                if mod.name in ("gpulens.testing", "gpulens.__main__"):
                    continue
                sub = importlib.import_module(mod.name)
                if mod.ispkg:
                    walk(sub)

        walk(importlib.import_module("gpulens"))
    """
    assert _leaked(code) == []


def test_a_replay_snapshot_does_not_import_gpulens_testing() -> None:
    # `gpulens snapshot --provider replay`, through the package's own __main__.
    code = """
        import runpy, sys
        sys.argv = ["gpulens", "snapshot", "--provider", "replay"]
        try:
            runpy.run_module("gpulens", run_name="__main__", alter_sys=True)
        except SystemExit as exc:
            assert exc.code in (0, None), exc.code
    """
    leaked, out = _run(code)
    assert json.loads(out)["source"] == "replay"  # the snapshot really ran
    assert leaked == []


def test_the_check_sees_an_import_of_gpulens_testing() -> None:
    # The probe itself works: importing the stand-in shows up.
    assert _leaked("import gpulens.testing.nvml") == ["gpulens.testing", "gpulens.testing.nvml"]
