"""Faults against a real ``gpulens serve``: sources missing at boot, a lost GPU, a bad recording.

The GPU tool is a shell script printing what nvidia-smi printed on the real H200
(tests/fixtures), edited the way a fault changes it.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from gpulens.core.metrics.providers.nvidia_smi import APP_FIELDS, GPU_FIELDS_FULL
from tests.core.metrics.providers.conftest import captured_row, line_for
from tests.integration.server import gpulens_serve

pytestmark = pytest.mark.integration

GPULENS = Path(sys.executable).with_name("gpulens")
LOST_LINE = (
    "Unable to determine the device handle for GPU0000:10:00.0: GPU is lost.  "
    "Reboot the system to recover this GPU"
)


def fake_nvidia_smi(path: Path, capture: Any, lost: bool = False) -> Path:
    """An nvidia-smi that answers like the captured H200; with ``lost``, a second GPU fell off."""
    row = dict(captured_row(capture))
    row["pci.bus_id"] = "00000000:11:00.0"
    gpu_csv = line_for(row, GPU_FIELDS_FULL) + "\n"
    if lost:
        gpu_csv = LOST_LINE + "\n" + gpu_csv.replace(f"{row['index']}, ", "1, ", 1)
    uuid = row["uuid"]
    apps = f"483, 9194, {uuid}, /usr/bin/python3\n484, 77, {uuid}, job\x1b[31m\x07name\n"
    (path.parent / "gpu.csv").write_text(gpu_csv)
    (path.parent / "apps.csv").write_text(apps)
    (path.parent / "table.txt").write_text(capture.text("nvidia-smi.txt"))
    code = 15 if lost else 0
    path.write_text(
        f"""#!/bin/sh
case "$1" in
  --query-gpu={",".join(GPU_FIELDS_FULL)}) cat "{path.parent}/gpu.csv"; exit {code} ;;
  --query-compute-apps={",".join(APP_FIELDS)}) cat "{path.parent}/apps.csv"; exit {code} ;;
  "") cat "{path.parent}/table.txt" ;;
  *) echo "Invalid combination of input arguments: $1"; exit 2 ;;
esac
"""
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def telemetry(address: str, wait: float = 20.0, want: int = 1) -> dict[str, Any]:
    """The first telemetry (backfill included) with at least ``want`` GPUs; bounded wait."""
    deadline = time.monotonic() + wait
    with connect(f"ws://{address}/ws/gpu", max_size=2**22, open_timeout=10) as ws:
        while time.monotonic() < deadline:
            message = json.loads(ws.recv(timeout=10))
            frames = message["backfill"] if message["type"] == "hello" else [message]
            for frame in frames:
                if frame["type"] == "telemetry" and len(frame["gpus"]) >= want:
                    return dict(frame)
    raise AssertionError(f"no telemetry with {want} GPU(s) within {wait} s")


def test_explicit_source_missing_at_boot_then_appearing(tmp_path: Path, h200_loaded: Any) -> None:
    """TELEMETRY_PROVIDER=nvidia-smi before the driver is installed: up, degraded, then live."""
    binary = tmp_path / "bin" / "nvidia-smi"
    binary.parent.mkdir()
    env = {"TELEMETRY_PROVIDER": "nvidia-smi", "NVIDIA_SMI_PATH": str(binary)}
    with gpulens_serve(tmp_path / "serve.log", **env) as (address, proc):
        health = httpx.get(f"http://{address}/api/health").json()
        assert health["status"] == "degraded"
        assert health["provider"] is None
        assert health["reason"].startswith("nvidia-smi is not available yet, retrying:")
        assert "does not exist" in health["unavailable"]["nvidia-smi"]
        fake_nvidia_smi(binary, h200_loaded)  # the driver arrives
        frame = telemetry(address, wait=30)
        assert frame["source"] == "nvidia-smi"
        [gpu] = frame["gpus"]
        assert (gpu["status"], gpu["utilization"]) == ("ok", 43)
        assert proc.poll() is None
        health = httpx.get(f"http://{address}/api/health").json()
        assert (health["status"], health["provider"]) == ("ok", "nvidia-smi")
    log = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in log


@pytest.mark.parametrize("provider", ["nvml", "nvtop", "replay"])
def test_every_explicit_source_missing_keeps_the_service_up(tmp_path: Path, provider: str) -> None:
    env = {
        "TELEMETRY_PROVIDER": provider,
        "NVTOP_PATH": str(tmp_path / "no-nvtop"),
        "REPLAY_FILE": str(tmp_path / "no-recording.jsonl.gz"),
    }
    with gpulens_serve(tmp_path / "serve.log", **env) as (address, proc):
        health = httpx.get(f"http://{address}/api/health").json()
        assert health["status"] == "degraded"
        assert list(health["unavailable"]) == [provider]
        frame = telemetry(address, want=0)
        assert frame["gpus"] == [] and frame["system"]["cpuUsage"] >= 0
        assert proc.poll() is None
    assert "Traceback" not in (tmp_path / "serve.log").read_text()


def test_one_lost_gpu_of_two_on_nvidia_smi(tmp_path: Path, h200_loaded: Any) -> None:
    (tmp_path / "bin").mkdir()
    binary = fake_nvidia_smi(tmp_path / "bin" / "nvidia-smi", h200_loaded, lost=True)
    env = {"TELEMETRY_PROVIDER": "nvidia-smi", "NVIDIA_SMI_PATH": str(binary)}
    with gpulens_serve(tmp_path / "serve.log", **env) as (address, _):
        frame = telemetry(address, want=2)
        lost, healthy = frame["gpus"]
        assert (healthy["id"], healthy["status"], healthy["utilization"]) == (1, "ok", 43)
        names = [p["name"] for p in healthy["processes"]]
        assert names == ["/usr/bin/python3", "job\ufffdname"]  # escapes and BEL: one mark
        assert (lost["id"], lost["status"], lost["pciBusId"]) == (0, "failed", "00000000:10:00.0")
        assert lost["error"] == "GPU is lost. Reboot the system to recover this GPU"
        health = httpx.get(f"http://{address}/api/health").json()
        assert health["status"] == "degraded"
        assert health["reason"] == "GPU 0: GPU is lost. Reboot the system to recover this GPU"
    snapshot = subprocess.run(
        [str(GPULENS), "snapshot", "--provider", "nvidia-smi", "--compact"],
        env={"NVIDIA_SMI_PATH": str(binary), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert snapshot.returncode == 0, snapshot.stderr
    assert [g["status"] for g in json.loads(snapshot.stdout)["gpus"]] == ["failed", "ok"]


def test_a_corrupt_recording_is_one_line_and_the_service_stays_up(tmp_path: Path) -> None:
    bad = tmp_path / "trace.jsonl.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage that is not deflate")
    env = {"TELEMETRY_PROVIDER": "replay", "REPLAY_FILE": str(bad)}
    with gpulens_serve(tmp_path / "serve.log", **env) as (address, proc):
        health = httpx.get(f"http://{address}/api/health").json()
        assert health["status"] == "degraded"
        assert str(bad) in health["unavailable"]["replay"]
        assert proc.poll() is None
    snapshot = subprocess.run(
        [str(GPULENS), "snapshot", "--provider", "replay"],
        env={"REPLAY_FILE": str(bad), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert snapshot.returncode == 2
    assert len(snapshot.stderr.strip().splitlines()) == 1
    assert snapshot.stderr.startswith("gpulens: replay: replay: ")
