"""The findings detector, driven by the real H200/H100 readings changed over time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gpulens.config import Settings
from gpulens.core.metrics.providers.base import XidEvent
from gpulens.core.metrics.schema import GpuInfo, Telemetry
from gpulens.services.findings.detector import FindingsDetector, Thresholds, sees_host_pids
from gpulens.services.findings.model import Detection, Event
from gpulens.services.findings.rules import XIDS, Track, duration, xid_severity
from gpulens.services.messages import GpuChange, ProviderStatus
from gpulens.services.sampler import Sample
from tests.fakes import FakeSystem

T0 = 1_795_665_768.0  # the H100 trace's own wall clock
OK = ProviderStatus(state="ok", provider="nvml")
GpuOf = Callable[[str], GpuInfo]


def sample(
    t: float, gpus: Sequence[GpuInfo], *, xid: Sequence[XidEvent] = (), source: str = "nvml",
    status: ProviderStatus = OK,
) -> Sample:  # fmt: skip
    payload = Telemetry(
        seq=0, timestamp=datetime.fromtimestamp(T0 + t, UTC), source=source, gpus=list(gpus),
        system=FakeSystem().sample(),
    )  # fmt: skip
    return Sample(payload, status, 0.001, tuple(xid))


class Lookups:
    """A ``pid_exists`` that records its calls: ``alive`` says which pids exist."""

    def __init__(self, alive: Callable[[int], bool] = lambda pid: True) -> None:
        self.alive = alive
        self.calls: list[int] = []

    def __call__(self, pid: int) -> bool:
        self.calls.append(pid)
        return self.alive(pid)


class Run:
    """A detector and everything it said, stepped with seconds since T0."""

    def __init__(self, thresholds: Thresholds | None = None, **kw: Any) -> None:
        kw.setdefault("host_pids", True)
        kw.setdefault("pid_exists", lambda pid: True)
        self.detector = FindingsDetector(thresholds or Thresholds(), **kw)
        self.events: list[Event] = []
        self.changed = 0
        self.last: Detection | None = None

    def step(
        self, t: float, gpus: Sequence[GpuInfo], changes: Sequence[GpuChange] = (),
        status_changed: bool = False, **kw: Any,
    ) -> Detection:  # fmt: skip
        detection = self.detector.step(sample(t, gpus, **kw), changes, status_changed)
        self.events.extend(detection.events)
        self.changed += detection.changed
        self.last = detection
        return detection

    def steps(self, times: Sequence[float] | range, gpus: Sequence[GpuInfo], **kw: Any) -> None:
        for t in times:
            self.step(t, gpus, **kw)

    @property
    def findings(self) -> tuple[Event, ...]:
        return self.detector.findings

    def kinds(self) -> list[tuple[str, bool]]:
        """(kind, started) for each event: started = a finding's start (end None)."""
        return [(e.kind, e.end is None) for e in self.events]


def calm(gpu: GpuInfo) -> GpuInfo:
    """The GPU without the capture's sw_power_cap (when throttling is not what is tested)."""
    return gpu.model_copy(update={"clock_event_reasons": []})


def with_process(gpu: GpuInfo, index: int, **update: Any) -> GpuInfo:
    processes = list(gpu.processes)
    processes[index] = processes[index].model_copy(update=update)
    return gpu.model_copy(update={"processes": processes})


# -- settings and helpers ---------------------------------------------------


def test_thresholds_come_from_the_settings(clean_env: Path) -> None:
    settings = Settings(
        idle_holding_gib=2.5, idle_holding_s=30, unowned_memory_gib=4, unowned_memory_s=20,
        dead_holder_s=7, throttling_s=3, hot_margin_c=8, finding_clear_s=15,
        poll_interval_ms=250,
    )  # fmt: skip
    t = Thresholds.from_settings(settings)
    assert (t.idle_holding_gib, t.idle_holding_s, t.unowned_memory_gib) == (2.5, 30, 4)
    assert (t.unowned_memory_s, t.dead_holder_s, t.throttling_s) == (20, 7, 3)
    assert (t.hot_margin_c, t.finding_clear_s, t.poll_interval_s) == (8, 15, 0.25)
    assert t.max_step_s == 60.0
    assert Thresholds.from_settings(Settings()) == Thresholds()  # the same defaults


