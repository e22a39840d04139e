"""nvidia-smi CSV parsing against the real captures, and the provider around a real subprocess."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gpulens.core.metrics.providers.base import ProviderError, ProviderUnavailable
from gpulens.core.metrics.providers.nvidia_smi import (
    APP_FIELDS,
    GPU_FIELDS_BASIC,
    GPU_FIELDS_FULL,
    NvidiaSmiError,
    NvidiaSmiProvider,
    apps_from_rows,
    gpu_from_row,
    is_missing,
    parse_csv,
)

from ..conftest import H200_UUID, FakeResolver
from .conftest import (
    CAPTURED_APP_FIELDS,
    MISSING_TOKENS,
    FakeRunner,
    captured_row,
    line_for,
    nvidia_smi_answer,
    query_of,
)

# -- parsing the captures -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["query-gpu-full-nounits.csv", "query-gpu-full.csv"])
def test_loaded_capture_parses(h200_loaded: Any, name: str) -> None:
    gpu = gpu_from_row(captured_row(h200_loaded, name), cuda="13.0")
    assert (gpu.id, gpu.name, gpu.uuid) == (0, "NVIDIA H200", H200_UUID)
    assert gpu.pci_bus_id == "00000000:00:06.0"
    assert (gpu.driver_version, gpu.cuda_version) == ("580.159.04", "13.0")
    assert gpu.fan_speed is None  # [N/A]
    assert (gpu.memory_total, gpu.memory_used, gpu.memory_free) == (143771, 11905, 131252)
    assert gpu.memory_reserved == 616
    assert gpu.power_limit == 700.0
    assert (gpu.encoder_utilization, gpu.decoder_utilization) == (0, 0)
    assert (gpu.memory_clock, gpu.pstate) == (3201, 0)
    assert gpu.clock_event_reasons == ["sw_power_cap"]
    if name == "query-gpu-full.csv":  # "40 %", "518.29 W", "1860 MHz": the units are dropped
        assert (gpu.utilization, gpu.temperature, gpu.power_usage) == (40, 57, 518.29)
        assert gpu.sm_clock == 1860
    else:
        assert (gpu.utilization, gpu.temperature, gpu.power_usage) == (43, 62, 509.02)
        assert gpu.sm_clock == 1680


def test_idle_capture_parses(h200_idle: Any) -> None:
    gpu = gpu_from_row(captured_row(h200_idle))
    assert (gpu.utilization, gpu.memory_used, gpu.memory_free) == (0, 0, 143156)
    assert (gpu.power_usage, gpu.temperature) == (84.28, 42)
    assert gpu.clock_event_reasons == ["gpu_idle"]
    assert gpu.cuda_version is None  # not in --query-gpu


def test_basic_capture_parses(h200_loaded: Any) -> None:
    fields = (
        "timestamp", "index", "name", "uuid", "driver_version", "fan.speed", "temperature.gpu",
        "utilization.gpu", "utilization.memory", "memory.total", "memory.used", "memory.free",
        "power.draw", "power.limit",
    )  # fmt: skip
    [row] = parse_csv(h200_loaded.text("query-gpu-basic-nounits.csv"), fields)
    gpu = gpu_from_row(row)
    assert (gpu.utilization, gpu.memory_used, gpu.temperature) == (43, 11905, 62)
    assert (gpu.power_usage, gpu.power_limit) == (503.87, 700.0)  # power.limit when no enforced
    assert gpu.fan_speed is None


@pytest.mark.parametrize("name", ["query-compute-apps.csv", "query-compute-apps-nounits.csv"])
def test_compute_apps_capture_parses(h200_loaded: Any, name: str) -> None:
    apps = apps_from_rows(parse_csv(h200_loaded.csv_body(name), CAPTURED_APP_FIELDS))
    assert [(a.pid, a.name, a.used_memory_mib, a.gpu_uuid) for a in apps] == [
        (484, "python3", 2696, H200_UUID),
        (483, "python3", 9194, H200_UUID),
    ]


def test_idle_compute_apps_capture_is_empty(h200_idle: Any) -> None:
    assert parse_csv(h200_idle.csv_body("query-compute-apps.csv"), CAPTURED_APP_FIELDS) == []
    assert parse_csv(h200_idle.text("query-compute-apps-nounits.csv"), APP_FIELDS) == []


@pytest.mark.parametrize("token", MISSING_TOKENS)
def test_every_missing_value_token_becomes_null(h200_loaded: Any, token: str) -> None:
    row = captured_row(h200_loaded)
    for field in ("utilization.gpu", "memory.used", "temperature.gpu", "power.draw", "pstate"):
        row[field] = token
    line = line_for(row, GPU_FIELDS_FULL).replace("[N/A]", token)
    [parsed] = parse_csv(line, GPU_FIELDS_FULL)
    assert is_missing(token)
    gpu = gpu_from_row(parsed)
    assert gpu.utilization is None
    assert gpu.memory_used is None
    assert gpu.temperature is None
    assert gpu.power_usage is None
    assert gpu.pstate is None
    assert gpu.memory_total == 143771  # the rest is still read


@pytest.mark.parametrize("token", MISSING_TOKENS)
def test_process_memory_missing_is_null(token: str) -> None:
    [app] = apps_from_rows(parse_csv(f"483, {token}, {H200_UUID}, python3\n", APP_FIELDS))
    assert (app.pid, app.used_memory_mib, app.name) == (483, None, "python3")


def test_gpu_name_with_commas_is_kept_whole(h200_loaded: Any) -> None:
    row = captured_row(h200_loaded) | {"name": "NVIDIA H200, Rev. 2, test"}
    [parsed] = parse_csv(line_for(row, GPU_FIELDS_FULL), GPU_FIELDS_FULL)
    gpu = gpu_from_row(parsed)
    assert gpu.name == "NVIDIA H200, Rev. 2, test"
    assert gpu.utilization == 43  # no column shifted


def test_process_name_with_commas_is_kept_whole() -> None:
    text = f"483, 9194, {H200_UUID}, /opt/my,app/python3, --flag, x\n"
    [app] = apps_from_rows(parse_csv(text, APP_FIELDS))
    assert (app.pid, app.used_memory_mib, app.gpu_uuid) == (483, 9194, H200_UUID)
    assert app.name == "python3, --flag, x"


@pytest.mark.parametrize("cut", [10, 40, 120])
def test_truncated_line_raises(h200_loaded: Any, cut: int) -> None:
    line = line_for(captured_row(h200_loaded), GPU_FIELDS_FULL)
    with pytest.raises(NvidiaSmiError, match="line 2 has"):
        parse_csv(line + "\n" + line[:cut] + "\n", GPU_FIELDS_FULL)


def test_row_without_index_raises() -> None:
    [row] = parse_csv(", ".join(["[N/A]"] * len(GPU_FIELDS_FULL)), GPU_FIELDS_FULL)
    with pytest.raises(NvidiaSmiError, match="index"):
        gpu_from_row(row)


# -- the provider with an injected runner ----------------------------------------------------


def test_provider_reads_gpus_processes_and_cuda(binary: str, h200_loaded: Any) -> None:
    runner = FakeRunner(nvidia_smi_answer(h200_loaded))
    provider = NvidiaSmiProvider(binary, runner=runner, resolver=FakeResolver(user="bob"))
    [gpu] = provider.sample()
    assert gpu.cuda_version == "13.0"  # from the default table's header
    assert (gpu.utilization, gpu.memory_used) == (43, 11905)
    assert [(p.pid, p.name, p.used_memory_mib, p.user) for p in gpu.processes] == [
        (483, "python3", 9194, "bob"),
        (484, "python3", 2696, "bob"),
    ]
    queried = [query_of(c) for c in runner.calls if query_of(c)]
    assert queried[0] == f"--query-gpu={','.join(GPU_FIELDS_FULL)}"
    assert all("--format=csv,noheader,nounits" in c for c in runner.calls if query_of(c))


def test_no_devices_found_is_unavailable_with_that_text(binary: str) -> None:
    runner = FakeRunner(lambda argv: (6, "No devices were found\n", ""))
    with pytest.raises(ProviderUnavailable, match="No devices were found"):
        NvidiaSmiProvider(binary, runner=runner)


def test_driver_communication_error_is_unavailable(binary: str) -> None:
    text = (
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
        "Make sure that the latest NVIDIA driver is installed and running.\n"
    )
    runner = FakeRunner(lambda argv: (9, text, ""))
    with pytest.raises(ProviderUnavailable, match="couldn't communicate"):
        NvidiaSmiProvider(binary, runner=runner)


def test_unknown_field_falls_back_to_the_basic_fields(binary: str, h200_loaded: Any) -> None:
    good = nvidia_smi_answer(h200_loaded)

    def answer(argv: list[str]) -> tuple[int, str, str]:
        if "memory.reserved" in query_of(argv):
            return 2, 'Field "memory.reserved" is not a valid field to query.\n\n', ""
        return good(argv)

    runner = FakeRunner(answer)
    [gpu] = NvidiaSmiProvider(binary, runner=runner).sample()
    queried = [query_of(c) for c in runner.calls if query_of(c).startswith("--query-gpu")]
    assert queried[0] == f"--query-gpu={','.join(GPU_FIELDS_FULL)}"
    assert set(queried[1:]) == {f"--query-gpu={','.join(GPU_FIELDS_BASIC)}"}
    assert (gpu.utilization, gpu.memory_used, gpu.power_limit) == (43, 11905, 700.0)
    assert gpu.memory_reserved is None  # not asked any more


def test_basic_fields_rejected_too_is_unavailable(binary: str) -> None:
    runner = FakeRunner(lambda argv: (2, 'Field "x" is not a valid field to query.\n', ""))
    with pytest.raises(ProviderUnavailable, match="not a valid field"):
        NvidiaSmiProvider(binary, runner=runner)
    assert len(runner.calls) == 2


def test_empty_output(binary: str, h200_loaded: Any) -> None:
    runner = FakeRunner(lambda argv: (0, "", ""))
    with pytest.raises(ProviderUnavailable, match="no GPU"):
        NvidiaSmiProvider(binary, runner=runner)
    # Working at start, then printing nothing: this sample fails, as a ProviderError.
    good = nvidia_smi_answer(h200_loaded)
    runner = FakeRunner(good)
    provider = NvidiaSmiProvider(binary, runner=runner)
    runner.answer = lambda argv: (0, "", "")
    with pytest.raises(NvidiaSmiError, match="no GPU"):
        provider.sample()


def test_process_query_failing_keeps_the_gpu_readings(binary: str, h200_loaded: Any) -> None:
    good = nvidia_smi_answer(h200_loaded)

    def answer(argv: list[str]) -> tuple[int, str, str]:
        if query_of(argv).startswith("--query-compute-apps"):
            return 15, "Unknown Error\n", ""
        return good(argv)

    [gpu] = NvidiaSmiProvider(binary, runner=FakeRunner(answer)).sample()
    assert gpu.utilization == 43
    assert gpu.processes == []


def test_missing_binary_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ProviderUnavailable, match="does not exist"):
        NvidiaSmiProvider(str(tmp_path / "nope"))


# -- real subprocesses -------------------------------------------------------------------------


def _script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(path)


def _gone(pid: int, within: float = 10.0) -> bool:
    """Whether ``pid`` is dead (or a zombie nobody reaped yet), waiting up to ``within``."""
    deadline = time.monotonic() + within
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def test_real_hang_times_out_and_the_child_is_killed(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    # A wrapper that leaves the real work to a child of its own, as vendor wrappers do.
    binary = _script(
        tmp_path / "nvidia-smi",
        f'sleep 30 &\necho "$$ $!" > "{pids}"\nwait\n',
    )
    with pytest.raises(ProviderUnavailable, match=r"did not answer within 0\.5 s"):
        NvidiaSmiProvider(binary, timeout=0.5)
    shell, sleeper = (int(p) for p in pids.read_text().split())
    assert _gone(shell)
    assert _gone(sleeper), "the tool's own child outlived the timeout"


def test_fake_nvidia_smi_end_to_end(tmp_path: Path, h200_loaded: Any) -> None:
    """A shell script printing the captured CSV: argv, environment, pipes and parsing for real."""
    row = captured_row(h200_loaded)
    apps = parse_csv(h200_loaded.csv_body("query-compute-apps.csv"), CAPTURED_APP_FIELDS)
    (tmp_path / "gpu.csv").write_text(line_for(row, GPU_FIELDS_FULL) + "\n")
    (tmp_path / "apps.csv").write_text("".join(line_for(a, APP_FIELDS) + "\n" for a in apps))
    (tmp_path / "table.txt").write_text(h200_loaded.text("nvidia-smi.txt"))
    binary = _script(
        tmp_path / "nvidia-smi",
        f"""case "$1" in
  --query-gpu={",".join(GPU_FIELDS_FULL)}) cat "{tmp_path}/gpu.csv" ;;
  --query-compute-apps={",".join(APP_FIELDS)}) cat "{tmp_path}/apps.csv" ;;
  "") cat "{tmp_path}/table.txt" ;;
  *) echo "Invalid combination of input arguments: $1"; exit 2 ;;
