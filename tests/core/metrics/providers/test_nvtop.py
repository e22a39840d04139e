"""nvtop -s snapshots: the 3.2.0 captures, the 3.3.0/3.3.1 comma defect, the 3.3.2 shape."""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gpulens.core.metrics.providers.base import ProviderError, ProviderUnavailable
from gpulens.core.metrics.providers.nvtop import (
    NvtopError,
    NvtopProvider,
    gpus_from_snapshot,
    load_snapshot,
)
from gpulens.core.metrics.text import OnceLog

from ..conftest import FakeResolver
from .conftest import FakeRunner

# nvtop 3.3.0 / 3.3.1: no comma after mem_util, mem_total and mem_used.
NVTOP_331 = """[
  {
   "device_name": "NVIDIA GeForce RTX 3080",
   "gpu_clock": "1710MHz",
   "mem_clock": "9501MHz",
   "temp": "61C",
   "fan_speed": "45%",
   "power_draw": "227W",
   "gpu_util": "98%",
   "mem_util": "35%"
   "mem_total": "21197180928"
   "mem_used": "7585398784"
   "mem_free": "13611782144"
  }
]
"""

NVTOP_332 = """[
  {
   "device_name": "NVIDIA H200",
   "gpu_clock": "1890MHz",
   "mem_clock": "3201MHz",
   "temp": "58C",
   "fan_speed": null,
   "power_draw": "502W",
   "gpu_util": "57%",
   "mem_util": "8%",
   "encode": "3%",
   "decode": "1%",
   "mem_total": "150754820096",
   "mem_used": "12482641920",
   "mem_free": "137627238400",
   "processes" : [
    {"pid": "229655", "cmdline": "python3 train.py", "kind": "compute", "user": "alice",
     "gpu_usage": "40%", "gpu_mem_bytes_alloc": "9640607744", "gpu_mem_usage": "6%",
     "encode": "0%", "decode": "0%"},
    {"pid": "4242", "cmdline": "/usr/bin/Xorg -core :0", "kind": "graphic", "user": "root",
     "gpu_usage": "1%", "gpu_mem_bytes_alloc": "104857600"},
    {"pid": "77", "kind": "graphic & compute"}
   ]
  }
]
"""


def _gpus(text: str, resolver: Any = None) -> list[Any]:
    return gpus_from_snapshot(load_snapshot(text), resolver or FakeResolver())


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("loaded", {"temperature": 58, "power_usage": 502.0, "utilization": 57,
                    "memory_utilization": 8, "sm_clock": 1890, "memory_clock": 3201}),
        ("idle", {"temperature": 42, "power_usage": 84.0, "utilization": 0,
                  "memory_utilization": 0, "sm_clock": 345, "memory_clock": 3201}),
    ],
)  # fmt: skip
def test_nvtop_320_captures(h200: Any, state: str, expected: dict[str, Any]) -> None:
    [gpu] = _gpus(h200(state).text("nvtop-snapshot.json"))
    assert (gpu.id, gpu.name) == (0, "NVIDIA H200")
    assert {k: getattr(gpu, k) for k in expected} == expected
    # What 3.2.0 does not report stays null.
    assert gpu.fan_speed is None
    for field in ("uuid", "driver_version", "memory_used", "memory_total", "power_limit"):
        assert getattr(gpu, field) is None, field
    assert gpu.processes == []


def test_nvtop_331_missing_commas_are_repaired() -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(NVTOP_331)  # really invalid as printed
    [gpu] = _gpus(NVTOP_331)
    assert gpu.memory_utilization == 35
    assert gpu.memory_total == 20216  # 21197180928 B = 20215.2 MiB, rounded up
    assert gpu.memory_used == 7234  # 7585398784 B
    assert gpu.memory_free == 12982  # 12981.2 MiB
    assert (gpu.fan_speed, gpu.utilization, gpu.temperature) == (45, 98, 61)