def test_host_pids_detection_needs_proc(monkeypatch: pytest.MonkeyPatch) -> None:
    import gpulens.services.findings.detector as detector

    monkeypatch.setattr(detector, "in_host_pid_namespace", lambda: False)
    assert sees_host_pids() is False
    assert FindingsDetector(Thresholds()).host_pids is False
    monkeypatch.setattr(detector, "in_host_pid_namespace", lambda: True)
    monkeypatch.setattr("os.path.isdir", lambda path: False)
    assert sees_host_pids() is False  # no /proc: no pid can be checked


def test_durations_and_the_xid_table() -> None:
    assert [duration(s) for s in (-3, 42, 61, 3600 + 5 * 60 + 9)] == [
        "0 s", "42 s", "1 min", "1 h 5 min",
    ]  # fmt: skip
    for code in (13, 31, 43, 45, 48, 61, 62, 63, 64, 68, 69, 74, 79, 92, 94, 95, 119, 120):
        assert code in XIDS
    assert [xid_severity(c) for c in (48, 63, 64, 74, 79, 92, 94, 95, 119, 120)] == [
        "critical"
    ] * 10
    assert [xid_severity(c) for c in (13, 31, 43, 45, 68, 69, 999)] == ["warning"] * 7


# -- a quiet GPU ------------------------------------------------------------


def test_the_real_idle_and_loaded_gpus_raise_nothing_but_the_power_cap(h200_gpu: GpuOf) -> None:
    idle, loaded = h200_gpu("idle"), h200_gpu("loaded")
    run = Run()
    run.steps(range(0, 900), [idle])
    assert run.events == [] and run.findings == () and run.changed == 0
    # Loaded: two busy processes (SM 44 % and 1 %), 15 MiB beyond them; sw_power_cap is on.
    run = Run()
    run.steps(range(0, 900), [loaded])
    assert run.kinds() == [("throttling", True)]
    assert run.findings[0].severity == "info"


def test_a_quiet_step_allocates_no_detection(h200_gpu: GpuOf) -> None:
    run = Run()
    first = run.step(0, [h200_gpu("idle")])
    second = run.step(1, [h200_gpu("idle")])
    assert first is second  # the same empty detection, nothing built
    assert (second.changed, second.events, second.findings) == (False, (), ())


# -- idleHolding ------------------------------------------------------------


def test_idle_holding_starts_after_its_time_and_ends_after_the_clear_time(
    h200_gpu: GpuOf,
) -> None:
    loaded = h200_gpu("loaded")
    idle_484 = with_process(
        loaded, 1, sm_utilization=0, start_time=T0 - 50, container="0123456789ab"
    )
    run = Run()
    run.steps(range(0, 600), [idle_484])  # 0 .. 599 s: not yet 600 s
    assert "idleHolding" not in [k for k, _ in run.kinds()]
    run.step(600, [idle_484])
    [event] = [e for e in run.events if e.kind == "idleHolding"]
    assert event.end is None and event.severity == "warning"
    assert event.start == datetime.fromtimestamp(T0, UTC)  # when it began, not when told
    assert (event.pid, event.process, event.user, event.container) == (
        484, "python3", "alice", "0123456789ab",
    )  # fmt: skip
    assert event.gpu == loaded.uuid and event.gpu_index == 0 and event.gpu_name == "NVIDIA H200"
    assert event.value == pytest.approx(2696 / 1024, abs=0.01)
    assert "2.6 GiB" in event.summary and "0 % SM" in event.summary and "10 min" in event.summary
    assert "alice" in event.action
    assert event.id == f"idleHolding:{loaded.uuid}:484:{int(T0 * 1000)}"
    # Busy again at 700 s: the finding ends after 60 s false, with its end when it stopped.
    run.steps(range(601, 700), [idle_484])
    run.steps(range(700, 759), [loaded])
    assert [e for e in run.events if e.kind == "idleHolding" and e.end] == []
    run.step(760, [loaded])
    ended = [e for e in run.events if e.kind == "idleHolding" and e.end is not None]
    assert len(ended) == 1
    assert ended[0].id == event.id
    assert ended[0].end == datetime.fromtimestamp(T0 + 700, UTC)
    assert "stopped holding" in ended[0].summary and "11 min" in ended[0].summary


