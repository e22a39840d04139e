"""The tiers in memory: buckets of count/min/max/sum exactly as the samples say, closed in
cascade, never counted twice, and continued after a restart as if it had not happened."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pytest

from gpulens.services.history import codec
from gpulens.services.history.rollup import (
    Block,
    OutOfOrder,
    Row,
    Series,
    Stats,
    add_row,
    empty_stats,
    merge,
)
from gpulens.services.history.store import TIERS, BlockRow

T0 = 216_000 * 8_000  # 2024-10-09: a boundary of every tier's blocks and buckets
Stored = dict[tuple[int, int], BlockRow]  # (tier, start) -> the row, as the store keeps it


def value(i: int) -> Row:
    """Sample ``i``'s readings: two metrics, the second missing now and then."""
    return (i % 17 * 10, None if i % 5 == 0 else 1000 - i % 7)


def entries(series: Series, done: Iterable[Block], tier: int) -> dict[int, list[int | None]]:
    """Every entry of ``tier`` (finished blocks, then the open one): absolute ms → row."""
    found: dict[int, list[int | None]] = {}
    blocks = [b for b in done if b.tier.id == tier]
    open_block = series.blocks[tier]
    if open_block is not None:
        blocks.append(open_block)
    for block in blocks:
        for offset, row in zip(block.times, block.rows, strict=True):
            at = block.start * 1000 + offset
            assert at not in found, f"tier {tier}: an entry twice at {at}"
            found[at] = row
    return found


