"""UsageTracker: sessions and GPU-seconds from samples, driven with the real H100 trace
(tests/fixtures/h100-sxm-80gb) changed over time, checked against the rule written
plainly (``reference`` below: one interval at a time, no segments)."""

from __future__ import annotations

import itertools
import json
import random
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from gpulens.core.metrics.schema import GpuInfo, ProcessInfo
from gpulens.core.metrics.units import bytes_to_mib
from gpulens.services.accounting import HOUR, SWEEP_S, UsageDelta, UsageTracker

TRACE = Path(__file__).parents[1] / "fixtures" / "h100-sxm-80gb" / "trace-nvml-45s-250ms.jsonl"
T0 = 1_800_000_000.0  # a multiple of 3600
Sample = tuple[float, list[GpuInfo]]
Key = tuple[str, int, float]
FIELDS = ("held_s", "gpu_s", "mib_s", "sm_s", "sm_known_s")


def trace() -> list[Sample]:
    """The H100 trace as GpuInfo lists: (wall time, [the GPU]) every 250 ms."""
    lines = TRACE.read_text().splitlines()
    static = json.loads(lines[0])["static"]["gpu0"]
    out: list[Sample] = []
    for line in lines[1:]:
        row = json.loads(line)
        raw = row["gpus"][0]
        procs = [
            ProcessInfo(
                pid=p["pid"],
                name=p["name"],
                user=p["user"],
                used_memory_mib=bytes_to_mib(p["usedGpuMemory"]),
            )
            for p in raw["processes"]
        ]
        gpu = GpuInfo(
            id=0, name=static["name"], uuid=static["uuid"], utilization=raw["util"]["gpu"],
            memory_used=bytes_to_mib(raw["mem"]["used"]), processes=procs,
        )  # fmt: skip
        out.append((row["wall"], [gpu]))
    return out


def shifted(samples: list[Sample], to: float) -> list[Sample]:
    """The samples moved in time so the first is at ``to``."""
    first = samples[0][0]
    return [(when - first + to, gpus) for when, gpus in samples]


def with_procs(gpu: GpuInfo, **changes: Any) -> GpuInfo:
    """The GPU with every process changed (e.g. start_time=..., sm_utilization=...)."""
    procs = [p.model_copy(update=changes) for p in gpu.processes]
    return gpu.model_copy(update={"processes": procs})


def run(
    samples: Iterable[Sample], cap: float = 0.75, take_every: int = 7, forget_s: float = 1e9
) -> list[UsageDelta]:
    tracker = UsageTracker(cap, forget_s=forget_s)
    out: list[UsageDelta] = []
    for n, (when, gpus) in enumerate(samples, 1):
        tracker.add(when, gpus)
        if n % take_every == 0:
            out.extend(tracker.take())
    out.extend(tracker.take())
    return out


def totals(deltas: Iterable[UsageDelta], by_hour: bool = False) -> dict[Any, dict[str, float]]:
    """Per session (and hour): the deltas summed, peak as max."""
    out: dict[Any, dict[str, float]] = defaultdict(lambda: dict.fromkeys((*FIELDS, "peak"), 0.0))
    for d in deltas:
        key: Any = (d.gpu, d.pid, d.started, d.hour) if by_hour else (d.gpu, d.pid, d.started)
        row = out[key]
        for f in FIELDS:
            row[f] += getattr(d, f)
        row["peak"] = max(row["peak"], d.peak_mib)
    return dict(out)