def test_nvtop_332_memory_encode_decode_and_processes() -> None:
    resolver = FakeResolver(
        {77: "resolved-name"},
        user="from-psutil",
        started={229655: 1796000000.5},
        containers={229655: "3f4e5d6c7b8a"},
    )
    [gpu] = _gpus(NVTOP_332, resolver)
    assert (gpu.memory_total, gpu.memory_used, gpu.memory_free) == (143771, 11905, 131252)
    assert (gpu.encoder_utilization, gpu.decoder_utilization) == (3, 1)
    by_pid = {p.pid: p for p in gpu.processes}
    train = by_pid[229655]
    assert (train.name, train.user, train.type) == ("python3", "alice", "compute")
    assert (train.used_memory_mib, train.sm_utilization) == (9194, 40)
    assert (by_pid[4242].name, by_pid[4242].type, by_pid[4242].used_memory_mib) == (
        "/usr/bin/Xorg",  # the program as the command line names it, arguments dropped
        "graphics",
        100,
    )
    # Neither name nor user given: looked up, never guessed; memory unknown → null.
    assert (by_pid[77].name, by_pid[77].user) == ("resolved-name", "from-psutil")
    assert by_pid[77].type == "compute+graphics"
    assert by_pid[77].used_memory_mib is None
    # Every process is looked up (cached per process): its start time and container.
    assert sorted(resolver.calls) == [77, 4242, 229655]
    assert (train.start_time, train.container) == (1796000000.5, "3f4e5d6c7b8a")
    assert (by_pid[77].start_time, by_pid[77].container) == (None, None)
    # Largest first, as every provider orders them.
    assert [p.pid for p in gpu.processes] == [229655, 4242, 77]


def test_shared_encode_decode_engine() -> None:
    text = '[{"device_name": "NVIDIA T4", "encode_decode": "12%", "encode": "99%"}]'
    [gpu] = _gpus(text)
    assert (gpu.encoder_utilization, gpu.decoder_utilization) == (12, 12)


@pytest.mark.parametrize("fan", ["1179RPM", "CPU Fan", "", "-5%", "150%", 12.5])
def test_fan_speed_that_is_not_a_percentage_is_null(fan: Any) -> None:
    [gpu] = _gpus(json.dumps([{"device_name": "x", "fan_speed": fan}]))
    assert gpu.fan_speed == (12 if fan == 12.5 else None)


@pytest.mark.parametrize(
    ("temp", "celsius"), [("58F", 14), ("212F", 100), ("58C", 58), ("58K", None)]
)
def test_temperature_units(temp: str, celsius: int | None) -> None:
    [gpu] = _gpus(json.dumps([{"device_name": "x", "temp": temp}]))
    assert gpu.temperature == celsius


def test_unknown_keys_are_ignored() -> None:
    text = json.dumps(
        [{"device_name": "x", "gpu_util": "5%", "pcie_rx": "10MB/s", "new_in_3.4": {"a": [1]}}]
    )
    [gpu] = _gpus(text)
    assert gpu.utilization == 5


def test_gpus_are_numbered_by_order() -> None:
    text = json.dumps([{"device_name": "a"}, {"device_name": None}, {}])
    assert [(g.id, g.name) for g in _gpus(text)] == [(0, "a"), (1, "GPU 1"), (2, "GPU 2")]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "No GPU to monitor.",
        "[",
        '[{"temp": "58C",,}]',
        '{"device_name": "x"}',
        '["not an object"]',
        "[" * 100_000,  # absurd nesting
        "[" + "1" * 5000 + "]",  # an integer Python refuses to parse
    ],
)
def test_invalid_output_raises_nvtop_error(text: str) -> None:
    with pytest.raises(NvtopError):
        load_snapshot(text)


# -- the provider -----------------------------------------------------------------------------


def test_provider_samples_the_capture(binary: str, h200_loaded: Any) -> None:
    runner = FakeRunner(lambda argv: (0, h200_loaded.text("nvtop-snapshot.json"), ""))
    provider = NvtopProvider(binary, runner=runner)
    [gpu] = provider.sample()
    assert (gpu.utilization, gpu.temperature) == (57, 58)
    assert runner.calls[-1] == [binary, "-s"]


def test_no_gpu_to_monitor_is_unavailable_at_construction(binary: str) -> None:
    with pytest.raises(ProviderUnavailable, match="No GPU to monitor"):
        NvtopProvider(binary, runner=FakeRunner(lambda argv: (0, "No GPU to monitor.\n", "")))


def test_empty_list_is_unavailable(binary: str) -> None:
    with pytest.raises(ProviderUnavailable, match="no GPU"):
        NvtopProvider(binary, runner=FakeRunner(lambda argv: (0, "[]\n", "")))


def test_version_without_snapshot_option(binary: str) -> None:
    runner = FakeRunner(lambda argv: (1, "", "nvtop: invalid option -- 's'\n"))
    with pytest.raises(ProviderUnavailable, match=r"3\.2\.0"):
        NvtopProvider(binary, runner=runner)


