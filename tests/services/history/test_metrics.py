"""What the history keeps of a sample: each reading scaled to an integer, a failed GPU a gap,
and a reading no sensor could give stored as missing rather than stopping the writer."""

from __future__ import annotations

import math

import pytest

from gpulens.core.metrics.schema import GpuInfo, SystemInfo
from gpulens.services.history import codec
from gpulens.services.history.metrics import (
    GPU_METRICS,
    HOST_METRICS,
    LIMIT,
    gpu_row,
    host_row,
)
from tests.fakes import gpu

GPU_NAMES = [m.name for m in GPU_METRICS]
HOST_NAMES = [m.name for m in HOST_METRICS]


def system(**extra: object) -> SystemInfo:
    fields: dict[str, object] = {
        "cpu_usage": 12.34, "memory_usage": 56.7, "load_average": (1.237, 1.0, 0.5),
        "uptime": 100, "disk_utilization": 41.5, "memory_used": 2048, **extra,
    }  # fmt: skip
    return SystemInfo.model_validate(fields)


def test_names_are_unique_and_have_units() -> None:
    assert len(set(GPU_NAMES)) == len(GPU_NAMES)
    assert len(set(HOST_NAMES)) == len(HOST_NAMES)
    assert all(m.scale >= 1 for m in GPU_METRICS) and all(m.scale >= 1 for m in HOST_METRICS)
    assert GPU_NAMES[:2] == ["utilization", "memoryUsed"]  # stored column order: never reorder


def test_a_gpu_reading_is_scaled_to_an_integer() -> None:
    row = gpu_row(gpu(0, util=37, powerUsage=312.46, temperature=61, smClock=1980))
    assert row is not None
    values = dict(zip(GPU_NAMES, row, strict=True))
    assert values["utilization"] == 370  # 0.1 %
    assert values["powerUsage"] == 3125  # 0.1 W, rounded
    assert values["temperature"] == 610
    assert values["memoryUsed"] == 1000
    assert values["smClock"] == 1980
    assert values["fanSpeed"] is None  # not reported: missing, not zero
    assert all(v is None or type(v) is int for v in row)


def test_a_failed_gpu_or_one_with_no_reading_is_a_gap() -> None:
    assert gpu_row(gpu(0).as_failed("fell off the bus")) is None
    assert gpu_row(GpuInfo(id=0, name="NVIDIA H200", uuid="GPU-0")) is None


def test_host_row() -> None:
    values = dict(zip(HOST_NAMES, host_row(system()), strict=True))
    assert values == {
        "cpuUsage": 123, "memoryUsage": 567, "memoryUsed": 2048, "loadAverage": 124,
        "diskUtilization": 415,
    }  # fmt: skip


@pytest.mark.parametrize("value", [math.inf, math.nan, -math.inf, 1e300, -1e300, 2e10])
def test_a_reading_no_sensor_gives_is_stored_as_missing(value: float) -> None:
    """The schema lets an infinite power or load (and a NaN load) through; ``round`` of
    them raises, and one beyond 64 bits would stop the codec: each is a missing reading."""
    row = host_row(system(load_average=(value, 1.0, 1.0)))
    assert dict(zip(HOST_NAMES, row, strict=True))["loadAverage"] is None
    assert row[0] == 123  # the rest of the sample is kept
    codec.encode([0, 1000], [[v, v] for v in row])


def test_a_huge_gpu_reading_is_missing_and_the_block_still_packs() -> None:
    rows = [gpu_row(gpu(0, temperature=10**30)), gpu_row(gpu(0, powerUsage=math.inf))]
    assert rows[0] is not None and rows[1] is not None
    temperature, power = GPU_NAMES.index("temperature"), GPU_NAMES.index("powerUsage")
    assert rows[0][temperature] is None and rows[1][power] is None
    assert rows[0][GPU_NAMES.index("utilization")] == 500
    columns = [list(c) for c in zip(*rows, strict=True)]
    assert codec.decode(codec.encode([0, 1000], columns))[1] == columns


def test_the_largest_kept_reading_sums_over_an_hour_within_64_bits() -> None:
    """A 1 h bucket at the fastest poll (4 Hz) sums 14 400 readings: still packable."""
    row = host_row(system(memory_used=(LIMIT - 1)))
    assert row[HOST_NAMES.index("memoryUsed")] == LIMIT - 1
    biggest = (LIMIT - 1) * 14_400
    codec.encode([0, 1, 2], [[biggest, -biggest, biggest]])
