"""Synthetic GPU days for the history store: tests, benchmarks and the seeded demo.

A GPU alternates between training jobs (hours at 85-100 % with the noise of real
steps, memory filled, hot, near its power limit) and idle stretches (0 %, cool,
~70 W). Deterministic for a given seed. Never imported by the service.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from gpulens.core.metrics.schema import GpuInfo, SystemInfo

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


def samples(
    gpus: int, start: float, seconds: float, interval: float = 1.0, seed: int = 7
) -> Iterator[tuple[float, list[GpuInfo], SystemInfo]]:
    """``(when, gpus, system)`` every ``interval`` seconds for ``seconds`` from ``start``."""
    rng = random.Random(seed)
    busy = [rng.random() < 0.5 for _ in range(gpus)]
    switch_at = [start + rng.uniform(600, 4 * 3600) for _ in range(gpus)]
    steps = int(seconds / interval)
    for i in range(steps):
        when = start + i * interval
        for g in range(gpus):
            if when >= switch_at[g]:
                busy[g] = not busy[g]
                hours = rng.uniform(1, 9) if busy[g] else rng.uniform(0.2, 5)
                switch_at[g] = when + hours * 3600
        readings = [_gpu(g, busy[g], rng) for g in range(gpus)]
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
