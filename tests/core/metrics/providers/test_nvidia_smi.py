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
    Answer,
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
    assert gpu.sm_clock_max == 1980  # clocks.max.sm
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
    assert app.name == "/opt/my,app/python3, --flag, x"  # the full path, commas and all


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
    assert gpu.sm_clock_max == 1980
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


# -- faults: a lost GPU among working ones, hostile process names ------------------------------

LOST = (
    "Unable to determine the device handle for GPU{bus}: GPU is lost.  "
    "Reboot the system to recover this GPU"
)


def _gpu_line(capture: Any, index: int, bus: str) -> str:
    row = dict(captured_row(capture))
    row.update({"index": str(index), "uuid": f"GPU-0000000{index}-aaaa", "pci.bus_id": bus})
    return line_for(row, GPU_FIELDS_FULL)


def _bus(n: int) -> str:
    return f"00000000:{0x10 + n:02X}:00.0"


def _lost_answer(
    capture: Any, healthy: list[int], lost: list[int], where: str = "stdout"
) -> Answer:
    """nvidia-smi with GPUs ``lost`` fallen off the bus: exit 15, their rows replaced by a line."""
    apps = f"483, 9194, GPU-0000000{healthy[0]}-aaaa, /usr/bin/python3\n" if healthy else ""

    def answer(argv: list[str]) -> tuple[int, str, str]:
        query = query_of(argv)
        lost_lines = "".join(LOST.format(bus=_bus(i)[4:]) + "\n" for i in lost)
        if query.startswith("--query-gpu="):
            rows = "".join(_gpu_line(capture, i, _bus(i)) + "\n" for i in healthy)
            if where == "stdout":
                return (15 if lost else 0), lost_lines + rows, ""
            return (15 if lost else 0), rows, lost_lines
        if query.startswith("--query-compute-apps="):
            return (15 if lost else 0), lost_lines + apps, ""
        return 0, capture.text("nvidia-smi.txt"), ""

    return answer


@pytest.mark.parametrize("where", ["stdout", "stderr"])
def test_one_lost_gpu_of_two_fails_alone(binary: str, h200_loaded: Any, where: str) -> None:
    runner = FakeRunner(_lost_answer(h200_loaded, healthy=[1], lost=[0], where=where))
    provider = NvidiaSmiProvider(binary, runner=runner, resolver=FakeResolver(user="bob"))
    lost, healthy = provider.sample()
    assert (healthy.id, healthy.status, healthy.utilization) == (1, "ok", 43)
    assert [(p.pid, p.name) for p in healthy.processes] == [(483, "/usr/bin/python3")]
    assert (lost.id, lost.status, lost.pci_bus_id) == (0, "failed", "00000000:10:00.0")
    assert lost.error == "GPU is lost. Reboot the system to recover this GPU"
    assert lost.utilization is None and lost.processes == []


def test_one_lost_gpu_of_eight_takes_its_place_in_bus_order(binary: str, h200_loaded: Any) -> None:
    runner = FakeRunner(_lost_answer(h200_loaded, healthy=[0, 1, 2, 3, 4, 6, 7], lost=[5]))
    gpus = NvidiaSmiProvider(binary, runner=runner, resolver=FakeResolver()).sample()
    assert [g.id for g in gpus] == list(range(8))
    assert [g.status for g in gpus] == ["ok"] * 5 + ["failed"] + ["ok"] * 2
    assert gpus[5].pci_bus_id == _bus(5)


def test_a_gpu_seen_before_keeps_its_identity_when_lost(binary: str, h200_loaded: Any) -> None:
    runner = FakeRunner(_lost_answer(h200_loaded, healthy=[0, 1], lost=[]))
    provider = NvidiaSmiProvider(binary, runner=runner, resolver=FakeResolver())
    runner.answer = _lost_answer(h200_loaded, healthy=[1], lost=[0])
    lost, _ = provider.sample()
    assert (lost.id, lost.uuid, lost.name, lost.status) == (
        0,
        "GPU-00000000-aaaa",
        "NVIDIA H200",
        "failed",
    )
    assert lost.memory_total == 143771


def test_the_only_gpu_lost_opens_and_shows_it_failed_with_the_reason(
    binary: str, h200_loaded: Any
) -> None:
    runner = FakeRunner(_lost_answer(h200_loaded, healthy=[], lost=[0]))
    [gpu] = NvidiaSmiProvider(binary, runner=runner).sample()
    assert (gpu.id, gpu.status) == (0, "failed")
    assert gpu.error is not None and "GPU is lost" in gpu.error
    assert not any("--query-compute-apps" in query_of(c) for c in runner.calls[-1:])


def test_a_failure_reason_is_never_a_data_row_or_escapes(binary: str, h200_loaded: Any) -> None:
    row = _gpu_line(h200_loaded, 0, _bus(0))
    runner = FakeRunner(lambda argv: (15, "\x1b[31mUnknown Error\x1b[0m\n", ""))
    with pytest.raises(ProviderUnavailable) as caught:
        NvidiaSmiProvider(binary, runner=runner)
    assert str(caught.value) == "nvidia-smi: Unknown Error"
    runner = FakeRunner(lambda argv: (15, row[:40] + "\n", ""))  # a cut row, nothing usable
    with pytest.raises(ProviderUnavailable) as caught:
        NvidiaSmiProvider(binary, runner=runner)
    assert row[:20] not in str(caught.value)
    assert "no usable row" in str(caught.value)


