"""NVML, nvidia-smi and nvtop read the same loaded H200 the same way.

The three captures of the "loaded" state were taken moments apart while a
duty-cycled bf16 matmul ran, so instantaneous readings differ between them.
The tolerances below are the spread the captures themselves show (every
reading of the loaded state in tests/fixtures/h200-sxm-141gb/loaded), not a
guess: a unit or scaling mistake (mW for W, bytes for MiB, a shifted CSV
column) is far outside them.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from gpulens.core.metrics.providers.nvidia_smi import NvidiaSmiProvider
from gpulens.core.metrics.providers.nvml import NvmlProvider
from gpulens.core.metrics.providers.nvtop import NvtopProvider
from gpulens.core.metrics.schema import GpuInfo
from tests.fakes import FakeClock

from ..conftest import FakeResolver
from .conftest import FakeRunner, nvidia_smi_answer

# utilization.gpu across the loaded captures: nvml-dump 40, query-gpu-full.csv 40,
# full-nounits 43, basic 43, nvidia-smi.txt 39, nvtop 57 → spread 18 points.
UTILIZATION_TOLERANCE = 18
# temperature.gpu: nvml-dump 56, full.csv 57, nvidia-smi.txt 59, nvtop 58,
# full-nounits 62, basic 62 → spread 6 °C.
TEMPERATURE_TOLERANCE = 6
# power.draw: nvtop 502, basic 503.87, full-nounits 509.02, nvml-dump 514.977,
# full.csv 518.29, nvidia-smi.txt 519 → spread 17 W.
POWER_TOLERANCE_W = 17.0
# memory.used did not move: every capture says 11905 MiB used, 131252 MiB free.
MEMORY_TOLERANCE_MIB = 0


@pytest.fixture
def readings(make_nvml: Any, h200_loaded: Any, binary: str) -> dict[str, GpuInfo]:
    resolver = FakeResolver({483: "python3", 484: "python3"})
    nvml = NvmlProvider(make_nvml("loaded"), resolver=resolver, clock=FakeClock())
    smi = NvidiaSmiProvider(
        binary, runner=FakeRunner(nvidia_smi_answer(h200_loaded)), resolver=resolver
    )
    nvtop_text = h200_loaded.text("nvtop-snapshot.json")
    nvtop = NvtopProvider(binary, runner=FakeRunner(lambda argv: (0, nvtop_text, "")))
    out = {}
    for name, provider in (("nvml", nvml), ("nvidia-smi", smi), ("nvtop", nvtop)):
        [gpu] = provider.sample()
        out[name] = gpu
    return out


def _pairs(readings: dict[str, GpuInfo], field: str) -> list[tuple[str, str, float, float]]:
    values = {name: getattr(gpu, field) for name, gpu in readings.items()}
    present = {name: v for name, v in values.items() if v is not None}
    return [(a, b, present[a], present[b]) for a, b in itertools.combinations(sorted(present), 2)]


@pytest.mark.parametrize(
    ("field", "tolerance", "sources"),
    [
        ("utilization", UTILIZATION_TOLERANCE, 3),
        ("temperature", TEMPERATURE_TOLERANCE, 3),
        ("power_usage", POWER_TOLERANCE_W, 3),
        ("memory_used", MEMORY_TOLERANCE_MIB, 2),  # nvtop 3.2.0 reports no memory sizes
    ],
)
def test_sources_agree_within_the_captures_own_spread(
    readings: dict[str, GpuInfo], field: str, tolerance: float, sources: int
) -> None:
    pairs = _pairs(readings, field)
    assert len(pairs) == sources * (sources - 1) // 2, f"a source lost {field}"
    for a, b, x, y in pairs:
        assert abs(x - y) <= tolerance, f"{field}: {a}={x} vs {b}={y}"


def test_static_facts_agree(readings: dict[str, GpuInfo]) -> None:
    nvml, smi, nvtop = readings["nvml"], readings["nvidia-smi"], readings["nvtop"]
    assert nvml.name == smi.name == nvtop.name == "NVIDIA H200"
    assert nvml.uuid == smi.uuid
    assert nvml.pci_bus_id == smi.pci_bus_id
    assert nvml.driver_version == smi.driver_version
    assert nvml.cuda_version == smi.cuda_version == "13.0"
    assert (nvml.memory_total, nvml.memory_free) == (smi.memory_total, smi.memory_free)
    assert nvml.memory_reserved == smi.memory_reserved
    assert nvml.power_limit == smi.power_limit == 700.0
    assert nvml.fan_speed is smi.fan_speed is nvtop.fan_speed is None


def test_process_lists_match_query_compute_apps(
    readings: dict[str, GpuInfo], h200_loaded: Any
) -> None:
    expected = sorted((a["pid"], a["used_memory_mib"]) for a in h200_loaded.compute_apps())
    assert expected == [(483, 9194), (484, 2696)]
    for name in ("nvml", "nvidia-smi"):
        got = sorted((p.pid, p.used_memory_mib) for p in readings[name].processes)
        assert got == expected, name
    # Independent of the injected list: NVML's own per-process samples name the same pids.
    dump = h200_loaded.json("nvml-dump.json")["devices"][0]
    sampled = {s["pid"] for s in dump["nvmlDeviceGetProcessUtilization(0)"]["value"]}
    assert sampled == {pid for pid, _ in expected}