def reference(samples: Sequence[tuple[float, Row]], resolution: int) -> dict[int, Stats]:
    """Buckets of ``resolution`` s computed straight from the samples."""
    out: dict[int, Stats] = {}
    for when, row in samples:
        bucket = int(when // resolution) * resolution
        add_row(out.setdefault(bucket * 1000, empty_stats(len(row))), row)
    return out


def feed(series: Series, samples: Iterable[tuple[float, Row]]) -> list[Block]:
    done: list[Block] = []
    for when, row in samples:
        done += series.add(when, row)
    return done


def test_add_row_and_merge_keep_count_min_max_sum() -> None:
    a = empty_stats(2)
    for row in [(5, None), (-3, None), (10, None)]:
        add_row(a, row)
    assert a == [3, -3, 10, 12, 0, None, None, None]
    b = empty_stats(2)
    add_row(b, (20, 7))
    merge(a, b)
    assert a == [4, -3, 20, 32, 1, 7, 7, 7]
    merge(a, empty_stats(2))
    assert a == [4, -3, 20, 32, 1, 7, 7, 7]


def test_every_tier_holds_exactly_the_buckets_the_samples_make() -> None:
    """2 h 15 min of 1 s samples: each closed bucket of each tier is the reference's
    count/min/max/sum, a bucket closes in cascade (a tier's only after the finer tier's
    bucket in the next one closes), and an open bucket is not stored yet."""
    samples = [(T0 + i + 0.25, value(i)) for i in range(8_100)]
    series = Series(1, 2)
    done = feed(series, samples)
    last = samples[-1][0]
    closed_before = int(last // 10) * 10  # tier 1: every bucket before the last sample's
    for k in range(1, len(TIERS)):
        res = TIERS[k].resolution
        want = {
            at: stats
            for at, stats in reference(samples, res).items()
            if at < closed_before * 1000 and at // 1000 < int(closed_before // res) * res
        }
        got = entries(series, done, k)
        assert got == want, f"tier {TIERS[k].name}"
        # the next tier's buckets close once this tier's bucket in the next one closes
        closed_before = max(got) // 1000 if got else 0
    assert [len(entries(series, done, k)) for k in range(1, 5)] == [809, 134, 13, 2]
    raw = entries(series, done, 0)
    assert len(raw) == len(samples) and list(raw.values())[123] == list(samples[123][1])


def test_a_one_sample_spike_survives_into_the_hour() -> None:
    samples = [(T0 + i, (100,)) for i in range(3 * 3600 + 700)]
    samples[1234] = (T0 + 1234, (9_999,))
    samples[5000] = (T0 + 5000, (-7,))
    series = Series(1, 1)
    done = feed(series, samples)
    hours = entries(series, done, 4)
    assert hours[T0 * 1000] == [3600, 100, 9_999, 3599 * 100 + 9_999]
    assert hours[(T0 + 3600) * 1000] == [3600, -7, 100, 3599 * 100 - 7]
    assert hours[(T0 + 7200) * 1000] == [3600, 100, 100, 360_000]
    ten = entries(series, done, 3)
    assert ten[(T0 + 1200) * 1000][2] == 9_999 and ten[(T0 + 4800) * 1000][1] == -7


@pytest.mark.parametrize("back", [0.0, 0.5, 100.0])
def test_a_sample_not_after_the_last_is_out_of_order_and_changes_nothing(back: float) -> None:
    series = Series(1, 1)
    feed(series, [(T0 + i, (i,)) for i in range(25)])
    before = (series.last_time, [b and list(b.times) for b in series.blocks], series.buckets)
    with pytest.raises(OutOfOrder):
        series.add(T0 + 24 - back, (99,))
    assert (series.last_time, [b and list(b.times) for b in series.blocks], series.buckets) == (
        before
    )
    series.add(T0 + 24.5, (1,))  # resumes once the time passes the last sample
    assert series.last_time == T0 + 24.5


def test_a_jump_forward_is_a_gap_not_empty_buckets() -> None:
    samples = [(T0 + i, (5,)) for i in range(30)]
    samples += [(T0 + 2 * 86_400 + i, (7,)) for i in range(0, 4000, 10)]
    series = Series(1, 1)
    done = feed(series, samples)
    for k in range(1, 5):
        got = entries(series, done, k)
        assert all(row[0] for row in got.values()), f"an empty bucket in {TIERS[k].name}"
        assert set(got) <= set(reference(samples, TIERS[k].resolution))
    tens = sorted(entries(series, done, 1))
    assert tens[:4] == [T0 * 1000, (T0 + 10) * 1000, (T0 + 20) * 1000, (T0 + 172_800) * 1000]


# --- a restart ------------------------------------------------------------------------


def write(stored: Stored, series: Series, done: list[Block]) -> None:
    """What a flush writes: finished blocks and every open one."""
    for block in [*done, *(b for b in series.blocks if b is not None)]:
        if block.times:
            stored[(block.tier.id, block.start)] = block.to_row(1)


def restart(stored: Stored, width: int) -> Series:
    """A new process: each tier's last stored block, as the recorder reads them back."""
    series = Series(1, width)
    last: list[Block | None] = []
    for tier in TIERS:
        starts = [start for (t, start) in stored if t == tier.id]
        row = stored[(tier.id, max(starts))] if starts else None
        last.append(Block.from_row(tier, row, width) if row is not None else None)
    series.resume(last)
    return series


def everything(stored: Stored, width: int) -> dict[int, dict[int, list[int | None]]]:
    out: dict[int, dict[int, list[int | None]]] = {t.id: {} for t in TIERS}
    for (tier, start), row in stored.items():
        block = Block.from_row(TIERS[tier], row, width)
        for offset, entry in zip(block.times, block.rows, strict=True):
            out[tier][start * 1000 + offset] = entry
    return out


def run(samples: list[tuple[float, Row]], cut: int | None, lost: int = 0) -> Stored:
    """Feed ``samples``, flushing after sample ``cut`` and losing the next ``lost``
    (taken but never flushed: a kill), then restart and feed the rest."""
    stored: Stored = {}
    series = Series(1, 2)
    if cut is not None:
        write(stored, series, feed(series, samples[: cut + 1]))
        feed(series, samples[cut + 1 : cut + 1 + lost])  # gone with the process
        series = restart(stored, 2)
        samples = samples[cut + 1 + lost :]
    done = feed(series, samples)
    # Two samples far later close every bucket still open, in cascade.
    done += feed(series, [(T0 + 10**6, (0, 0)), (T0 + 10**6 + 10, (0, 0))])
    write(stored, series, done)
    return stored


SAMPLES = [(T0 + i * 0.5 + 0.1, value(i)) for i in range(2 * 3600 * 2 + 1300)]


def at(seconds: float) -> int:
    """The index of the first sample at or after ``T0 + seconds``."""
    return next(i for i, (when, _) in enumerate(SAMPLES) if when >= T0 + seconds)


@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(at(3.0), id="inside the first 10 s bucket"),
        pytest.param(at(25.0), id="inside a 10 s bucket"),
        pytest.param(at(60.0), id="just into a new minute"),
        pytest.param(at(61.0), id="into a minute, its first 10 s bucket open"),
        pytest.param(at(600.0), id="just into a new 10 minutes"),
        pytest.param(at(3600.0), id="just into a new hour"),
        pytest.param(at(7200.0) - 1, id="the last sample of an hour"),
        pytest.param(at(4000.0), id="anywhere"),
    ],
)
def test_a_restart_after_a_flush_loses_and_doubles_nothing(cut: int) -> None:
    """Flush, restart, go on: the store ends exactly as one uninterrupted run's."""
    assert everything(run(SAMPLES, cut), 2) == everything(run(SAMPLES, None), 2)