HOSTILE_NAMES = {
    "carriage return": "/tmp/job\rname",
    "line feed": "/tmp/job\nname",
    "line feed then a fake row": "job\n999, 1, GPU-zzz",
    "escape sequence": "\x1b[2J\x1b[31mjob",
    "bell": "job\x07",
    "nul": "jo\x00b",
    "10 KB": "x" * 10_240,
    "html": "<script>alert(1)</script>",
    "commas": "my,job,with,commas",
    "quotes": "say \"hi\" 'there'",
    "bidi": "train\u202eyp.exe",
}


@pytest.mark.parametrize("label", sorted(HOSTILE_NAMES))
def test_one_odd_process_name_hides_no_other_process(
    binary: str, h200_loaded: Any, label: str
) -> None:
    good = nvidia_smi_answer(h200_loaded)
    odd = HOSTILE_NAMES[label]

    def answer(argv: list[str]) -> tuple[int, str, str]:
        if query_of(argv).startswith("--query-compute-apps"):
            # What a real run gives after text decoding: CR as a line break (universal newlines).
            text = f"483, 9194, {H200_UUID}, /usr/bin/python3\n500, 77, {H200_UUID}, {odd}\n"
            text += f"484, 2696, {H200_UUID}, python3\n"
            return 0, text.replace("\r", "\n"), ""
        return good(argv)

    [gpu] = NvidiaSmiProvider(binary, runner=FakeRunner(answer), resolver=FakeResolver()).sample()
    by_pid = {p.pid: p for p in gpu.processes}
    assert {483, 484, 500} <= set(by_pid)
    name = by_pid[500].name
    assert name is not None and len(name) <= 256
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or c == "\u202e" for c in name)
    assert by_pid[483].name == "/usr/bin/python3"
    if label in ("html", "commas", "quotes"):
        assert name == odd  # kept whole, never cut at a "/" or a comma


def test_non_utf8_name_from_a_real_process(tmp_path: Path, h200_loaded: Any) -> None:
    row = captured_row(h200_loaded)
    (tmp_path / "gpu.csv").write_text(line_for(row, GPU_FIELDS_FULL) + "\n")
    (tmp_path / "apps.csv").write_bytes(
        f"483, 9194, {H200_UUID}, /opt/\xff\xfejob\n484, 1, {H200_UUID}, ok\n".encode("latin-1")
    )
    binary = _script(
        tmp_path / "nvidia-smi",
        f"""case "$1" in
  --query-gpu=*) cat "{tmp_path}/gpu.csv" ;;
  --query-compute-apps=*) cat "{tmp_path}/apps.csv" ;;
esac
""",
    )
    [gpu] = NvidiaSmiProvider(binary, resolver=FakeResolver()).sample()
    names = {p.pid: p.name for p in gpu.processes}
    assert names == {483: "/opt/\ufffdjob", 484: "ok"}  # undecodable bytes: one mark


def test_a_malformed_process_row_costs_that_row_only_and_is_logged_once(
    binary: str, h200_loaded: Any, caplog: pytest.LogCaptureFixture
) -> None:
    good = nvidia_smi_answer(h200_loaded)

    def answer(argv: list[str]) -> tuple[int, str, str]:
        if query_of(argv).startswith("--query-compute-apps"):
            return 0, f"garbage without columns\n483, 9194, {H200_UUID}, python3\n", ""
        return good(argv)

    provider = NvidiaSmiProvider(binary, runner=FakeRunner(answer), resolver=FakeResolver())
    with caplog.at_level("WARNING", logger="gpulens.nvidia_smi"):
        for _ in range(5):
            [gpu] = provider.sample()
            assert [p.pid for p in gpu.processes] == [483]
    skipped = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 1
    assert "process line 1" in skipped[0].getMessage()


def test_a_gpu_row_without_index_costs_that_row_only(binary: str, h200_loaded: Any) -> None:
    bad = ", ".join(["[N/A]"] * len(GPU_FIELDS_FULL))
    good_line = _gpu_line(h200_loaded, 1, _bus(1))
    runner = FakeRunner(
        lambda argv: (
            (0, f"{bad}\n{good_line}\n", "")
            if query_of(argv).startswith("--query-gpu")
            else (0, "", "")
        )
    )
    [gpu] = NvidiaSmiProvider(binary, runner=runner).sample()
    assert (gpu.id, gpu.status) == (1, "ok")


def test_every_queried_field_is_one_this_driver_knows(h200_loaded: Any) -> None:
    # An unknown field fails the whole query: each one must be in the driver's own list.
    known = (h200_loaded.path.parent / "help-query-gpu.txt").read_text()
    for field in (*GPU_FIELDS_FULL, *GPU_FIELDS_BASIC):
        assert f'"{field}"' in known, field
    assert "clocks.max.sm" in GPU_FIELDS_FULL
    assert GPU_FIELDS_FULL[-1] == "name"  # the free-text column stays last


def test_processes_carry_their_start_time_and_container(binary: str, h200_loaded: Any) -> None:
    resolver = FakeResolver(started={483: 1796000000.25}, containers={484: "56dfa3bc9444"})
    runner = FakeRunner(nvidia_smi_answer(h200_loaded))
    [gpu] = NvidiaSmiProvider(binary, runner=runner, resolver=resolver).sample()
    got = [(p.pid, p.start_time, p.container) for p in gpu.processes]
    assert got == [(483, 1796000000.25, None), (484, None, "56dfa3bc9444")]
