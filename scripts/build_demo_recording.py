"""Build the shipped demo recording from the real H100 NVML trace.

Each trace frame (raw NVML readings: bytes, mW, MHz) is answered by a
``RecordedNvml`` and read through the NVML provider itself, so the demo is
exactly what the NVML provider would have streamed on that machine.

The workstation gpulens is built for has two or more GPUs; the trace has one.
GPU 1 is the same trace shifted by half its length (22.5 s), with its own
UUID (a UUIDv5 of the original), PCI bus id 00000000:00:07.0 and pids offset
by 1000, so the two cards are busy at different times. See docs/replay.md.

    python scripts/build_demo_recording.py [TRACE] [OUT]
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

from gpulens.core.metrics import recording
from gpulens.core.metrics.processes import ProcessIdentity
from gpulens.core.metrics.providers.nvml import NvmlProvider
from gpulens.core.metrics.schema import GpuInfo
from gpulens.testing.nvml import RecordedNvml, trace_readings

ROOT = Path(__file__).resolve().parent.parent
TRACE = ROOT / "tests/fixtures/h100-sxm-80gb/trace-nvml-45s-250ms.jsonl"
OUT = ROOT / "src/gpulens/data/demo-h100x2.jsonl.gz"
PID_OFFSET = 1000


def second_gpu(static: dict[str, Any], frame: dict[str, Any]) -> dict[str, Any]:
    gpu = json.loads(json.dumps(frame["gpus"][0]))
    for proc in gpu["processes"]:
        proc["pid"] += PID_OFFSET
    return gpu


def build(trace: Path, out: Path) -> int:
    lines = [json.loads(line) for line in trace.read_text().splitlines() if line.strip()]
    static, frames = lines[0]["static"], lines[1:]
    gpu0 = static["gpu0"]
    static = {
        **static,
        "gpu1": {
            "name": gpu0["name"],
            "uuid": "GPU-" + str(uuid.uuid5(uuid.NAMESPACE_OID, gpu0["uuid"])),
            "busId": "00000000:00:07.0",
        },
    }
    half = len(frames) // 2
    names: dict[int, ProcessIdentity] = {}

    def readings(i: int) -> tuple[dict[str, Any], dict[str, Any]]:
        first = frames[i]
        shifted = frames[(i + half) % len(frames)]
        two = {"gpus": [first["gpus"][0], second_gpu(static, shifted)]}
        for gpu in two["gpus"]:
            for proc in gpu["processes"]:
                names[proc["pid"]] = ProcessIdentity(proc.get("name"), proc.get("user"))
        return trace_readings(static, two, 0), trace_readings(static, two, 1)

    system = {
        "nvmlSystemGetDriverVersion": {"value": static["driverVersion"]},
        "nvmlSystemGetCudaDriverVersion_v2": {"value": static["cudaDriverVersion"]},
    }
    fake = RecordedNvml(system, list(readings(0)))
    provider = NvmlProvider(
        nvml=fake, resolver=lambda pid: names.get(pid, ProcessIdentity(None, None))
    )
    out_frames: list[tuple[float, list[GpuInfo]]] = []
    for i, frame in enumerate(frames):
        fake.devices[:] = list(readings(i))
        out_frames.append((float(frame["t"]), provider.sample()))
    header = {
        "source": "nvml",
        "interval": 0.25,
        "description": "NVIDIA H100 80GB HBM3 under a changing load, as two GPUs "
        "(GPU 1 = the same trace shifted by half its length)",
    }
    return recording.write(out, header, out_frames)


if __name__ == "__main__":
    trace = Path(sys.argv[1]) if len(sys.argv) > 1 else TRACE
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else OUT
    count = build(trace, out)
    print(f"wrote {count} frames to {out}")
