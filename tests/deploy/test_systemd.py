"""deploy/systemd/gpulens.service: what it promises, and `systemd-analyze verify` on it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gpulens.api.http import HEAD_TIMEOUT_S
from gpulens.config import Settings

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "gpulens.service"
ENV_EXAMPLE = ROOT / "deploy" / "systemd" / "gpulens.env.example"
SHIPPED_EXEC = "/opt/gpulens/bin/gpulens"  # the wheel in a venv at /opt/gpulens


def settings(text: str) -> dict[str, list[str]]:
    """Key → values of a unit file (comments and section headers dropped)."""
    out: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        out.setdefault(key.strip(), []).append(value.strip())
    return out


@pytest.fixture(scope="module")
def unit() -> dict[str, list[str]]:
    return settings(UNIT.read_text())


def test_runs_the_venv_entry_point_as_its_own_user(unit: dict[str, list[str]]) -> None:
    assert unit["ExecStart"] == [f"{SHIPPED_EXEC} serve"]
    assert unit["User"] == ["gpulens"]
    assert unit["DynamicUser"] == ["no"]
    assert unit["EnvironmentFile"] == ["-/etc/gpulens/gpulens.env"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["RestartSec"]


def test_sandboxed_but_nvidia_devices_reachable(unit: dict[str, list[str]]) -> None:
    assert "PrivateDevices" not in unit  # would hide /dev/nvidia*
    assert "ProtectProc" not in unit  # would hide other users' GPU processes
    assert "PrivateUsers" not in unit  # would turn process owners into nobody
    assert unit["DevicePolicy"] == ["closed"]
    allowed = set(unit["DeviceAllow"])
    # Major 195 is "nvidia" (open kernel modules) or "nvidia-frontend" (proprietary).
    assert {"char-nvidia rw", "char-nvidia-frontend rw", "char-nvidia-uvm rw"} <= allowed
    assert {"/dev/nvidiactl rw", "/dev/nvidia-uvm rw"} <= allowed
    for key, value in {
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX AF_NETLINK",
    }.items():
        assert unit[key] == [value], key
    assert unit["CapabilityBoundingSet"] == [""]


def test_history_has_a_state_directory(
    unit: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ProtectSystem=strict leaves one writable place: StateDirectory, which systemd
    creates, gives to the service user and names in $STATE_DIRECTORY (the default
    HISTORY_PATH's directory)."""
    assert unit["StateDirectory"] == ["gpulens"]
    assert unit["ProtectSystem"] == ["strict"]
    assert "ReadWritePaths" not in unit
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/gpulens")
    assert Settings().history_file() == Path("/var/lib/gpulens/history.db")


def test_open_file_limit_covers_the_clients_and_pending_sockets(
    unit: dict[str, list[str]],
) -> None:
    # One socket per WebSocket client, one per connection still sending its
    # request head (closed after HEAD_TIMEOUT_S), and the service's own files.
    [limit] = unit["LimitNOFILE"]
    clients = Settings.model_fields["ws_max_clients"].default
    own_files, awaiting_head = 100, 1000
    assert int(limit) >= clients + own_files + awaiting_head
    assert int(limit) > 1024  # systemd's default soft limit, which the unit replaces
    # The comment that explains the number names the deadline it relies on.
    assert f"at most {HEAD_TIMEOUT_S:g} s" in UNIT.read_text()
    assert f"`LimitNOFILE={limit}`" in (ROOT / "README.md").read_text()


def test_env_example_names_every_setting() -> None:
    text = ENV_EXAMPLE.read_text()
    names = {
        line.lstrip("#").split("=", 1)[0].strip()
        for line in text.splitlines()
        if "=" in line and line.lstrip("#").split("=", 1)[0].strip().isupper()
    }
    assert names == {name.upper() for name in Settings.model_fields}


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        why = "systemd-analyze is needed: scripts/system-packages.sh systemd-analyze"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    # verify refuses an ExecStart binary that does not exist: check a copy
    # that runs this checkout's entry point instead of /opt/gpulens's.
    exe = Path(sys.executable).parent / "gpulens"
    assert exe.exists(), f"{exe} is missing: make venv"
    copy = tmp_path / "gpulens.service"
    copy.write_text(UNIT.read_text().replace(SHIPPED_EXEC, str(exe)))
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(copy)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    problems = [line for line in result.stderr.splitlines() if "gpulens.service" in line]
    assert result.returncode == 0 and not problems, result.stderr