def test_timeout_is_a_provider_error(binary: str, h200_loaded: Any) -> None:
    runner = FakeRunner(lambda argv: (0, h200_loaded.text("nvtop-snapshot.json"), ""))
    provider = NvtopProvider(binary, runner=runner, timeout=0.25)

    def hang(argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
        raise subprocess.TimeoutExpired(list(argv), timeout)

    provider._run = hang
    with pytest.raises(NvtopError, match=r"did not answer within 0\.25 s"):
        provider.sample()


# -- fuzzing ----------------------------------------------------------------------------------

VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.from_regex(r"-?[0-9]{1,400}(\.[0-9]+)?(C|F|W|%|MHz|RPM)?", fullmatch=True),
    st.text(max_size=20),
)
KEYS = st.sampled_from(
    ["device_name", "gpu_clock", "mem_clock", "temp", "fan_speed", "power_draw", "gpu_util",
     "mem_util", "mem_total", "mem_used", "mem_free", "encode", "decode", "encode_decode"]
)  # fmt: skip
PROCESS = st.dictionaries(
    st.sampled_from(["pid", "cmdline", "kind", "user", "gpu_usage", "gpu_mem_bytes_alloc"]),
    VALUES,
)
GPU = st.dictionaries(KEYS, VALUES).flatmap(
    lambda d: st.one_of(st.just(d), st.lists(st.one_of(PROCESS, VALUES)).map(
        lambda p: {**d, "processes": p}))
)  # fmt: skip


def _as_nvtop_text(gpus: list[dict[str, Any]], drop_commas: bool) -> str:
    text = json.dumps(gpus, indent=1)
    return text.replace(",\n", "\n") if drop_commas else text


@settings(max_examples=150, deadline=None)
@given(
    text=st.one_of(
        st.text(),
        st.text().map(lambda t: "[" + t),
        st.builds(_as_nvtop_text, st.lists(GPU, max_size=3), st.booleans()),
    )
)
@example(text='[{"temp": 1e400}]')
@example(text='[{"power_draw": NaN, "gpu_util": Infinity}]')
@example(text='[{"temp": %s}]' % ("1" * 400))
@example(text='[{"mem_total": "%sW"}]' % ("9" * 400))
def test_fuzz_snapshot_parses_or_raises_nvtop_error(text: str) -> None:
    assert issubclass(NvtopError, ProviderError)
    try:
        gpus = gpus_from_snapshot(load_snapshot(text), FakeResolver())
    except NvtopError:  # anything else fails the test
        return
    for gpu in gpus:
        wire = json.loads(gpu.model_dump_json(by_alias=True))
        for key in ("temperature", "powerUsage", "utilization", "smClock"):
            assert wire[key] is None or isinstance(wire[key], int | float)


# -- faults: one GPU not answering, odd entries ---------------------------------------------------

_SILENT = {
    "device_name": "NVIDIA H200", "gpu_clock": None, "mem_clock": None, "temp": None,
    "fan_speed": None, "power_draw": None, "gpu_util": None, "mem_util": None,
}  # fmt: skip


def test_a_gpu_with_no_reading_fails_alone() -> None:
    healthy = json.loads(NVTOP_332)[0]
    first, silent = _gpus(json.dumps([healthy, _SILENT]))
    assert (first.status, first.utilization) == ("ok", 57)
    assert (silent.id, silent.status, silent.name) == (1, "failed", "NVIDIA H200")
    assert silent.error is not None and "no reading" in silent.error


def test_an_entry_that_is_not_an_object_fails_that_gpu_only() -> None:
    healthy = json.loads(NVTOP_332)[0]
    first, odd = _gpus(json.dumps([healthy, "garbage"]))
    assert first.status == "ok"
    assert (odd.id, odd.status) == (1, "failed")


def test_bad_process_entries_cost_themselves_and_are_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    item = json.loads(NVTOP_332)[0]
    good = item["processes"][0]
    item["processes"] = ["junk", {"pid": "not a pid"}, {"pid": str(2**40)}, good]
    problems = OnceLog(logging.getLogger("gpulens.nvtop"))  # the provider keeps one
    with caplog.at_level("WARNING", logger="gpulens.nvtop"):
        for _ in range(3):
            items = load_snapshot(json.dumps([item]))
            [gpu] = gpus_from_snapshot(items, FakeResolver(), problems)
            assert [p.pid for p in gpu.processes] == [int(good["pid"])]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == len(set(messages)) == 2  # not an object; no valid pid