esac
""",
    )
    provider = NvidiaSmiProvider(binary, resolver=FakeResolver(user="carol"))
    [gpu] = provider.sample()
    assert (gpu.uuid, gpu.cuda_version, gpu.utilization) == (H200_UUID, "13.0", 43)
    assert (gpu.memory_used, gpu.power_usage, gpu.fan_speed) == (11905, 509.02, None)
    assert [(p.pid, p.used_memory_mib, p.name) for p in gpu.processes] == [
        (483, 9194, "python3"),
        (484, 2696, "python3"),
    ]
    assert os.access(binary, os.X_OK)


# -- fuzzing -----------------------------------------------------------------------------------

TOKENS = st.one_of(
    st.sampled_from([*MISSING_TOKENS, "0", "43", "-1", "101", "1e5", "P0", "P99", "0x4", "inf"]),
    st.from_regex(r"-?[0-9]{1,400}(\.[0-9]{1,5})?( %| MiB| W| MHz)?", fullmatch=True),
    st.text(max_size=30),
)


def _rows_of(fields: Sequence[str]) -> st.SearchStrategy[str]:
    line = st.lists(TOKENS, min_size=len(fields) - 2, max_size=len(fields) + 2).map(", ".join)
    return st.lists(line, max_size=4).map("\n".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(st.text(), _rows_of(GPU_FIELDS_FULL), _rows_of(GPU_FIELDS_BASIC)))
@example(text="9" * 400 + ", x" * 21)  # an index that overflows a float to inf
@example(text="0, " + "1" * 400 + ", x" * 20)  # so does a value
@example(text="0" + ", x" * 17 + ", P\u00b2" + ", x" * 3)  # pstate "P²": isdigit, not a number
def test_fuzz_gpu_csv_parses_or_raises_nvidia_smi_error(text: str) -> None:
    assert issubclass(NvidiaSmiError, ProviderError)
    for fields in (GPU_FIELDS_FULL, GPU_FIELDS_BASIC):
        message = None
        try:
            gpus = [gpu_from_row(row) for row in parse_csv(text, fields)]
        except NvidiaSmiError as exc:  # anything else fails the test
            message, gpus = str(exc), []
        assert message is None or message.startswith("nvidia-smi")
        for gpu in gpus:
            assert gpu.id >= 0
            gpu.model_dump_json(by_alias=True)


@settings(max_examples=100, deadline=None)
@given(text=st.one_of(st.text(), _rows_of(APP_FIELDS)))
@example(text="1" * 400 + ", 1, GPU-x, python3")
def test_fuzz_apps_csv_parses_or_raises_nvidia_smi_error(text: str) -> None:
    try:
        apps = apps_from_rows(parse_csv(text, APP_FIELDS))
    except NvidiaSmiError:
        return
    assert all(a.pid >= 0 for a in apps)
