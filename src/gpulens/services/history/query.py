"""Reading the history back: the tier that fits a range, and buckets of min/mean/max.

The answer is bounded whatever the range: at most ``MAX_POINTS`` buckets per
series. The server picks the step (at least the one asked for, at least
range/``MAX_POINTS``, a whole number of the tier's buckets) and the tier (the
coarsest whose buckets are no longer than the step and which still keeps the
start of the range). Every series shares one time grid; a bucket with no data is
``None`` in every list (the page draws a gap there).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gpulens.services.history import store
from gpulens.services.history.metrics import GPU_METRICS, HOST_KEY, HOST_METRICS, Metric
from gpulens.services.history.rollup import Block
from gpulens.services.history.store import TIERS, Tier

MAX_POINTS = 1000
MAX_SERIES = 64
MIN_RAW_STEP_S = 1.0


class QueryError(ValueError):
    """A parameter that cannot be answered; the message names it."""


@dataclass(frozen=True, slots=True)
class Plan:
    start: float  # the first bucket's start (aligned to the step)
    stop: float
    step: float
    tier: Tier
    points: int


def plan(start: float, stop: float, step: float | None, now: float) -> Plan:
    """Choose the step and the tier for [start, stop)."""
    if not (math.isfinite(start) and math.isfinite(stop)):
        raise QueryError("from and to must be finite times")
    if stop <= start:
        raise QueryError("from must be before to")
    if step is not None and not (math.isfinite(step) and step > 0):
        raise QueryError("step must be a positive number of seconds")
    span = stop - start
    wanted = max(step or 0.0, span / MAX_POINTS, MIN_RAW_STEP_S)
    usable = [t for t in TIERS if t.raw or t.resolution <= wanted]
    tier = usable[-1]
    # A finer tier may have forgotten the start of the range: go coarser until one keeps it.
    for candidate in TIERS[tier.id :]:
        tier = candidate
        if now - candidate.keep <= start:
            break
    if tier.raw:
        step_s = float(math.ceil(wanted))
    else:
        step_s = float(math.ceil(max(wanted, tier.resolution) / tier.resolution) * tier.resolution)
    first = math.floor(start / step_s) * step_s
    points = max(0, math.ceil((stop - first) / step_s))
    if points > MAX_POINTS + 1:  # rounding can add one; never more
        raise AssertionError(f"{points} points for {span} s at {step_s} s")  # pragma: no cover
    return Plan(first, stop, step_s, tier, points)


@dataclass(slots=True)
class Buckets:
    """Per metric: count, min, max, sum in the metric's stored scale, one slot per point."""

    count: list[list[int]]
    low: list[list[int | None]]
    high: list[list[int | None]]
    total: list[list[int]]

    @classmethod
    def empty(cls, metrics: int, points: int) -> Buckets:
        return cls(
            [[0] * points for _ in range(metrics)],
            [[None] * points for _ in range(metrics)],
            [[None] * points for _ in range(metrics)],
            [[0] * points for _ in range(metrics)],
        )


def _fill(buckets: Buckets, block: Block, plan_: Plan, wanted: Sequence[int]) -> None:
    """Fold one stored block's entries that fall in the range into the buckets."""
    base = block.start - plan_.start
    step = plan_.step
    n = plan_.points
    slots = [int((base + off / 1000) // step) for off in block.times]
    raw = block.tier.raw
    for out, m in enumerate(wanted):
        counts, lows, highs, totals = (
            buckets.count[out], buckets.low[out], buckets.high[out], buckets.total[out]
        )  # fmt: skip
        for slot, row in zip(slots, block.rows, strict=True):
            if not 0 <= slot < n:
                continue
            if raw:
                v = row[m]
                if v is None:
                    continue
                c, lo, hi, s = 1, v, v, v
            else:
                at = 4 * m
                c = row[at] or 0
                if not c:
                    continue
                low, high, total = row[at + 1], row[at + 2], row[at + 3]
                if low is None or high is None or total is None:
                    continue
                lo, hi, s = low, high, total
            if counts[slot]:
                counts[slot] += c
                totals[slot] += s
                if lo < lows[slot]:  # type: ignore[operator]
                    lows[slot] = lo
                if hi > highs[slot]:  # type: ignore[operator]
                    highs[slot] = hi
            else:
                counts[slot], lows[slot], highs[slot], totals[slot] = c, lo, hi, s


@dataclass(slots=True)
class SeriesResult:
    key: str
    kind: str  # "gpu" or "host"
    name: str | None
    index: int | None
    first_seen: float
    last_seen: float
    values: dict[str, dict[str, list[float | None]]] = field(default_factory=dict)


@dataclass(slots=True)
class Result:
    plan: Plan
    times: list[float]
    series: list[SeriesResult]
    earliest: float | None


def _finish(
    metrics: Sequence[Metric[object]], buckets: Buckets
) -> dict[str, dict[str, list[float | None]]]:
    out: dict[str, dict[str, list[float | None]]] = {}
    for i, metric in enumerate(metrics):
        scale = metric.scale
        counts, lows, highs, totals = (
            buckets.count[i],
            buckets.low[i],
            buckets.high[i],
            buckets.total[i],
        )
        out[metric.name] = {
            "min": [None if not c else lo / scale for c, lo in zip(counts, lows, strict=True)],  # type: ignore[operator]
            "mean": [
                None if not c else round(s / c / scale, 3)
                for c, s in zip(counts, totals, strict=True)
            ],
            "max": [None if not c else hi / scale for c, hi in zip(counts, highs, strict=True)],  # type: ignore[operator]
        }
    return out


def select_metrics(kind: str, names: Sequence[str] | None) -> list[tuple[int, Metric[object]]]:
    table: Sequence[Metric[object]] = GPU_METRICS if kind == "gpu" else HOST_METRICS  # type: ignore[assignment]
    if names is None:
        return list(enumerate(table))
    return [(i, m) for i, m in enumerate(table) if m.name in names]


def known_metric_names() -> set[str]:
    return {m.name for m in GPU_METRICS} | {m.name for m in HOST_METRICS}


def run(
    path: Path,
    *,
    start: float,
    stop: float,
    step: float | None,
    now: float,
    keys: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
) -> Result:
    """Answer one query from the store at ``path`` (a read-only connection of its own)."""
    plan_ = plan(start, min(stop, now) if start < now else stop, step, now)
    times = [plan_.start + i * plan_.step for i in range(plan_.points)]
    if not path.exists():
        return Result(plan_, times, [], None)
    conn = store.connect(path, readonly=True)
    try:
        known = store.all_series(conn)
        chosen = [s for s in known if keys is None or s.key in keys][:MAX_SERIES]
        results: list[SeriesResult] = []
        for info in chosen:
            kind = "host" if info.key == HOST_KEY else "gpu"
            picked = select_metrics(kind, metrics)
            width = len(GPU_METRICS if kind == "gpu" else HOST_METRICS)
            buckets = Buckets.empty(len(picked), plan_.points)
            if plan_.points:
                for row in store.blocks_between(conn, info.id, plan_.tier, plan_.start, plan_.stop):
                    block = Block.from_row(plan_.tier, row, width)
                    _fill(buckets, block, plan_, [i for i, _ in picked])
            result = SeriesResult(
                info.key, kind, info.name, info.gpu_index, info.first_seen, info.last_seen,
                _finish([m for _, m in picked], buckets),
            )  # fmt: skip
            results.append(result)
        first = store.earliest(conn)
    except sqlite3.DatabaseError as exc:
        raise store.StoreUnusable(str(exc)) from exc
    finally:
        conn.close()
    return Result(plan_, times, results, None if first is None else float(first))