@pytest.mark.parametrize("cut", [at(25.0), at(59.0), at(3599.0), at(4000.0)])
def test_a_kill_loses_only_the_samples_since_the_last_flush(cut: int) -> None:
    """Samples taken after the last flush are lost (the doc's at most FLUSH_S); every
    tier then agrees with a run that never had them: none is half-counted."""
    lost = 9
    kept = SAMPLES[: cut + 1] + SAMPLES[cut + 1 + lost :]
    assert everything(run(SAMPLES, cut, lost), 2) == everything(run(kept, None), 2)


def test_after_a_restart_a_sample_must_be_after_the_last_stored_one() -> None:
    """The last stored sample is remembered: the clock having gone back across a restart
    cannot put a second entry at a time already stored."""
    stored: Stored = {}
    series = Series(1, 2)
    write(stored, series, feed(series, SAMPLES[:40]))
    series = restart(stored, 2)
    assert series.last_time == SAMPLES[39][0]
    with pytest.raises(OutOfOrder):
        series.add(SAMPLES[39][0], (1, 1))
    with pytest.raises(OutOfOrder):
        series.add(SAMPLES[10][0], (1, 1))
    series.add(SAMPLES[40][0], SAMPLES[40][1])
    assert series.blocks[0] is not None and len(series.blocks[0].times) == 41


def test_a_block_stored_before_a_metric_was_added_reads_it_as_never_seen() -> None:
    raw = BlockRow(1, 0, T0, T0 + 2, 2, codec.encode([0, 1000], [[1, 2], [None, 4]]))
    block = Block.from_row(TIERS[0], raw, 3)
    assert block.rows == [[1, None, None], [2, 4, None]]
    bucket = codec.encode([0], [[2], [1], [5], [6]])  # one metric: count, min, max, sum
    block = Block.from_row(TIERS[1], BlockRow(1, 1, T0, T0 + 10, 1, bucket), 2)
    assert block.rows == [[2, 1, 5, 6, 0, None, None, None]]
    stats = empty_stats(2)
    merge(stats, block.rows[0])
    assert stats == [2, 1, 5, 6, 0, None, None, None]  # the new metric's count stays 0


def test_an_empty_block_round_trips() -> None:
    block = Block(TIERS[1], T0)
    row = block.to_row(3)
    assert (row.entries, row.stop) == (0, T0)
    back = Block.from_row(TIERS[1], row, 2)
    assert (back.times, back.rows) == ([], [])
