"""Unit conversions, checked against what nvidia-smi printed for the same NVML readings."""

from __future__ import annotations

from typing import Any

import pytest

from gpulens.core.metrics.units import (
    MIB,
    bytes_to_mib,
    clamp_percent,
    clock_event_reasons,
    cuda_version,
)


@pytest.mark.parametrize("state", ["idle", "loaded"])
def test_bytes_to_mib_matches_nvidia_smi_for_the_same_memory(h200: Any, state: str) -> None:
    """NVML's v2 memory struct and nvidia-smi's MiB, read moments apart while memory was static.

    nvidia-smi rounds up (11904.07 MiB used prints as 11905, 615.06 reserved as 616,
    143155.4 free as 143156), so the dashboard agrees with it to the MiB.
    """
    capture = h200(state)
    nvml = capture.json("nvml-dump.json")["devices"][0]["nvmlDeviceGetMemoryInfo_v2"]["value"]
    fields = capture.csv_fields("query-gpu-full.csv")
    row = dict(zip(fields, capture.csv_body("query-gpu-full-nounits.csv").split(", "), strict=True))
    assert bytes_to_mib(nvml["total"]) == int(row["memory.total"])
    assert bytes_to_mib(nvml["used"]) == int(row["memory.used"])
    assert bytes_to_mib(nvml["free"]) == int(row["memory.free"])
    assert bytes_to_mib(nvml["reserved"]) == int(row["memory.reserved"])


@pytest.mark.parametrize(
    ("value", "mib"), [(None, None), (0, 0), (MIB, 1), (9194 * MIB, 9194), (MIB + 1, 2)]
)
def test_bytes_to_mib(value: int | None, mib: int | None) -> None:
    assert bytes_to_mib(value) == mib


@pytest.mark.parametrize(
    ("value", "text"), [(13000, "13.0"), (12020, "12.2"), (11080, "11.8"), (0, None), (None, None)]
)
def test_cuda_version(value: int | None, text: str | None) -> None:
    assert cuda_version(value) == text


@pytest.mark.parametrize(
    ("value", "percent"),
    [(None, None), (float("nan"), None), (-1, None), (101, None), (0, 0), (57.4, 57), (100, 100)],
)
def test_clamp_percent_reports_impossible_readings_as_unknown(
    value: float | None, percent: int | None
) -> None:
    assert clamp_percent(value) == percent


def test_clock_event_reasons_decodes_known_and_unknown_bits() -> None:
    assert clock_event_reasons(None) is None
    assert clock_event_reasons(0) == []
    assert clock_event_reasons(0x4) == ["sw_power_cap"]
    assert clock_event_reasons(0x1 | 0x40) == ["gpu_idle", "hw_thermal_slowdown"]
    assert clock_event_reasons(0x4 | 0x1000) == ["sw_power_cap", "0x1000"]