def test_idle_judged_on_the_gpu_when_the_source_gives_no_per_process_sm(
    h100_trace: list[tuple[float, GpuInfo]],
) -> None:
    # The trace at 20 s: two processes (6.7 and 20.5 GiB), no per-process SM, GPU at 41 %.
    gpu = next(g for t, g in h100_trace if t == 20.0)
    assert [p.sm_utilization for p in gpu.processes] == [None, None] and gpu.utilization == 41
    thresholds = Thresholds(idle_holding_s=30)
    run = Run(thresholds)
    run.steps(range(0, 100), [gpu])
    assert not [e for e in run.events if e.kind == "idleHolding"]  # busy GPU: cannot tell
    stalled = gpu.model_copy(update={"utilization": 0})
    run.steps(range(100, 131), [stalled])
    started = [e for e in run.events if e.kind == "idleHolding"]
    assert sorted(e.pid or 0 for e in started) == [524, 656]
    assert all("while GPU 0 was at 0 %" in e.summary and e.user == "root" for e in started)


def test_a_process_left_out_of_nvmls_sm_samples_did_no_work(h200_gpu: GpuOf) -> None:
    # NVML lists only processes that ran in the period: 483 at 44 %, 484 not listed.
    gpu = with_process(h200_gpu("loaded"), 1, sm_utilization=None)
    run = Run(Thresholds(idle_holding_s=10))
    run.steps(range(0, 11), [gpu])
    assert [(e.kind, e.pid) for e in run.events if e.kind == "idleHolding"] == [
        ("idleHolding", 484)
    ]


def test_pid_reuse_is_a_new_session_and_a_new_finding(h200_gpu: GpuOf) -> None:
    loaded = h200_gpu("loaded")
    first = with_process(loaded, 1, sm_utilization=0, start_time=T0 - 100)
    reused = with_process(loaded, 1, sm_utilization=0, start_time=T0 + 650)
    run = Run(Thresholds(idle_holding_s=60, finding_clear_s=30))
    run.steps(range(0, 70), [first])
    run.steps(range(70, 200), [reused])  # same pid 484, another process
    idle = [e for e in run.events if e.kind == "idleHolding"]
    assert [(e.pid, e.end is None) for e in idle] == [(484, True), (484, False), (484, True)]
    assert idle[0].id == idle[1].id != idle[2].id
    assert idle[2].start == datetime.fromtimestamp(T0 + 70, UTC)


def test_a_user_with_no_name_is_reported_as_unknown(h200_gpu: GpuOf) -> None:
    gpu = with_process(h200_gpu("loaded"), 1, sm_utilization=0, user=None)
    checked = Lookups()
    run = Run(Thresholds(idle_holding_s=5), pid_exists=checked)
    run.steps(range(0, 30), [gpu])
    [event] = [e for e in run.events if e.kind == "idleHolding"]
    assert event.user is None and "user unknown" in event.summary
    assert "its owner" in event.action
    assert not [e for e in run.events if e.kind == "deadHolder"]  # alive, only nameless
    assert 1 <= len(checked.calls) <= 6  # looked up at most every DEAD_HOLDER_S / 2, not per sample


def test_steady_findings_are_retold_at_most_once_a_minute(h200_gpu: GpuOf) -> None:
    gpu = with_process(h200_gpu("loaded"), 1, sm_utilization=0)
    run = Run(Thresholds(idle_holding_s=5, throttling_s=5))
    run.steps(range(0, 10), [gpu])
    assert len(run.findings) == 2  # idle holder + the power cap
    run.changed = 0
    run.steps(range(10, 70), [gpu])
    assert run.changed <= 2
    run.changed = 0
    run.steps([x / 4 for x in range(280, 520)], [gpu])  # 60 s at 4 Hz
    assert run.changed <= 2
    [idle] = [f for f in run.findings if f.kind == "idleHolding"]
    assert "2 min" in idle.summary  # numbers do move, once a minute


# -- unownedMemory ----------------------------------------------------------


