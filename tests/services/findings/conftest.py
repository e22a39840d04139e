"""Real GPU readings for the findings tests: the H200 captures and the H100 trace, read
through the NVML provider answering from ``RecordedNvml`` (as a real NVML would)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from gpulens.core.metrics.processes import ProcessIdentity
from gpulens.core.metrics.providers.nvml import NvmlProvider
from gpulens.core.metrics.schema import GpuInfo
from gpulens.core.metrics.units import MIB
from gpulens.testing.nvml import RecordedNvml, trace_readings
from tests.conftest import H100
from tests.fakes import FakeClock

COMPUTE = "nvmlDeviceGetComputeRunningProcesses"


@pytest.fixture(scope="session")
def h200_gpu(h200: Callable[[str], Any]) -> Callable[[str], GpuInfo]:
    """``h200_gpu("loaded")``: the H200 as the NVML provider reads it from the capture
    (processes from the same capture's ``query-compute-apps.csv``, user alice)."""
    cache: dict[str, GpuInfo] = {}

    def read(state: str) -> GpuInfo:
        if state not in cache:
            capture = h200(state)
            nv = RecordedNvml.from_dump(capture.json("nvml-dump.json"))
            apps = capture.compute_apps()
            nv.devices[0][COMPUTE] = {
                "value": [
                    {"pid": a["pid"], "usedGpuMemory": a["used_memory_mib"] * MIB} for a in apps
                ]
            }
            names = {a["pid"]: ProcessIdentity(a["process_name"], "alice") for a in apps}
            provider = NvmlProvider(
                nv,
                resolver=lambda pid: names.get(pid, ProcessIdentity(None, None)),
                clock=FakeClock(),
            )
            [cache[state]] = provider.sample()
        return cache[state]

    return read


@pytest.fixture(scope="session")
def h100_trace() -> list[tuple[float, GpuInfo]]:
    """The H100 trace (45 s every 250 ms) as (seconds since start, GPU) read through NVML."""
    lines = (H100 / "trace-nvml-45s-250ms.jsonl").read_text().splitlines()
    static, frames = json.loads(lines[0])["static"], [json.loads(x) for x in lines[1:] if x]
    names: dict[int, ProcessIdentity] = {}
    for frame in frames:
        for proc in frame["gpus"][0]["processes"]:
            names[proc["pid"]] = ProcessIdentity(proc.get("name"), proc.get("user"))
    system = {
        "nvmlSystemGetDriverVersion": {"value": static["driverVersion"]},
        "nvmlSystemGetCudaDriverVersion_v2": {"value": static["cudaDriverVersion"]},
    }
    nv = RecordedNvml(system, [trace_readings(static, frames[0], 0)])
    provider = NvmlProvider(
        nv, resolver=lambda pid: names.get(pid, ProcessIdentity(None, None)), clock=FakeClock()
    )
    out = []
    for frame in frames:
        nv.devices[:] = [trace_readings(static, frame, 0)]
        [gpu] = provider.sample()
        out.append((float(frame["t"]), gpu))
    return out