def reference(
    samples: Iterable[Sample], cap: float, by_hour: bool = False
) -> dict[Any, dict[str, float]]:
    """The rule, one interval at a time (GPU_SECONDS_METHOD); ``by_hour``: per session and
    hour, an interval across the hour split by time."""
    out: dict[Any, dict[str, float]] = defaultdict(lambda: dict.fromkeys((*FIELDS, "peak"), 0.0))
    last: dict[str, tuple[float, dict[int, float]]] = {}  # gpu -> (time, pid -> started)
    first: dict[tuple[str, int], float] = {}
    for when, gpus in samples:
        for gpu in gpus:
            if gpu.status != "ok":
                continue
            prev_time, prev = last.get(gpu.key, (None, {}))
            now: dict[int, float] = {}
            dt = 0.0 if prev_time is None or when <= prev_time else min(when - prev_time, cap)
            procs = gpu.processes
            known_sm = sum(p.sm_utilization or 0 for p in procs)
            rest = max(0.0, ((gpu.utilization or 0) - known_sm) / 100)
            others = [p for p in procs if p.sm_utilization is None]
            mem = sum(p.used_memory_mib or 0 for p in others)
            by_mem = mem > 0 and all(p.used_memory_mib is not None for p in procs)
            for p in procs:
                if p.start_time is not None:
                    started = p.start_time
                else:
                    started = first.setdefault((gpu.key, p.pid), when)
                now[p.pid] = started
                key = (gpu.key, p.pid, started)
                if not dt or prev.get(p.pid) != started:
                    hour = (int(when // HOUR) * HOUR,) if by_hour else ()
                    row = out[(*key, *hour)]
                    row["peak"] = max(row["peak"], p.used_memory_mib or 0)
                    continue
                if p.sm_utilization is not None:
                    share = p.sm_utilization / 100
                elif by_mem:
                    share = rest * (p.used_memory_mib or 0) / mem
                else:
                    share = rest / len(others)
                for hour, part in _hours(when - dt, when) if by_hour else [((), dt)]:
                    row = out[(*key, *hour)]
                    row["peak"] = max(row["peak"], p.used_memory_mib or 0)
                    row["held_s"] += part
                    row["gpu_s"] += share * part
                    row["mib_s"] += (p.used_memory_mib or 0) * part
                    if p.sm_utilization is not None:
                        row["sm_s"] += p.sm_utilization * part
                        row["sm_known_s"] += part
            last[gpu.key] = (when, now)
    return dict(out)


def _hours(start: float, stop: float) -> list[tuple[tuple[int], float]]:
    hour = int(start // HOUR) * HOUR
    if stop <= hour + HOUR:
        return [((hour,), stop - start)]
    return [((hour,), hour + HOUR - start), ((hour + HOUR,), stop - hour - HOUR)]


def assert_same(got: dict[Any, dict[str, float]], want: dict[Any, dict[str, float]]) -> None:
    assert set(got) == set(want)
    for key, row in want.items():
        for f, value in row.items():
            assert got[key][f] == pytest.approx(value, rel=1e-9, abs=1e-6), (key, f)


# --- the trace as it was --------------------------------------------------------------


def test_the_h100_trace_gives_its_two_jobs() -> None:
    samples = shifted(trace(), T0 + 60)
    got = totals(run(samples))
    assert_same(got, reference(samples, 0.75))
    uuid = samples[0][1][0].key
    by_pid = {pid: row for (gpu, pid, _), row in got.items() if gpu == uuid}
    assert set(by_pid) == {524, 656}
    # pid 524 ran ~8 s to ~39 s at 6858 MiB (7191134208 B); 656 held 21032 MiB ~15-33 s.
    assert 29 < by_pid[524]["held_s"] < 32
    assert 17 < by_pid[656]["held_s"] < 19
    assert by_pid[524]["peak"] == 6858
    assert by_pid[656]["peak"] == 21032
    assert by_pid[524]["mib_s"] == pytest.approx(6858 * by_pid[524]["held_s"], rel=0.01)
    # No per-process SM % in the trace: the GPU's utilization split by memory.
    assert by_pid[524]["sm_known_s"] == by_pid[656]["sm_known_s"] == 0
    assert by_pid[524]["gpu_s"] > by_pid[656]["gpu_s"] > 0
    # Never more GPU-seconds than the GPU was busy.
    busy = sum(
        g.utilization / 100 * min(t - prev, 0.75)
        for (prev, _), (t, [g]) in itertools.pairwise(samples)
        if g.processes and g.utilization
    )
    assert sum(r["gpu_s"] for r in got.values()) <= busy + 1e-9


def test_a_session_without_start_time_starts_when_first_seen() -> None:
    samples = shifted(trace(), T0 + 60)
    starts = {d.pid: d.started for d in run(samples)}
    first = {
        pid: next(t for t, [g] in samples if any(p.pid == pid for p in g.processes))
        for pid in (524, 656)
    }
    assert starts == first


# --- changed over time ----------------------------------------------------------------


def test_pid_reuse_with_another_start_time_is_another_session() -> None:
    base = shifted(trace(), T0 + 60)
    samples = [
        (t, [with_procs(g, start_time=T0 if i < 100 else T0 + 50)])
        for i, (t, [g]) in enumerate(base)
    ]
    got = totals(run(samples))
    assert_same(got, reference(samples, 0.75))
    assert {(pid, started) for _, pid, started in got} == {
        (524, T0),
        (656, T0),
        (524, T0 + 50),
        (656, T0 + 50),
    }


def test_a_process_that_leaves_and_returns_is_one_session_without_the_absence() -> None:
    base = shifted(trace(), T0 + 60)
    samples = []
    for i, (t, [g]) in enumerate(base):
        g2 = with_procs(g, start_time=T0)
        if 80 <= i < 90:  # pid 524 not listed for 2.5 s
            g2 = g2.model_copy(update={"processes": [p for p in g2.processes if p.pid != 524]})
        samples.append((t, [g2]))
    got = totals(run(samples))
    assert_same(got, reference(samples, 0.75))
    whole = totals(run([(t, [with_procs(g, start_time=T0)]) for t, [g] in base]))
    key = (base[0][1][0].key, 524, T0)
    assert got[key]["held_s"] == pytest.approx(whole[key]["held_s"] - 11 * 0.25)


def test_per_process_sm_is_the_share_and_the_mean_sm() -> None:
    base = shifted(trace(), T0 + 60)
    samples = []
    for i, (t, [g]) in enumerate(base):
        procs = [
            p.model_copy(update={"sm_utilization": (i % 40) if p.pid == 524 else None})
            for p in g.processes
        ]
        samples.append((t, [g.model_copy(update={"processes": procs, "utilization": 90})]))
    got = totals(run(samples))
    assert_same(got, reference(samples, 0.75))
    rows = {pid: row for (_, pid, _), row in got.items()}
    a, b = rows[524], rows[656]
    assert a["sm_known_s"] == pytest.approx(a["held_s"])
    assert a["gpu_s"] == pytest.approx(a["sm_s"] / 100)
    assert 0 < a["sm_s"] / a["sm_known_s"] < 40
    # 656 has no SM %: it gets what 524's SM % leaves of the GPU's 90 %.
    assert b["sm_known_s"] == 0
    assert b["gpu_s"] > 0


def test_all_processes_with_sm_and_equal_split_without_memory() -> None:
    base = shifted(trace(), T0 + 60)[60:140]
    known = [(t, [with_procs(g, sm_utilization=7)]) for t, [g] in base]
    got = totals(run(known))
    assert_same(got, reference(known, 0.75))
    for row in got.values():
        assert row["gpu_s"] == pytest.approx(0.07 * row["held_s"])
    no_memory = [(t, [with_procs(g, used_memory_mib=None)]) for t, [g] in base]
    got = totals(run(no_memory))
    assert_same(got, reference(no_memory, 0.75))
    both = [row for row in got.values() if row["held_s"] > 10]
    assert len(both) == 2
    assert all(row["mib_s"] == 0 and row["peak"] == 0 for row in got.values())


def test_an_interval_across_an_hour_is_split_by_time() -> None:
    samples = shifted(trace(), T0 + HOUR - 20)  # the hour turns 20 s into the trace
    samples = [(t + 0.1, gpus) for t, gpus in samples]  # and not on a sample
    deltas = run(samples)
    per_hour = totals(deltas, by_hour=True)
    assert {h for *_, h in per_hour} == {T0, T0 + HOUR}
    assert all(d.hour % HOUR == 0 for d in deltas)
    whole = totals(deltas)
    assert_same(whole, reference(samples, 0.75))
    for key, row in whole.items():
        before = per_hour.get((*key, T0))
        after = per_hour.get((*key, T0 + HOUR))
        assert before is not None
        assert after is not None
        for f in FIELDS:
            assert before[f] + after[f] == pytest.approx(row[f])
    # pid 524 is listed before and after the turn: its time before it is 20 s from ~8 s.
    b524 = next(v for k, v in per_hour.items() if k[1] == 524 and k[3] == T0)
    assert 11 < b524["held_s"] < 13


def test_a_long_gap_counts_only_max_gap() -> None:
    base = [(t, [with_procs(g, start_time=T0)]) for t, [g] in shifted(trace(), T0 + 60)]
    gapped = base[:100] + [(t + 600, gpus) for t, gpus in base[100:]]  # stopped 10 min
    got = totals(run(gapped, cap=0.75))
    assert_same(got, reference(gapped, 0.75))
    plain = totals(run(base, cap=0.75))
    key = (base[0][1][0].key, 524, T0)
    assert got[key]["held_s"] == pytest.approx(plain[key]["held_s"] + 0.5)  # 0.75, not 600.25


def test_a_failed_gpu_neither_counts_nor_ends_its_processes() -> None:
    base = [(t, [with_procs(g, start_time=T0)]) for t, [g] in shifted(trace(), T0 + 60)]
    failed = [
        (t, [g.as_failed("lost")]) if 100 <= i < 110 else (t, [g])
        for i, (t, [g]) in enumerate(base)
    ]
    got = totals(run(failed))
    assert_same(got, reference(failed, 0.75))
    plain = totals(run(base))
    key = (base[0][1][0].key, 524, T0)
    assert got[key]["held_s"] == pytest.approx(plain[key]["held_s"] - 2.75 + 0.75)


def test_the_clock_going_back_counts_no_time() -> None:
    base = [(t, [with_procs(g, start_time=T0)]) for t, [g] in shifted(trace(), T0 + 60)]
    back = base[:100] + [(t - 30, gpus) for t, gpus in base[100:]]
    deltas = run(back)
    assert all(getattr(d, f) >= 0 for d in deltas for f in FIELDS)
    got = totals(deltas)
    assert_same(got, reference(back, 0.75))
    plain = totals(run(base))
    key = (base[0][1][0].key, 524, T0)
    assert got[key]["held_s"] == pytest.approx(plain[key]["held_s"] - 0.25)
    tracker = UsageTracker(1.0)
    for t, gpus in back:
        tracker.add(t, gpus)
    assert tracker.stats.clock_back == 1


def test_random_changes_match_the_rule_on_eight_gpus() -> None:
    """The per-GPU segments and the session by session path agree with the plain rule
    whatever changes: processes come and go, pids are reused, memory and SM % move,
    samples jitter, gaps, the clock steps back, hours turn."""
    rng = random.Random(15)
    [(_, [h100])] = trace()[100:101]
    samples: list[Sample] = []
    when = T0 + HOUR - 30
    live: dict[int, dict[int, ProcessInfo]] = {g: {} for g in range(8)}
    for _ in range(600):
        when += rng.choice([0.25, 0.25, 0.25, 0.249, 0.251, 0.0, 2.0, -1.0, 30.0])
        gpus = []
        for g in range(8):
            procs = live[g]
            if rng.random() < 0.05:
                pid = rng.randint(1, 12)
                start = rng.choice([None, T0, T0 + 5])
                procs[pid] = ProcessInfo(
                    pid=pid, name="python3", user=rng.choice(["ana", None]),
                    used_memory_mib=rng.choice([None, 0, 900, 5000]), start_time=start,
                )  # fmt: skip
            if procs and rng.random() < 0.03:
                procs.pop(rng.choice(list(procs)))
            for pid, p in list(procs.items()):
                if rng.random() < 0.05:
                    procs[pid] = p.model_copy(update={"used_memory_mib": rng.randint(0, 9000)})
                sm = rng.choice([None, None, rng.randint(0, 60)]) if g % 2 else None
                procs[pid] = procs[pid].model_copy(update={"sm_utilization": sm})
            gpu = h100.model_copy(
                update={"id": g, "uuid": f"GPU-{g}", "utilization": rng.choice([None, 0, 40, 99]),
                        "processes": list(procs.values())}
            )  # fmt: skip
            gpus.append(gpu.as_failed("lost") if rng.random() < 0.01 else gpu)
        samples.append((when, gpus))
    for take_every in (1, 13, 10_000):
        assert_same(totals(run(samples, cap=1.0, take_every=take_every)), reference(samples, 1.0))
    deltas = run(samples, cap=1.0)
    assert_same(totals(deltas, by_hour=True), reference(samples, 1.0, by_hour=True))


def test_take_resets_and_gives_each_hour_once() -> None:
    tracker = UsageTracker(1.0)
    samples = shifted(trace(), T0 + 60)
    for t, gpus in samples[:120]:
        tracker.add(t, gpus)
    first = tracker.take()
    assert first
    assert {(d.pid, d.hour) for d in first} == {(524, T0), (656, T0)}
    assert len(first) == len({(d.gpu, d.pid, d.started, d.hour) for d in first})
    assert tracker.take() == []
    d524 = next(d for d in first if d.pid == 524)
    assert (d524.gpu_index, d524.gpu_name, d524.name, d524.user) == (
        0,
        "NVIDIA H100 80GB HBM3",
        "python3",
        "root",
    )
    assert d524.first_seen <= d524.last_seen


def test_sessions_not_seen_are_forgotten_and_memory_stays_bounded() -> None:
    [(_, [h100])] = trace()[100:101]
    tracker = UsageTracker(1.0, forget_s=60.0, max_sessions=1_000)
    when = T0
    for i in range(5_000):  # a new short-lived process every second, for 80 minutes
        when += 1.0
        procs = [ProcessInfo(pid=i % 30_000 + 2, used_memory_mib=100, start_time=when - 1)]
        tracker.add(when, [h100.model_copy(update={"processes": procs})])
        if i % 5 == 0:
            tracker.take()
    assert tracker.stats.started == 5_000
    assert tracker.stats.sessions <= 60 + SWEEP_S + 1  # (looked for every SWEEP_S)
    assert len(tracker._sessions) <= 60 + SWEEP_S + 1
    # Too many at once: the least recently seen go, down to 90 % of the limit.
    burst = [ProcessInfo(pid=p, used_memory_mib=1) for p in range(2, 1_500)]
    tracker.add(when + 1, [h100.model_copy(update={"processes": burst})])
    assert len(tracker._sessions) <= 1_000
    assert sum(d.pid > 1 for d in tracker.take()) >= 1_498  # forgotten, still handed over


def test_a_pid_without_start_time_seen_after_forget_s_is_a_new_session() -> None:
    [(_, [h100])] = trace()[100:101]
    tracker = UsageTracker(1.0, forget_s=60.0)
    tracker.add(T0, [h100])
    tracker.add(T0 + 1, [h100])
    tracker.add(T0 + 30, [h100.model_copy(update={"processes": []})])
    tracker.add(T0 + 200, [h100])
    tracker.add(T0 + 201, [h100])
    assert {d.started for d in tracker.take() if d.pid == 524} == {T0, T0 + 200}


def test_max_gap_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_gap_s"):
        UsageTracker(0)


# --- every take against the rule, a long random run -------------------------------------


class PlainTracker:
    """The rule with no shortcut, one interval and one process at a time, handing over
    what accumulated since the last ``take`` per session and hour, as ``UsageTracker``
    does (sessions are never forgotten here: ``forget_s`` is infinite)."""

    def __init__(self, cap: float) -> None:
        self.cap = cap
        self.last: dict[str, tuple[float, dict[int, float]]] = {}  # gpu -> (time, pid -> started)
        self.first: dict[tuple[str, int], float] = {}  # (gpu, pid) -> first seen, no start time
        self.seen: dict[Key, float] = {}  # session -> first seen
        self.gpu: dict[str, tuple[int, str]] = {}  # gpu -> (index, name)
        self.meta: dict[Key, tuple[str | None, str | None, str | None]] = {}
        self.rows: dict[tuple[Key, int], dict[str, float]] = {}

    def row(self, key: Key, hour: int) -> dict[str, float]:
        row = self.rows.get((key, hour))
        if row is None:
            row = self.rows[(key, hour)] = dict.fromkeys((*FIELDS, "peak"), 0.0)
        return row

    def add(self, when: float, gpus: list[GpuInfo]) -> None:
        for gpu in gpus:
            if gpu.status != "ok":
                continue
            self.gpu[gpu.key] = (gpu.id, gpu.name)
            prev_time, prev = self.last.get(gpu.key, (None, {}))
            dt = 0.0 if prev_time is None or when <= prev_time else min(when - prev_time, self.cap)
            procs = gpu.processes
            known_sm = sum(p.sm_utilization for p in procs if p.sm_utilization is not None)
            rest = max(0.0, ((gpu.utilization or 0) - known_sm) / 100)
            others = [p for p in procs if p.sm_utilization is None]
            others_mem = sum(p.used_memory_mib or 0 for p in others)
            by_mem = others_mem > 0 and all(p.used_memory_mib is not None for p in procs)
            now: dict[int, float] = {}
            for p in procs:
                if p.start_time is not None:
                    started = p.start_time
                else:
                    started = self.first.setdefault((gpu.key, p.pid), when)
                now[p.pid] = started
                key = (gpu.key, p.pid, started)
                self.seen.setdefault(key, when)
                self.meta.setdefault(key, (p.name, p.user, p.container))
                mem = p.used_memory_mib or 0
                if not dt or prev.get(p.pid) != started:  # no interval: only its memory
                    row = self.row(key, int(when // HOUR) * HOUR)
                    row["peak"] = max(row["peak"], mem)
                    continue
                if p.sm_utilization is not None:
                    share = p.sm_utilization / 100
                elif by_mem:
                    share = rest * mem / others_mem
                else:
                    share = rest / len(others)
                for (hour,), part in _hours(when - dt, when):
                    row = self.row(key, hour)
                    row["peak"] = max(row["peak"], mem)
                    row["held_s"] += part
                    row["gpu_s"] += share * part
                    row["mib_s"] += mem * part
                    if p.sm_utilization is not None:
                        row["sm_s"] += p.sm_utilization * part
                        row["sm_known_s"] += part
            self.last[gpu.key] = (when, now)

    def take(self) -> dict[tuple[Key, int], tuple[tuple[Any, ...], dict[str, float]]]:
        """Per session and hour: (GPU index and name, first seen, name, user, container),
        and the sums (peak: the most)."""
        out = {}
        for (key, hour), row in self.rows.items():
            out[(key, hour)] = ((*self.gpu[key[0]], self.seen[key], *self.meta[key]), row)
        self.rows = {}
        return out


def compare_take(
    deltas: list[UsageDelta], want: dict[tuple[Key, int], tuple[tuple[Any, ...], dict[str, float]]]
) -> None:
    """One take against the plain one: the sums per session and hour (a row only one
    side has must be all 0: where a sample without an interval puts a memory is not the
    rule's business), the peak and what is known about each session."""
    got: dict[tuple[Key, int], dict[str, float]] = {}
    meta: dict[Key, tuple[Any, ...]] = {}
    peak: dict[Key, float] = defaultdict(float)
    for d in deltas:
        key = (d.gpu, d.pid, d.started)
        about = (d.gpu_index, d.gpu_name, d.first_seen, d.name, d.user, d.container)
        assert meta.setdefault(key, about) == about, key
        row = got.setdefault((key, d.hour), dict.fromkeys(FIELDS, 0.0))
        for f in FIELDS:
            row[f] += getattr(d, f)
        peak[key] = max(peak[key], d.peak_mib)
    want_peak: dict[Key, float] = defaultdict(float)
    for (key, _), (about, row) in want.items():
        assert meta[key] == about, key
        want_peak[key] = max(want_peak[key], row["peak"])
    assert set(meta) == {key for key, _ in want}
    assert peak == want_peak
    zero = dict.fromkeys(FIELDS, 0.0)
    for key_hour in {*got, *want}:
        row = got.get(key_hour, zero)
        for f in FIELDS:
            value = want[key_hour][1][f] if key_hour in want else 0.0
            assert row[f] == pytest.approx(value, rel=1e-9, abs=1e-6), (key_hour, f)


def test_every_take_matches_the_rule_over_a_long_random_run() -> None:
    """Per take, per session and hour, every field but last_seen, on 8 GPUs for 4000
    samples: sources with no SM %, all, some (the same ones, or others from sample to
    sample), processes coming and going, pids reused with and without a start time,
    memories moving or unknown, jitter, repeated times, the clock back, gaps, hours
    turning inside intervals, failed GPUs, takes at random."""
    rng = random.Random(2024)
    cap = 1.0
    tracker = UsageTracker(cap, forget_s=1e12)
    plain = PlainTracker(cap)
    modes = ["none", "all", "some", "flicker"]
    mode = {g: modes[g % 4] for g in range(8)}
    live: dict[int, dict[int, ProcessInfo]] = {g: {} for g in range(8)}
    when = T0 + HOUR - 40.0
    steps = [0.25] * 12 + [0.249, 0.251, 0.5, 0.0, -1.0, 2.0, 30.0]
    takes = 0
    for n in range(4000):
        when += 1799.6 if rng.random() < 0.003 else rng.choice(steps)
        gpus = []
        for g in range(8):
            procs = live[g]
            if rng.random() < 0.06:
                pid = rng.randint(1, 16)  # (often one listed before: reused)
                procs[pid] = ProcessInfo(
                    pid=pid, name=f"p{pid % 3}" if pid % 5 else None,
                    user=["ana", "bo", None][pid % 3], container=["c1", None][pid % 2],
                    used_memory_mib=rng.choice([None, 0, 900, 5000]),
                    start_time=rng.choice([None, None, T0, T0 + 5]),
                )  # fmt: skip
            if procs and rng.random() < 0.04:
                procs.pop(rng.choice(list(procs)))
            if rng.random() < 0.01:
                mode[g] = rng.choice(modes)
            out = []
            for pid, p in list(procs.items()):
                if rng.random() < 0.03:
                    p = procs[pid] = p.model_copy(
                        update={"used_memory_mib": rng.choice([None, 0, rng.randint(0, 9000)])}
                    )
                sm = {
                    "none": None,
                    "all": rng.randint(0, 40),
                    "some": rng.randint(0, 40) if pid % 2 else None,
                    "flicker": rng.choice([None, rng.randint(0, 40)]),
                }[mode[g]]
                out.append(p.model_copy(update={"sm_utilization": sm}))
            gpu = GpuInfo(
                id=g, name="NVIDIA H200", uuid=f"GPU-{g}" if g else None,
                utilization=rng.choice([None, 0, 40, 99, 100]), processes=out,
            )  # fmt: skip
            gpus.append(gpu.as_failed("lost") if rng.random() < 0.01 else gpu)
        tracker.add(when, gpus)
        plain.add(when, gpus)
        if rng.random() < 0.08 or n == 3999:
            compare_take(tracker.take(), plain.take())
            takes += 1
    assert takes > 200
    assert tracker.stats.clock_back > 100


def test_too_many_sessions_with_and_without_a_start_time_for_one_pid() -> None:
    """Ranking sessions seen at the same moment never compares a start time with None."""
    [(_, [h100])] = trace()[100:101]
    tracker = UsageTracker(1.0, max_sessions=2)
    for procs in (
        [ProcessInfo(pid=5, used_memory_mib=1)],
        [ProcessInfo(pid=5, used_memory_mib=1, start_time=T0)],
        [ProcessInfo(pid=6, used_memory_mib=1)],
    ):
        tracker.add(T0 + 10, [h100.model_copy(update={"processes": procs})])
    assert len(tracker._sessions) <= 2
    assert {d.pid for d in tracker.take()} == {5, 6}


def test_take_hands_over_plain_usage_deltas() -> None:
    """``take`` builds its deltas positionally (for speed): each equals one built by name."""
    import dataclasses

    deltas = run(trace()[:40], take_every=10_000)
    assert deltas
    for d in deltas:
        assert type(d) is UsageDelta
        plain = UsageDelta(**{f.name: getattr(d, f.name) for f in dataclasses.fields(d)})
        assert d == plain
        assert dataclasses.replace(d, pid=1).pid == 1