def test_unowned_memory_starts_after_its_time(h200_gpu: GpuOf) -> None:
    loaded = h200_gpu("loaded")
    leak = loaded.model_copy(update={"memory_used": (loaded.memory_used or 0) + 3 * 1024})
    run = Run()
    run.steps(range(0, 120), [leak])
    assert not [e for e in run.events if e.kind == "unownedMemory"]
    run.step(120, [leak])
    [event] = [e for e in run.events if e.kind == "unownedMemory"]
    assert event.value == pytest.approx(3.0, abs=0.02)
    assert "14977 MiB used, 11890 MiB by 2 listed processes" in event.summary
    assert "PID namespace" not in event.action
    run.steps(range(121, 200), [loaded])
    [ended] = [e for e in run.events if e.kind == "unownedMemory" and e.end is not None]
    assert "back under 1 GiB" in ended.summary


def test_unowned_memory_only_where_processes_are_listed_with_memory(
    h200_gpu: GpuOf, h100_trace: list[tuple[float, GpuInfo]]
) -> None:
    loaded = calm(h200_gpu("loaded"))
    leak = loaded.model_copy(update={"memory_used": (loaded.memory_used or 0) + 3 * 1024})
    # nvtop lists no process: its used memory is nobody's business here.
    run = Run()
    run.steps(range(0, 300), [leak.model_copy(update={"processes": []})], source="nvtop")
    assert run.events == []
    # A listed process without its memory: the sum is unknown.
    run = Run()
    run.steps(range(0, 300), [with_process(leak, 0, used_memory_mib=None)])
    assert not [e for e in run.events if e.kind == "unownedMemory"]
    # The idle H100 (480 MiB used by the driver, no process) is fine.
    run = Run()
    run.steps(range(0, 300), [h100_trace[0][1]])
    assert run.events == []
    # NVML with no process listed and 20 GiB used: reported.
    run = Run()
    run.steps(range(0, 300), [leak.model_copy(update={"processes": [], "memory_used": 20480})])
    assert [e.kind for e in run.events] == ["unownedMemory"]


def test_in_another_pid_namespace_unowned_memory_says_so_and_no_pid_is_checked(
    h200_gpu: GpuOf,
) -> None:
    loaded = h200_gpu("loaded")
    gpu = loaded.model_copy(
        update={
            "memory_used": 40_000,
            "processes": [
                p.model_copy(update={"name": None, "user": None}) for p in loaded.processes
            ],
        }
    )
    checked = Lookups(lambda pid: False)
    run = Run(host_pids=False, pid_exists=checked)
    run.steps(range(0, 300), [gpu])
    assert [e.kind for e in run.events] == ["throttling", "unownedMemory"]
    assert "another" in run.events[1].action and "PID namespace" in run.events[1].action
    assert checked.calls == []  # no deadHolder: these pids are not ours to look up


# -- deadHolder -------------------------------------------------------------


def test_a_dead_holder_needs_its_time_and_two_samples(h200_gpu: GpuOf) -> None:
    loaded = calm(h200_gpu("loaded"))
    gone = with_process(loaded, 1, name=None, user=None)
    run = Run(pid_exists=lambda pid: pid != 484)
    run.steps(range(0, 10), [gone])
    assert not [e for e in run.events if e.kind == "deadHolder"]
    run.step(10, [gone])
    [event] = [e for e in run.events if e.kind == "deadHolder"]
    assert (event.pid, event.severity) == (484, "warning")
    assert event.value == pytest.approx(2.63, abs=0.01)
    assert "2696 MiB" in event.summary and "/proc" in event.summary
    run.steps(range(11, 80), [loaded.model_copy(update={"processes": loaded.processes[:1]})])
    ended = [e for e in run.events if e.kind == "deadHolder" and e.end is not None]
    assert len(ended) == 1 and "no longer listed" in ended[0].summary
    # With a long wait between samples the two-sample rule still holds: one sample is not enough.
    run = Run(Thresholds(dead_holder_s=1), pid_exists=lambda pid: pid != 484)
    run.step(0, [gone])
    run.step(30, [gone])
    assert [e.kind for e in run.events] == ["deadHolder"]


def test_a_process_that_exits_between_listing_and_lookup_is_not_reported(
    h200_gpu: GpuOf,
) -> None:
    loaded = calm(h200_gpu("loaded"))
    exiting = with_process(loaded, 1, name=None, user=None)
    after = loaded.model_copy(update={"processes": loaded.processes[:1]})
    run = Run(Thresholds(dead_holder_s=1), pid_exists=lambda pid: pid != 484)
    run.step(0, [exiting])  # listed, already gone when resolved
    run.steps(range(5, 100), [after])  # and no longer listed
    assert run.events == []


