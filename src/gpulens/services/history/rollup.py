"""The in-memory side of the tiers: the open block of each series and tier, and how
samples become buckets.

A sample goes into the raw tier as read, and into the open 10 s bucket. When a
bucket closes (a sample arrives in a later one) it is appended to its tier's
block and merged into the next tier's open bucket, and so on up: each sample
costs one bucket update, whatever the number of tiers. A bucket keeps, per
metric, ``count``, ``min``, ``max`` and ``sum`` (integers in the metric's scale),
so buckets merge exactly and a spike is never averaged away.

Only closed buckets are stored; after a restart, each open bucket is rebuilt
from the finer tier's stored entries (``Series.resume``), so no tier counts a
sample twice and none misses more than the last few seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from gpulens.services.history import codec
from gpulens.services.history.store import TIERS, BlockRow, Tier

Row = tuple[int | None, ...]
Stats = list[int | None]  # count, min, max, sum for each metric, flattened: 4 per metric


def empty_stats(width: int) -> Stats:
    stats: Stats = []
    for _ in range(width):
        stats += [0, None, None, None]
    return stats


def add_row(stats: Stats, row: Row) -> None:
    """Count one sample's readings into a bucket."""
    for i, value in enumerate(row):
        if value is None:
            continue
        at = 4 * i
        count = stats[at]
        if not count:
            stats[at : at + 4] = [1, value, value, value]
            continue
        stats[at] = count + 1
        if value < stats[at + 1]:  # type: ignore[operator]
            stats[at + 1] = value
        if value > stats[at + 2]:  # type: ignore[operator]
            stats[at + 2] = value
        stats[at + 3] += value  # type: ignore[operator]


def merge(into: Stats, other: Stats) -> None:
    """Fold bucket ``other`` into bucket ``into`` (same metrics)."""
    for at in range(0, len(other), 4):
        count = other[at]
        if not count:
            continue
        if not into[at]:
            into[at : at + 4] = other[at : at + 4]
            continue
        into[at] += count  # type: ignore[operator]
        into[at + 1] = min(into[at + 1], other[at + 1])  # type: ignore[type-var]
        into[at + 2] = max(into[at + 2], other[at + 2])  # type: ignore[type-var]
        into[at + 3] += other[at + 3]  # type: ignore[operator]


