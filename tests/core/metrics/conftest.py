"""Fixtures for the telemetry core: NVML stand-ins built from real dumps, clocks, resolvers."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gpulens.config import Settings
from gpulens.core.metrics.processes import ProcessIdentity
from gpulens.core.metrics.units import MIB
from gpulens.testing.nvml import RecordedNvml

# The H200 of the captures (see tests/fixtures/README.md).
H200_UUID = "GPU-b7f55477-ed9b-14a7-8c96-f2c319d1fad8"
SECOND_UUID = "GPU-00000000-test-0000-0000-second000001"
COMPUTE_KEY = "nvmlDeviceGetComputeRunningProcesses"


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeResolver:
    """pid → (name, user) from a table; records every lookup."""

    def __init__(self, names: dict[int, str] | None = None, user: str = "alice") -> None:
        self.names = names or {}
        self.user = user
        self.calls: list[int] = []

    def __call__(self, pid: int) -> ProcessIdentity:
        self.calls.append(pid)
        return ProcessIdentity(self.names.get(pid, f"proc-{pid}"), self.user)


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


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No gpulens variable from the host, no ``.env`` file, and no nvidia-smi/nvtop on PATH.

    Runs in an empty directory; returns it.
    """
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    monkeypatch.setenv("NVIDIA_SMI_PATH", str(tmp_path / "no-such-nvidia-smi"))
    monkeypatch.setenv("NVTOP_PATH", str(tmp_path / "no-such-nvtop"))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def nvml_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    """NVML as on a machine without an NVIDIA driver.

    Where the real library cannot load (this CI machine) the real binding is
    used; on a GPU host a stand-in that fails ``nvmlInit`` with
    ``NVML_ERROR_LIBRARY_NOT_FOUND`` takes its place, so the tests mean the same.
    """
    import pynvml

    from gpulens.core.metrics.providers import nvml as nvml_module

    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return
    pynvml.nvmlShutdown()  # pragma: no cover - only on a machine with a GPU

    def missing() -> RecordedNvml:  # pragma: no cover
        stand_in = RecordedNvml({}, [])
        stand_in.init_error = pynvml.NVML_ERROR_LIBRARY_NOT_FOUND
        return stand_in

    monkeypatch.setattr(nvml_module, "load_pynvml", missing)  # pragma: no cover