def test_named_processes_are_never_looked_up(h200_gpu: GpuOf) -> None:
    checked = Lookups(lambda pid: False)
    run = Run(pid_exists=checked)
    run.steps(range(0, 100), [h200_gpu("loaded")])
    assert checked.calls == []


# -- throttling ---------------------------------------------------------------


def test_throttling_reasons_severity_and_the_clock_lost(h200_gpu: GpuOf) -> None:
    loaded = h200_gpu("loaded")
    assert loaded.clock_event_reasons == ["sw_power_cap"] and loaded.sm_clock == 1860
    capped = loaded.model_copy(update={"sm_clock_max": 1980})
    run = Run()
    run.steps(range(0, 10), [capped])
    assert run.events == []
    run.step(10, [capped])
    [event] = run.events
    assert (event.kind, event.severity, event.value) == ("throttling", "info", 120.0)
    assert "sw_power_cap" in event.summary and "10 s" in event.summary
    assert "1860 of 1980 MHz" in event.summary and "power limit" in event.action
    # A thermal reason: warning at once, not a minute later.
    hot = capped.model_copy(
        update={"clock_event_reasons": ["sw_power_cap", "hw_thermal_slowdown"], "sm_clock": 1500}
    )
    detection = run.step(11, [hot])
    assert detection.changed and detection.findings[0].severity == "warning"
    assert detection.events == ()
    run.steps(range(12, 20), [hot])
    # Back to full speed: ends after the clear time, with its duration and mean loss.
    full = capped.model_copy(update={"clock_event_reasons": [], "sm_clock": 1980})
    run.steps(range(20, 81), [full])
    [ended] = [e for e in run.events if e.end is not None]
    assert ended.id == event.id and ended.severity == "warning"
    assert "20 s" in ended.summary and "sw_power_cap, hw_thermal_slowdown" in ended.summary
    mean = (11 * 120 + 9 * 480) / 20
    assert f"mean {mean:.0f} MHz lost" in ended.summary and ended.value == round(mean)


def test_throttling_without_a_maximum_uses_the_highest_clock_seen(h200_gpu: GpuOf) -> None:
    loaded = h200_gpu("loaded").model_copy(update={"sm_clock_max": None})  # not every source
    fast = loaded.model_copy(update={"clock_event_reasons": [], "sm_clock": 1980})
    run = Run()
    run.step(0, [fast])
    run.steps(range(1, 12), [loaded])
    [event] = run.events
    assert event.value == 120.0 and "highest clock seen" in event.summary


# -- hot ------------------------------------------------------------------


def test_hot_starts_at_the_margin_escalates_and_ends_below_the_band(h200_gpu: GpuOf) -> None:
    loaded = h200_gpu("loaded").model_copy(update={"clock_event_reasons": []})
    assert loaded.temperature_slowdown == 89

    def at(temperature: int) -> list[GpuInfo]:
        return [loaded.model_copy(update={"temperature": temperature})]

    run = Run()
    run.step(0, at(83))
    assert run.events == []
    run.step(1, at(84))  # 89 - 5
    [event] = run.events
    assert (event.kind, event.severity, event.value) == ("hot", "warning", 84.0)
    assert "5 °C below its slowdown temperature (89 °C)" in event.summary
    detection = run.step(2, at(89))
    assert detection.changed and detection.findings[0].severity == "critical"
    run.steps(range(3, 100), at(82))  # in the 2 °C band: still hot
    assert len(run.events) == 1 and len(run.findings) == 1
    run.steps(range(100, 160), at(81))
    assert len(run.events) == 1
    run.step(160, at(81))
    assert run.events[-1].end == datetime.fromtimestamp(T0 + 100, UTC)
    assert "cooled below 82 °C" in run.events[-1].summary and "peak 89" in run.events[-1].summary


def test_no_hot_finding_without_a_slowdown_temperature(
    h100_trace: list[tuple[float, GpuInfo]],
) -> None:
    run = Run()
    for t, gpu in h100_trace:
        run.step(t, [gpu.model_copy(update={"temperature": 120})])
    assert gpu.temperature_slowdown is None and run.events == []


# -- eccErrors ------------------------------------------------------------