@dataclass(slots=True)
class Block:
    """The entries of one series in one tier for one block span, as the store keeps them.

    Raw: ``times`` in ms from ``start``, ``rows`` the readings. Rollup: ``times`` the
    buckets' offsets in ms, ``rows`` their flattened stats."""

    tier: Tier
    start: int
    times: list[int] = field(default_factory=list)
    rows: list[list[int | None]] = field(default_factory=list)
    dirty: bool = False

    def stop(self) -> int:
        """The first second after the block's last entry."""
        if not self.times:
            return self.start
        last = self.start + -(-self.times[-1] // 1000)
        return last + self.tier.resolution if not self.tier.raw else last + 1

    def to_row(self, series: int, *, final: bool = True) -> BlockRow:
        """The row to store; a block still open (``final=False``) is packed fast, since it
        is written again at the next flush, and tightly once it is complete."""
        width = len(self.rows[0]) if self.rows else 0
        columns = [[row[c] for row in self.rows] for c in range(width)]
        return BlockRow(
            series, self.tier.id, self.start, self.stop(), len(self.times),
            codec.encode(self.times, columns, level=9 if final else 1),
        )  # fmt: skip

    @classmethod
    def from_row(cls, tier: Tier, row: BlockRow, metrics: int) -> Block:
        """Decode a stored block of ``metrics`` metrics."""
        times, columns = stored_columns(row, tier, metrics)
        rows = [list(r) for r in zip(*columns, strict=True)] if columns else []
        return cls(tier, row.start, times, rows or [[] for _ in times])


def stored_columns(
    row: BlockRow, tier: Tier, metrics: int, wanted: Sequence[int] | None = None
) -> tuple[list[int], list[list[int | None]]]:
    """A stored block's times and columns for ``metrics`` metrics (1 column each in the
    raw tier, count/min/max/sum in the others); only the ``wanted`` metrics' are read
    (the others come back empty). A block stored before a metric was added reads that
    metric as never seen."""
    per = 1 if tier.raw else 4
    columns_wanted = None if wanted is None else {per * m + i for m in wanted for i in range(per)}
    times, columns = codec.decode(row.data, columns_wanted)
    n = len(times)
    for i in range(len(columns), per * metrics):
        columns.append([0] * n if per == 4 and i % 4 == 0 else [None] * n)
    return times, columns[: per * metrics]


class OutOfOrder(Exception):
    """A sample not later than the last one of its series (the clock went back)."""


class Series:
    """One series' open blocks and buckets across all tiers."""

    def __init__(self, sid: int, width: int) -> None:
        self.sid = sid
        self.width = width  # metrics per row
        self.blocks: list[Block | None] = [None] * len(TIERS)
        self.buckets: list[tuple[int, Stats] | None] = [None] * len(TIERS)  # open, per tier
        self.last_time: float | None = None

    def resume(self, stored: list[Block | None]) -> None:
        """Continue from the last stored block of each tier (after a restart): each open
        bucket is rebuilt from the finer tier's entries that fall in it.

        A tier's open bucket is the one its finer tier's last entry (the last sample, or
        the last closed bucket) went into, which is not always the last sample's: just
        past a minute, the minute before is still open (its last 10 s bucket closes with
        the next one)."""
        self.blocks = list(stored)
        raw = stored[0]
        if raw is not None and raw.times:
            self.last_time = raw.start + raw.times[-1] / 1000
        for k in range(1, len(TIERS)):
            finer = stored[k - 1]
            if finer is None or not finer.times:
                continue
            tier = TIERS[k]
            latest = finer.start + finer.times[-1] // 1000
            bucket = latest // tier.resolution * tier.resolution
            stats = empty_stats(self.width)
            for offset, row in zip(finer.times, finer.rows, strict=True):
                if bucket <= finer.start + offset // 1000 < bucket + tier.resolution:
                    if finer.tier.raw:
                        add_row(stats, tuple(row))
                    else:
                        merge(stats, row)
            if any(stats[0::4]):
                self.buckets[k] = (bucket, stats)
            last_stored = stored[k]
            if last_stored is not None and last_stored.times:
                # A bucket already stored (closed before the restart) is not reopened.
                stored_at = last_stored.start + last_stored.times[-1] // 1000
                if stored_at >= bucket:
                    self.buckets[k] = None

    def add(self, when: float, row: Row) -> list[Block]:
        """Take one sample; returns the blocks that just filled up (ready to be written).

        Raises ``OutOfOrder`` for a sample not after the previous one: buckets stay in
        order and none is counted twice; the series resumes once the clock passes it."""
        if self.last_time is not None and when <= self.last_time:
            raise OutOfOrder(when)
        done: list[Block] = []
        self.last_time = when
        raw_tier = TIERS[0]
        start = int(when // raw_tier.block) * raw_tier.block
        raw = self.blocks[0]
        if raw is None or raw.start != start:
            if raw is not None:
                done.append(raw)
            raw = self.blocks[0] = Block(raw_tier, start)
        raw.times.append(round((when - start) * 1000))
        raw.rows.append(list(row))
        raw.dirty = True
        stats = empty_stats(self.width)
        add_row(stats, row)
        self._into_bucket(1, int(when // TIERS[1].resolution) * TIERS[1].resolution, stats, done)
        return done

    def _into_bucket(self, k: int, bucket: int, stats: Stats, done: list[Block]) -> None:
        open_bucket = self.buckets[k]
        if open_bucket is not None and open_bucket[0] != bucket:
            self._close(k, done)
            open_bucket = None
        if open_bucket is None:
            self.buckets[k] = (bucket, stats)
        else:
            merge(open_bucket[1], stats)

    def _close(self, k: int, done: list[Block]) -> None:
        """Append tier ``k``'s open bucket to its block and merge it into tier ``k+1``."""
        open_bucket = self.buckets[k]
        if open_bucket is None:
            return
        self.buckets[k] = None
        bucket, stats = open_bucket
        tier = TIERS[k]
        start = bucket // tier.block * tier.block
        block = self.blocks[k]
        if block is None or block.start != start:
            if block is not None:
                done.append(block)
            block = self.blocks[k] = Block(tier, start)
        offset = (bucket - start) * 1000
        if block.times and block.times[-1] >= offset:
            return  # already stored (a restart inside this bucket); never count it twice
        block.times.append(offset)
        block.rows.append(stats)
        block.dirty = True
        if k + 1 < len(TIERS):
            coarser = TIERS[k + 1]
            self._into_bucket(k + 1, bucket // coarser.resolution * coarser.resolution,
                              list(stats), done)  # fmt: skip

    def dirty(self) -> list[Block]:
        """The open blocks changed since the last write (written, they stay open)."""
        return [b for b in self.blocks if b is not None and b.dirty]
