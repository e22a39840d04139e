"""The payload's wire names and encodings (DESIGN §2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from gpulens.core.metrics.schema import GpuInfo, ProcessInfo, SystemInfo, Telemetry, iso_utc

GPU_KEYS = {
    "id", "name", "uuid", "driverVersion", "cudaVersion", "utilization",
    "memoryUsed", "memoryTotal", "memoryFree", "temperature", "powerUsage",
    "powerLimit", "fanSpeed", "encoderUtilization", "decoderUtilization", "processes",
}  # fmt: skip
PROCESS_KEYS = {"pid", "name", "usedMemoryMiB", "user"}
SYSTEM_KEYS = {"cpuUsage", "memoryUsage", "loadAverage", "uptime", "diskUtilization"}


def _payload(**gpu: Any) -> Telemetry:
    return Telemetry(
        seq=42,
        timestamp=datetime(2026, 11, 26, 4, 1, 32, 480000, tzinfo=UTC),
        source="nvml",
        gpus=[
            GpuInfo(
                id=0,
                name="NVIDIA H200",
                uuid="GPU-b7f55477-ed9b-14a7-8c96-f2c319d1fad8",
                driver_version="580.159.04",
                cuda_version="13.0",
                utilization=57,
                memory_used=11905,
                memory_total=143771,
                memory_free=131252,
                temperature=58,
                power_usage=502.1,
                power_limit=700.0,
                fan_speed=None,
                encoder_utilization=0,
                decoder_utilization=0,
                processes=[ProcessInfo(pid=483, name="python3", used_memory_mib=9194, user="a")],
                **gpu,
            )
        ],
        system=SystemInfo(
            cpu_usage=12.5,
            memory_usage=41.0,
            load_average=(1.2, 0.9, 0.7),
            uptime=86400,
            disk_utilization=3.1,
        ),
    )


def _wire(payload: Telemetry) -> dict[str, Any]:
    wire: dict[str, Any] = json.loads(payload.model_dump_json(by_alias=True))
    return wire


def test_wire_names_are_the_specified_camel_case_keys() -> None:
    wire = _wire(_payload())
    gpu = wire["gpus"][0]
    assert set(gpu) >= GPU_KEYS, GPU_KEYS - set(gpu)
    assert set(gpu["processes"][0]) >= PROCESS_KEYS
    assert set(wire["system"]) >= SYSTEM_KEYS
    assert {"type", "seq", "timestamp", "source", "gpus", "system"} <= set(wire)
    # Every key on the wire is camelCase: no snake_case leaks.
    for obj in (wire, gpu, gpu["processes"][0], wire["system"]):
        assert not [k for k in obj if "_" in k]
    assert gpu["memoryUsed"] == 11905
    assert gpu["processes"][0]["usedMemoryMiB"] == 9194
    assert wire["system"]["loadAverage"] == [1.2, 0.9, 0.7]


def test_models_accept_their_wire_names() -> None:
    wire = _wire(_payload())
    again = Telemetry.model_validate(wire)
    assert again == _payload()


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 11, 26, 4, 1, 32, 480000, tzinfo=UTC), "2026-11-26T04:01:32.480Z"),
        # Another zone is converted to UTC, not just relabelled.
        (
            datetime(2026, 11, 26, 5, 1, 32, 480123, tzinfo=timezone(timedelta(hours=1))),
            "2026-11-26T04:01:32.480Z",
        ),
    ],
)
def test_timestamp_serialises_as_iso_8601_utc_with_z(moment: datetime, expected: str) -> None:
    assert iso_utc(moment) == expected
    wire = _wire(_payload().model_copy(update={"timestamp": moment}))
    assert wire["timestamp"] == expected


def test_missing_values_stay_null_never_zero_or_string() -> None:
    gpu = GpuInfo(id=1, name="GPU 1")
    wire = json.loads(gpu.model_dump_json(by_alias=True))
    for key in GPU_KEYS - {"id", "name", "processes"}:
        assert wire[key] is None, key
    assert wire["processes"] == []
    proc = json.loads(ProcessInfo(pid=7).model_dump_json(by_alias=True))
    assert proc == {
        "pid": 7,
        "name": None,
        "usedMemoryMiB": None,
        "user": None,
        "type": None,
        "smUtilization": None,
        "startTime": None,
        "container": None,
    }
    full = _wire(_payload())
    assert full["gpus"][0]["fanSpeed"] is None


@pytest.mark.parametrize(
    "bad",
    [
        {"utilization": 101},
        {"utilization": -1},
        {"memory_used": -5},
        {"power_usage": -1.0},
        {"status": "weird"},
        {"unknownField": 1},
    ],
)
def test_out_of_range_or_unknown_values_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        GpuInfo.model_validate({"id": 0, "name": "x", **bad})