def test_ecc_errors_added_then_cleared_and_a_counter_reset(h200_gpu: GpuOf) -> None:
    loaded = h200_gpu("loaded").model_copy(update={"clock_event_reasons": []})
    assert loaded.ecc_errors_uncorrected == 0

    def ecc(count: int) -> list[GpuInfo]:
        return [loaded.model_copy(update={"ecc_errors_uncorrected": count})]

    run = Run()
    run.steps(range(0, 5), ecc(0))
    run.step(5, ecc(2))
    [event] = run.events
    assert (event.kind, event.severity, event.value) == ("eccErrors", "critical", 2.0)
    assert "2 uncorrected ECC errors" in event.summary
    run.steps(range(6, 65), ecc(2))
    assert len(run.events) == 1
    run.step(66, ecc(2))
    assert run.events[-1].end is not None and run.events[-1].id == event.id
    run.steps(range(67, 200), ecc(0))  # driver reloaded: the baseline resets, no event
    assert len(run.events) == 2
    run.step(200, ecc(1))
    assert [(e.kind, e.end is None, e.value) for e in run.events[2:]] == [("eccErrors", True, 1)]


# -- xid ------------------------------------------------------------------


def test_xid_repeats_update_one_record_then_it_ends(h200_gpu: GpuOf) -> None:
    gpu = h200_gpu("loaded").model_copy(update={"clock_event_reasons": []})
    key = gpu.key

    def xid(code: int, t: float) -> list[XidEvent]:
        return [XidEvent(key, code, T0 + t)]

    run = Run()
    run.step(0, [gpu], xid=xid(79, 0))
    [event] = run.events
    assert (event.kind, event.severity, event.value) == ("xid", "critical", 79.0)
    assert "fallen off the bus" in event.summary and "reset" in event.action
    for t in range(1, 50):
        run.step(t, [gpu], xid=xid(79, t) if t % 5 == 0 else ())
    assert len(run.events) == 1  # no storm
    run.steps(range(50, 70), [gpu])
    [active] = run.findings
    assert "10 times" in active.summary and active.id == event.id  # told within a minute
    run.steps(range(70, 120), [gpu])
    assert run.events[-1].end is not None and "10 times" in run.events[-1].summary
    run.step(120, [gpu], xid=xid(13, 120) + xid(79, 120))
    assert [(e.value, e.severity) for e in run.events[2:]] == [(13, "warning"), (79, "critical")]
    assert run.events[3].id != event.id
    assert [f.value for f in run.findings] == [79, 13]  # most severe first


def test_an_xid_for_an_unknown_gpu_still_counts(h200_gpu: GpuOf) -> None:
    run = Run()
    run.step(0, [h200_gpu("idle")], xid=[XidEvent("GPU-elsewhere", 31, T0)])
    [event] = run.events
    assert (event.gpu, event.gpu_index) == ("GPU-elsewhere", None)
    assert "page fault" in event.summary


# -- gpuLost, added, removed, provider --------------------------------------------


def test_gpu_lost_and_returned(h200_gpu: GpuOf) -> None:
    gpu = h200_gpu("idle")
    lost = gpu.as_failed("GPU is lost (NVML_ERROR_GPU_IS_LOST)")
    run = Run()
    run.step(0, [gpu])
    run.steps(range(1, 30), [lost])
    [event] = run.events
    assert (event.kind, event.severity) == ("gpuLost", "critical")
    assert "GPU is lost" in event.summary and event.gpu_name == "NVIDIA H200"
    run.steps(range(30, 91), [gpu])
    assert run.events[-1].end == datetime.fromtimestamp(T0 + 30, UTC)
    assert "returned after 29 s" in run.events[-1].summary
    # Lost, then no longer listed at all.
    run = Run()
    run.steps(range(0, 10), [lost])
    run.steps(range(10, 80), [])
    assert "no longer listed" in run.events[-1].summary


