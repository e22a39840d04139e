"""The synthetic GPU days the history tests and benchmarks write: deterministic, on the
interval asked for, and plausible readings (each one a valid GpuInfo/SystemInfo)."""

from __future__ import annotations

import itertools

from gpulens.services.history.metrics import gpu_row, host_row
from gpulens.testing.history import H100_MIB, IDLE_HOLDER, IDLE_HOLDER_MIB, samples

START = 1_728_000_000.0


def test_the_same_seed_gives_the_same_day() -> None:
    a = list(samples(2, START, 600, seed=3))
    b = list(samples(2, START, 600, seed=3))
    c = list(samples(2, START, 600, seed=4))
    assert a == b
    assert a != c


def test_samples_come_every_interval_for_the_span() -> None:
    got = list(samples(3, START, 120, interval=0.5))
    assert [when for when, _, _ in got] == [START + i * 0.5 for i in range(240)]
    assert all(len(gpus) == 3 for _, gpus, _ in got)
    uuids = [g.uuid for g in got[0][1]]
    assert uuids == [f"GPU-5e7d0000-0000-4000-8000-{i:012d}" for i in range(3)]


def test_gpus_alternate_between_busy_and_idle_with_plausible_readings() -> None:
    day = list(itertools.islice(samples(4, START, 86_400, interval=60), 1440))
    utils = [g.utilization or 0 for _, gpus, _ in day for g in gpus]
    assert min(utils) == 0 and max(utils) >= 90  # both busy and idle stretches
    for _, gpus, system in day:
        for g in gpus:
            assert g.memory_used is not None and g.memory_free is not None
            assert 0 <= g.memory_used <= H100_MIB and g.memory_used + g.memory_free == H100_MIB
            assert g.power_usage is not None and g.power_limit is not None
            assert 0 < g.power_usage <= g.power_limit
            row = gpu_row(g)
            assert row is not None and all(v is None or type(v) is int for v in row)
        assert 0 <= system.cpu_usage <= 100
        assert all(v is not None for v in host_row(system)[:2])


def test_each_busy_stretch_is_one_job_and_some_idle_ones_hold_memory() -> None:
    day = list(samples(4, START, 3 * 86_400, interval=60))
    jobs: dict[int, set[tuple[float | None, str | None]]] = {}
    holders = 0
    for _, gpus, _ in day:
        for g in gpus:
            assert len(g.processes) <= 1
            for p in g.processes:
                jobs.setdefault(p.pid, set()).add((p.start_time, p.user))
                assert p.used_memory_mib is not None and g.memory_used is not None
                assert p.used_memory_mib <= g.memory_used
                if g.utilization == 0 and p.sm_utilization == 0:
                    assert p.user == IDLE_HOLDER and p.used_memory_mib == IDLE_HOLDER_MIB
                    holders += 1
    assert len(jobs) > 8  # many jobs over three days
    assert all(len(identity) == 1 for identity in jobs.values())  # a pid keeps its start, user
    assert holders > 0
    assert {u for identity in jobs.values() for _, u in identity} >= {"alice", IDLE_HOLDER}
