"""Synthetic GPU days for the history store: tests, benchmarks and the seeded demo.

A GPU alternates between training jobs (hours at 85-100 % with the noise of real
steps, memory filled, hot, near its power limit) and idle stretches (0 %, cool,
~70 W). Deterministic for a given seed. Never imported by the service.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass

from gpulens.core.metrics.schema import GpuInfo, ProcessInfo, SystemInfo

H100_MIB = 81_559


def _gpu(index: int, busy: bool, rng: random.Random) -> GpuInfo:
    if busy:
        util = min(100, max(0, round(rng.gauss(93, 5))))
        mem = 62_000 + rng.randrange(0, 16_000)
        temp = 62 + round(util / 10) + rng.randrange(-1, 2)
        power = round(rng.uniform(520, 690), 2)
    else:
        util = 0 if rng.random() < 0.95 else rng.randrange(1, 8)
        mem = 4
        temp = 31 + rng.randrange(0, 3)
        power = round(rng.uniform(68, 76), 2)
    return GpuInfo(
        id=index,
        name="NVIDIA H100 80GB HBM3",
        uuid=f"GPU-5e7d0000-0000-4000-8000-{index:012d}",
        utilization=util,
        memory_utilization=round(util * 0.45),
        memory_used=mem,
        memory_total=H100_MIB,
        memory_free=H100_MIB - mem,
        temperature=temp,
        power_usage=power,
        power_limit=700.0,
        fan_speed=None,
        encoder_utilization=0,
        decoder_utilization=0,
        sm_clock=1980 if busy else 345,
        memory_clock=2619 if busy else 1593,
    )


USERS = ("alice", "bob", "carol", "dmitri")
IDLE_HOLDER = "erin"  # leaves a notebook holding memory on an idle GPU, now and then
IDLE_HOLDER_MIB = 12_288


@dataclass(slots=True)
class _Job:
    pid: int
    started: float
    user: str
    name: str


def _with_processes(gpu: GpuInfo, busy: bool, job: _Job | None) -> GpuInfo:
    """The GPU as its processes see it: a busy GPU runs its job (memory and SM % its own);
    an idle one may hold a forgotten notebook's memory at 0 % SM."""
    if job is None:
        return gpu
    if busy:
        used = max(0, (gpu.memory_used or 0) - 512)
        sm = gpu.utilization
    else:
        used, sm = IDLE_HOLDER_MIB, 0
    memory_used = (gpu.memory_used or 0) + (0 if busy else IDLE_HOLDER_MIB)
    process = ProcessInfo(
        pid=job.pid, name=job.name, used_memory_mib=used, user=job.user, type="compute",
        sm_utilization=sm, start_time=job.started,
    )  # fmt: skip
    return gpu.model_copy(
        update={
            "processes": [process],
            "memory_used": memory_used,
            "memory_free": H100_MIB - memory_used,
        }
    )


def samples(
    gpus: int, start: float, seconds: float, interval: float = 1.0, seed: int = 7
) -> Iterator[tuple[float, list[GpuInfo], SystemInfo]]:
    """``(when, gpus, system)`` every ``interval`` seconds for ``seconds`` from ``start``.

    Each busy stretch is one job (a process with its own pid and start time, run by
    one of ``USERS``); a quarter of the idle stretches keep ``IDLE_HOLDER``'s
    notebook holding memory at 0 % SM (what the idle-but-holding finding is for).
    Processes come from a generator of their own, so the readings do not depend on them.
    """
    rng = random.Random(seed)
    who = random.Random(seed + 1)
    busy = [rng.random() < 0.5 for _ in range(gpus)]
    switch_at = [start + rng.uniform(600, 4 * 3600) for _ in range(gpus)]
    jobs: list[_Job | None] = [None] * gpus
    decided = [False] * gpus  # the current stretch's process is chosen
    pids = itertools.count(4000)
    steps = int(seconds / interval)
    for i in range(steps):
        when = start + i * interval
        for g in range(gpus):
            if when >= switch_at[g]:
                busy[g] = not busy[g]
                hours = rng.uniform(1, 9) if busy[g] else rng.uniform(0.2, 5)
                switch_at[g] = when + hours * 3600
                decided[g] = False
            if not decided[g]:
                decided[g] = True
                if busy[g]:
                    name = who.choice(("python3", "torchrun"))
                    jobs[g] = _Job(next(pids), when, who.choice(USERS), name)
                elif who.random() < 0.25:
                    jobs[g] = _Job(next(pids), when, IDLE_HOLDER, "python3")
                else:
                    jobs[g] = None
        readings = [_with_processes(_gpu(g, busy[g], rng), busy[g], jobs[g]) for g in range(gpus)]
        load = sum(busy) * 1.1 + rng.random()
        system = SystemInfo(
            cpu_usage=min(100.0, round(8 + 9 * sum(busy) + rng.random() * 4, 1)),
            memory_usage=round(20 + 6 * sum(busy) + rng.random(), 1),
            load_average=(round(load, 2), round(load * 0.9, 2), round(load * 0.8, 2)),
            uptime=int(when - start) + 86_400,
            disk_utilization=41.5,
            cpu_count=64,
            memory_used=round(2_000_000 * (20 + 6 * sum(busy)) / 100),
            memory_total=2_000_000,
        )
        yield when, readings, system