def test_gpu_added_removed_and_provider_changes_are_instant(h200_gpu: GpuOf) -> None:
    gpu = h200_gpu("idle")
    when = datetime.fromtimestamp(T0 + 3, UTC)
    changes = [
        GpuChange(type="gpuAdded", seq=3, timestamp=when, uuid="GPU-new", id=1, name="H200"),
        GpuChange(type="gpuRemoved", seq=3, timestamp=when, uuid="GPU-old", id=2, name="H100"),
    ]
    degraded = ProviderStatus(state="degraded", provider="nvml", reason="GPU 1: GPU is lost")
    run = Run()
    detection = run.step(3, [gpu], changes, status_changed=True, status=degraded)
    assert [(e.kind, e.severity) for e in detection.events] == [
        ("gpuAdded", "info"), ("gpuRemoved", "warning"), ("provider", "warning"),
    ]  # fmt: skip
    assert all(e.end == e.start == when for e in detection.events)
    assert detection.findings == () and not detection.changed
    assert "GPU 2 (H100, GPU-old) is no longer listed" in detection.events[1].summary
    assert "nvml: degraded (GPU 1: GPU is lost)" in detection.events[2].summary
    down = ProviderStatus(state="unavailable", provider=None, unavailable={"nvml": "no driver"})
    [event] = run.step(4, [], status_changed=True, status=down).events
    assert event.severity == "critical" and "nvml: no driver" in event.summary
    [event] = run.step(5, [gpu], status_changed=True).events
    assert event.severity == "info" and "GPU source nvml: ok" in event.summary


# -- hysteresis and clock jumps ---------------------------------------------


def test_flapping_around_thresholds_makes_no_storm(h200_gpu: GpuOf) -> None:
    loaded = h200_gpu("loaded")
    above = with_process(loaded, 1, sm_utilization=0).model_copy(
        update={
            "temperature": 85,
            "clock_event_reasons": ["hw_slowdown"],
            "memory_used": 20_000,
            "ecc_errors_uncorrected": 0,
        }
    )
    below = loaded.model_copy(update={"temperature": 70, "clock_event_reasons": []})
    run = Run(Thresholds(idle_holding_s=2, unowned_memory_s=2, throttling_s=2))
    for n in range(1000):
        run.step(n, [above if n % 2 else below])
    # hot starts at once and holds (never 60 s below); the timed ones never hold 2 s.
    assert len(run.events) <= 2
    assert run.kinds() == [("hot", True)]
    run.steps(range(1000, 1100), [below])
    assert run.kinds() == [("hot", True), ("hot", False)]


def test_a_clock_jump_fires_nothing_and_makes_no_negative_duration(h200_gpu: GpuOf) -> None:
    idle = with_process(h200_gpu("loaded"), 1, sm_utilization=0)
    run = Run(Thresholds(throttling_s=3600))
    run.steps(range(0, 590), [idle])
    run.step(590 + 3 * 3600, [idle])  # forward by 3 hours
    assert run.events == [] and run.detector.clock_jumps == 1
    run.steps(range(3 * 3600 + 591, 3 * 3600 + 1190), [idle])
    assert run.events == []  # the 600 s start over after the jump
    run.step(3 * 3600 + 1190, [idle])
    [event] = run.events
    assert event.start == datetime.fromtimestamp(T0 + 590 + 3 * 3600, UTC)
    # Back by a day while active: the finding goes on, its clear time starts over.
    busy = h200_gpu("loaded")
    run.steps(range(3 * 3600 + 1191, 3 * 3600 + 1221), [busy])  # 30 s false
    run.step(-86_400, [busy])  # the clock set back
    run.steps(range(-86_399, -86_400 + 59), [busy])
    assert len(run.events) == 1
    run.step(-86_400 + 60, [busy])
    [_, ended] = run.events
    assert ended.end is not None and ended.end >= ended.start  # clamped: never negative
    assert run.detector.clock_jumps == 2


def test_jumps_with_a_short_poll_interval(h200_gpu: GpuOf) -> None:
    # 10 x 0.25 s < 60 s: steps up to 60 s still count as time.
    gpu = with_process(calm(h200_gpu("loaded")), 1, sm_utilization=0)
    run = Run(Thresholds(idle_holding_s=100, poll_interval_s=0.25))
    run.steps([0, 50, 100], [gpu])
    assert [e.kind for e in run.events] == ["idleHolding"] and run.detector.clock_jumps == 0
    run = Run(Thresholds(idle_holding_s=100, poll_interval_s=10))
    run.steps([0, 99, 198], [gpu])  # 10 x 10 s = 100 s steps allowed
    assert [e.kind for e in run.events if e.kind == "idleHolding"] == ["idleHolding"]


def test_track_defaults_are_a_clean_slate() -> None:
    track = Track("hot", ("hot", "g"), "g", 0, 0, 0.0, T0)
    assert track.record is None and track.false_since is None and track.count == 0
