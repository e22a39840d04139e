"""Reading the history back: the tier that fits a range, and buckets of min/mean/max.

The answer is bounded whatever the range: at most ``MAX_POINTS`` buckets per
series. The server picks the tier (the coarsest that still gives ``MIN_POINTS``
buckets over the range, or whose buckets fit the step asked for, and which
still keeps the start of the range) and the step (at least the one asked for,
at least range/``MAX_POINTS``, a whole number of the tier's buckets). Every
series shares one time grid; a bucket with no data is ``None`` in every list
(the page draws a gap there).
"""

from __future__ import annotations

import logging
import math
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gpulens.core.metrics.text import OnceLog
from gpulens.services.history import codec, store
from gpulens.services.history.metrics import GPU_METRICS, HOST_KEY, HOST_METRICS, Metric
from gpulens.services.history.rollup import stored_columns
from gpulens.services.history.store import TIERS, Tier

_bad_blocks = OnceLog(logging.getLogger("gpulens.history"))

MAX_POINTS = 1000
MIN_POINTS = 500
Col = list[int | None]
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
    # The coarsest tier that still gives MIN_POINTS buckets over the range (or the step
    # asked for): each point then merges a handful of stored buckets at most.
    coarsest = max(step or 0.0, span / MIN_POINTS)
    tier = [t for t in TIERS if t.raw or t.resolution <= coarsest][-1]
    # A finer tier may have forgotten the start of the range: go coarser until one keeps it.
    for candidate in TIERS[tier.id :]:
        tier = candidate
        if now - candidate.keep <= start:
            break
    if tier.raw:
        step_s = float(math.ceil(wanted))
    else:
        factor = math.ceil(max(wanted, tier.resolution) / tier.resolution)
        per_block = tier.block // tier.resolution
        # A step that divides the block keeps each point inside one stored block
        # (the fast path of _fill); past a whole block, any whole number of buckets.
        if factor <= per_block:
            factor = next(d for d in range(factor, per_block + 1) if per_block % d == 0)
        step_s = float(factor * tier.resolution)
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


def _groups(column: Col, size: int) -> Iterator[tuple[int | None, ...]]:
    return zip(*[iter(column)] * size, strict=True)


def _fill_dense(
    buckets: Buckets, columns: list[Col], slot0: int, size: int, wanted: Sequence[int]
) -> None:
    """A complete rollup block whose points each cover ``size`` of its buckets: every
    point is inside this block, so each statistic is one pass of C-level min/max/sum."""
    for out, m in enumerate(wanted):
        at = 4 * m
        counts, lows, highs, sums = columns[at], columns[at + 1], columns[at + 2], columns[at + 3]
        k = len(counts) // size  # (the columns not asked for are left empty)
        c = list(map(sum, _groups(counts, size)))  # type: ignore[arg-type]  # counts: no None
        if None in lows:  # some buckets without a reading: the slow way, per point
            lo = [min((v for v in g if v is not None), default=None) for g in _groups(lows, size)]
            hi = [max((v for v in g if v is not None), default=None) for g in _groups(highs, size)]
            s = [sum(v for v in g if v is not None) for g in _groups(sums, size)]
        else:
            lo = list(map(min, _groups(lows, size)))  # type: ignore[arg-type]
            hi = list(map(max, _groups(highs, size)))  # type: ignore[arg-type]
            s = list(map(sum, _groups(sums, size)))  # type: ignore[arg-type]
        end = slot0 + k
        buckets.count[out][slot0:end] = c
        buckets.low[out][slot0:end] = lo
        buckets.high[out][slot0:end] = hi
        buckets.total[out][slot0:end] = s


def _fill(
    buckets: Buckets,
    tier: Tier,
    block_start: int,
    times: list[int],
    columns: list[Col],
    plan_: Plan,
    wanted: Sequence[int],
) -> None:
    """Fold one stored block's entries that fall in the range into the buckets."""
    step = plan_.step
    n = plan_.points
    if not tier.raw and columns:
        per_block = tier.block // tier.resolution
        size = int(step // tier.resolution)
        offset = block_start - plan_.start
        slot0 = int(offset // step)
        dense = len(times) == per_block and times[-1] == (per_block - 1) * tier.resolution * 1000
        if (
            dense and tier.block % step == 0 and offset % step == 0
            and slot0 >= 0 and slot0 + per_block // size <= n
        ):  # fmt: skip
            _fill_dense(buckets, columns, slot0, size, wanted)
            return
    base = block_start - plan_.start
    slots = [int((base + off / 1000) // step) for off in times]
    for out, m in enumerate(wanted):
        counts, lows, highs, totals = (
            buckets.count[out], buckets.low[out], buckets.high[out], buckets.total[out]
        )  # fmt: skip
        if tier.raw:
            column = columns[m]
            stats = ((1, v, v, v) if v is not None else None for v in column)
        else:
            at = 4 * m
            stats = (
                (c, lo, hi, s) if c and lo is not None and hi is not None and s is not None
                else None
                for c, lo, hi, s in zip(
                    columns[at], columns[at + 1], columns[at + 2], columns[at + 3], strict=True
                )
            )  # fmt: skip
        for slot, stat in zip(slots, stats, strict=True):
            if stat is None or not 0 <= slot < n:
                continue
            c, lo, hi, s = stat
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
    gpus_only: bool = False,
) -> Result:
    """Answer one query from the store at ``path`` (a read-only connection of its own):
    the series in ``keys`` (all when None; only the GPUs with ``gpus_only``)."""
    plan_ = plan(start, min(stop, now) if start < now else stop, step, now)
    times = [plan_.start + i * plan_.step for i in range(plan_.points)]
    if not path.exists():
        return Result(plan_, times, [], None)
    conn = store.connect(path, readonly=True)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_schema WHERE name = 'series'").fetchone():
            return Result(plan_, times, [], None)  # just created: no table yet
        known = store.all_series(conn)
        chosen = [
            s
            for s in known
            if (keys is None or s.key in keys) and not (gpus_only and s.key == HOST_KEY)
        ][:MAX_SERIES]
        results: list[SeriesResult] = []
        for info in chosen:
            kind = "host" if info.key == HOST_KEY else "gpu"
            picked = select_metrics(kind, metrics)
            if not picked and keys is None:
                continue  # none of the metrics asked for is kept for this kind of series
            width = len(GPU_METRICS if kind == "gpu" else HOST_METRICS)
            buckets = Buckets.empty(len(picked), plan_.points)
            if plan_.points:
                indexes = [i for i, _ in picked]
                for row in store.blocks_between(conn, info.id, plan_.tier, plan_.start, plan_.stop):
                    try:
                        offsets, columns = stored_columns(row, plan_.tier, width, indexes)
                    except codec.CorruptBlock as exc:  # one bad block is a gap, not an error
                        _bad_blocks.warning(
                            f"{info.key}/{row.tier}/{row.start}",
                            "history: skipped a damaged block (%s, tier %s, from %s): %s",
                            info.key, plan_.tier.name, row.start, exc,
                        )  # fmt: skip
                        continue
                    _fill(buckets, plan_.tier, row.start, offsets, columns, plan_, indexes)
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
