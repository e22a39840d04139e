"""Fixtures for the telemetry core: NVML stand-ins built from real dumps, clocks, resolvers."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from gpulens.core.metrics.processes import ProcessIdentity
from gpulens.core.metrics.units import MIB
from gpulens.testing.nvml import RecordedNvml
from tests.fakes import FakeClock

# The H200 of the captures (see tests/fixtures/README.md).
H200_UUID = "GPU-b7f55477-ed9b-14a7-8c96-f2c319d1fad8"
SECOND_UUID = "GPU-00000000-test-0000-0000-second000001"
COMPUTE_KEY = "nvmlDeviceGetComputeRunningProcesses"


class FakeResolver:
    """pid → (name, user, start time, container) from tables; records every lookup."""

    def __init__(
        self,
        names: dict[int, str] | None = None,
        user: str = "alice",
        started: dict[int, float] | None = None,
        containers: dict[int, str] | None = None,
    ) -> None:
        self.names = names or {}
        self.user = user
        self.started = started or {}
        self.containers = containers or {}
        self.calls: list[int] = []

    def __call__(self, pid: int) -> ProcessIdentity:
        self.calls.append(pid)
        return ProcessIdentity(
            self.names.get(pid, f"proc-{pid}"),
            self.user,
            self.started.get(pid),
            self.containers.get(pid),
        )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_nvml(h200: Callable[[str], Any]) -> Callable[..., RecordedNvml]:
    """``make_nvml("loaded", gpus=2)``: a ``RecordedNvml`` answering from ``nvml-dump.json``.

    The dump did not serialise the process structs, so the compute process list
    is injected from ``query-compute-apps.csv`` of the same capture (MiB → bytes,
    as NVML reports it). Extra GPUs are copies of the first with their own UUID.
    """

    def build(state: str = "loaded", gpus: int = 1) -> RecordedNvml:
        capture = h200(state)
        nv = RecordedNvml.from_dump(capture.json("nvml-dump.json"))
        first = nv.devices[0]
        first[COMPUTE_KEY] = {
            "value": [
                {"pid": app["pid"], "usedGpuMemory": app["used_memory_mib"] * MIB}
                for app in capture.compute_apps()
            ]
        }
        for index in range(1, gpus):
            extra = copy.deepcopy(first)
            extra["nvmlDeviceGetUUID"] = {"value": f"{SECOND_UUID[:-1]}{index}"}
            extra["nvmlDeviceGetPciInfo"] = {"value": {"busId": f"00000000:00:0{6 + index}.0"}}
            extra[COMPUTE_KEY] = {"value": []}
            nv.devices.append(extra)
        return nv

    return build


@pytest.fixture
def resolver(h200_loaded: Any) -> FakeResolver:
    """Names as nvidia-smi printed them for the loaded capture."""
    return FakeResolver({app["pid"]: app["process_name"] for app in h200_loaded.compute_apps()})
