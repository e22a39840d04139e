"""Reading the history back: the plan (tier and step) is bounded for any range, and the
buckets say exactly what the samples said, with ``None`` where there were none."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpulens.core.metrics.schema import GpuInfo
from gpulens.services.history import codec, query, recorder, store
from gpulens.services.history.metrics import GPU_METRICS, HOST_KEY
from gpulens.services.history.query import MAX_POINTS, QueryError, plan, run
from gpulens.services.history.store import DAY, TIERS, BlockRow
from tests.fakes import gpu
from tests.services.history.common import T0, close, make, system

HOUR = 3600
NOW = T0
GAP = (NOW - 10 * HOUR, NOW - 8 * HOUR)  # the service was stopped
SPIKE = NOW - 5 * HOUR + 30  # one sample at 100 %
KEYS = ["GPU-a", "GPU-b"]


def readings(when: float) -> list[GpuInfo]:
    util = 100 if when == SPIKE else 50
    return [
        gpu(0, util=util, uuid="GPU-a", memoryUsed=8000),
        gpu(1, util=20, uuid="GPU-b", memoryUsed=int(when) % 7 * 1000),
    ]


def sample_times() -> Iterator[float]:
    """Every 10 s over the 26 h before NOW, but for the gap."""
    for i in range(26 * 360):
        when = NOW - 26 * HOUR + i * 10
        if not GAP[0] <= when < GAP[1]:
            yield when


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("query") / "history.db"
    rec, clock = make(path)
    rec._open()
    for n, when in enumerate(sample_times(), 1):
        rec.record(when, readings(when), system())
        if n % 1000 == 0:
            rec._drain()
    rec.step()
    rec.record(NOW + 10, readings(NOW + 10), system())  # closes the buckets up to NOW
    rec.record(NOW + 20, readings(NOW + 20), system())
    clock.advance(recorder.FLUSH_S)
    rec.step()
    close(rec)
    return path


def values(result: query.Result, key: str, metric: str) -> dict[str, list[float | None]]:
    (series,) = [s for s in result.series if s.key == key]
    return series.values[metric]


# --- the plan ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "stop", "step", "message"),
    [
        (NOW, NOW - 1, None, "before"),
        (NOW, NOW, None, "before"),
        (math.nan, NOW, None, "finite"),
        (NOW, math.inf, None, "finite"),
        (-math.inf, NOW, None, "finite"),
        (NOW - 60, NOW, 0.0, "step"),
        (NOW - 60, NOW, -5.0, "step"),
        (NOW - 60, NOW, math.nan, "step"),
        (NOW - 60, NOW, math.inf, "step"),
    ],
)
def test_a_range_or_step_that_cannot_be_answered_is_a_query_error(
    start: float, stop: float, step: float | None, message: str
) -> None:
    with pytest.raises(QueryError, match=message):
        plan(start, stop, step, NOW)


def test_an_hour_is_read_from_the_raw_samples() -> None:
    p = plan(NOW - HOUR, NOW, None, NOW)
    assert p.tier.name == "raw" and p.step == 4.0 and p.points <= MAX_POINTS + 1


def test_a_day_is_read_from_a_rollup() -> None:
    p = plan(NOW - DAY, NOW, None, NOW)
    assert not p.tier.raw and p.step >= DAY / MAX_POINTS and p.step % p.tier.resolution == 0


def test_ten_years_are_at_most_a_thousand_points_of_the_hour_tier() -> None:
    p = plan(NOW - 3650 * DAY, NOW, None, NOW)
    assert p.tier.name == "1h" and p.points <= MAX_POINTS + 1


def test_a_range_older_than_the_raw_samples_kept_is_read_from_a_tier_that_keeps_it() -> None:
    now = NOW + 20 * DAY  # the hour asked for is 20 days old: raw and 10 s keep 14
    p = plan(NOW - HOUR, NOW, None, now)
    assert p.tier.name == "1m"
    assert now - p.tier.keep <= NOW - HOUR


@settings(deadline=None, max_examples=300)
@given(
    start=st.floats(0, 4e9),
    span=st.floats(1e-3, 3e9),
    step=st.one_of(st.none(), st.floats(1e-3, 1e9)),
    age=st.floats(0, 1e9),
)
def test_any_range_gets_a_bounded_grid_covering_it(
    start: float, span: float, step: float | None, age: float
) -> None:
    stop = start + span
    if stop <= start:
        return
    p = plan(start, stop, step, stop + age)
    assert 0 < p.points <= MAX_POINTS + 1
    assert p.start <= start and p.start + p.points * p.step >= stop
    assert p.step >= (step or 0) and p.step >= span / MAX_POINTS
    assert p.tier.raw or p.step % p.tier.resolution == 0


# --- the answer ---------------------------------------------------------------------------


def test_no_file_yet_is_an_empty_answer(tmp_path: Path) -> None:
    result = run(tmp_path / "none.db", start=NOW - HOUR, stop=NOW, step=None, now=NOW)
    assert result.series == [] and result.earliest is None
    assert len(result.times) == result.plan.points > 0


def test_a_store_without_samples_is_an_empty_answer(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    store.open_store(path).close()
    result = run(path, start=NOW - HOUR, stop=NOW, step=None, now=NOW)
    assert result.series == [] and result.earliest is None


def test_a_file_just_created_is_an_empty_answer_not_an_error(tmp_path: Path) -> None:
    """The recorder's ``sqlite3.connect`` creates an empty file before the tables: a query
    at that moment (or on a disk too full for the tables) finds no table yet."""
    path = tmp_path / "history.db"
    path.touch()
    result = run(path, start=NOW - HOUR, stop=NOW, step=None, now=NOW)
    assert result.series == [] and result.earliest is None


def test_a_file_that_is_no_store_cannot_be_read(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    path.write_bytes(b"garbage" * 1000)
    with pytest.raises(store.StoreUnusable):
        run(path, start=NOW - HOUR, stop=NOW, step=None, now=NOW)


def test_a_damaged_block_is_a_gap_and_the_rest_is_answered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A blob SQLite keeps intact but that is no block (what reaches the codec when a bit
    flips under zlib's check): that block's minute is a gap, logged once; the others are
    answered, never a 500 or a whole range lost."""
    path = tmp_path / "history.db"
    conn = store.open_store(path)
    sid = store.add_series(conn, "GPU-a", "H200", 0, NOW - 180)
    start = int(NOW // 60) * 60 - 180
    good = [[500]] + [[None]] * (len(GPU_METRICS) - 1)  # utilization 50.0 %
    store.put_blocks(
        conn,
        [
            BlockRow(sid, 0, start, start + 1, 1, codec.encode([0], good)),
            BlockRow(sid, 0, start + 60, start + 61, 1, b"not zlib"),
            BlockRow(sid, 0, start + 120, start + 121, 1, codec.encode([0], good)),
        ],
    )
    conn.close()
    with caplog.at_level("WARNING", logger="gpulens.history"):
        result = run(path, start=start, stop=start + 180, step=None, now=NOW)
        run(path, start=start, stop=start + 180, step=None, now=NOW)
    assert result.plan.tier.name == "raw" and result.plan.step == 1
    util = result.series[0].values["utilization"]["mean"]
    assert [util[0], util[60], util[120]] == [50.0, None, 50.0]
    warned = [r for r in caplog.records if "skipped a damaged block" in r.getMessage()]
    assert len(warned) == 1


def test_the_raw_samples_are_each_where_they_were(history: Path) -> None:
    result = run(history, start=NOW - 1200, stop=NOW, step=None, now=NOW)
    assert result.plan.tier.name == "raw" and result.plan.step == 2
    assert len(result.times) == result.plan.points == 600
    util = values(result, "GPU-a", "utilization")
    present = [i for i, v in enumerate(util["mean"]) if v is not None]
    assert present == list(range(0, 600, 5))  # a sample every 10 s, a point every 2 s
    assert {util["min"][i] for i in present} == {util["max"][i] for i in present} == {50.0}
    memory = values(result, "GPU-b", "memoryUsed")["mean"]
    assert [memory[i] for i in present[:3]] == [(NOW - 1200 + i * 10) % 7 * 1000 for i in range(3)]


def test_a_finer_step_than_the_samples_leaves_gaps_between_them(history: Path) -> None:
    result = run(history, start=NOW - 60, stop=NOW, step=None, now=NOW)
    mean = values(result, "GPU-a", "utilization")["mean"]
    assert result.plan.step == 1.0 and len(mean) == 60
    assert [i for i, v in enumerate(mean) if v is not None] == list(range(0, 60, 10))


def test_a_day_from_a_rollup_keeps_the_spike_and_the_exact_mean(history: Path) -> None:
    result = run(history, start=NOW - DAY, stop=NOW, step=None, now=NOW)
    p = result.plan
    assert p.tier.name == "1m" and p.step == 120
    util = values(result, "GPU-a", "utilization")
    at = result.times.index(SPIKE // 120 * 120)
    assert util["max"][at] == 100.0 and util["min"][at] == 50.0
    assert util["mean"][at] == round((11 * 500 + 1000) / 12 / 10, 3)  # 12 samples, one spike
    assert max(v for v in util["max"] if v is not None) == 100.0
    assert sum(1 for v in util["max"] if v == 100.0) == 1


def test_every_point_of_a_day_is_what_the_samples_say(history: Path) -> None:
    """Each 2-minute point of the 1 m tier against min/mean/max of the samples in it."""
    result = run(history, start=NOW - DAY, stop=NOW, step=None, now=NOW)
    step = result.plan.step
    expected: dict[float, list[float]] = {}
    for when in sample_times():
        if NOW - DAY <= when < NOW:
            expected.setdefault(when // step * step, []).append(when)
    memory = values(result, "GPU-b", "memoryUsed")
    util = values(result, "GPU-a", "utilization")
    for i, t in enumerate(result.times):
        mib = [int(w) % 7 * 1000 for w in expected.get(t, [])]
        if not mib:
            assert memory["mean"][i] is None and util["max"][i] is None, t
            continue
        assert memory["min"][i] == min(mib) and memory["max"][i] == max(mib), t
        assert memory["mean"][i] == round(sum(mib) / len(mib), 3), t
        assert util["max"][i] == (100.0 if t <= SPIKE < t + step else 50.0), t


def test_a_range_older_than_the_raw_samples_reads_the_same_from_a_rollup(
    history: Path,
) -> None:
    start, stop = NOW - 4 * HOUR, NOW - 2 * HOUR
    today = run(history, start=start, stop=stop, step=600, now=NOW)
    later = run(history, start=start, stop=stop, step=600, now=NOW + 20 * DAY)
    assert today.plan.tier.name == "10m" and later.plan.tier.name == "10m"
    recent = run(history, start=start, stop=stop, step=None, now=NOW)
    old = run(history, start=start, stop=stop, step=None, now=NOW + 20 * DAY)
    assert recent.plan.tier.name == "10s" and old.plan.tier.name == "1m"
    for key in KEYS:
        assert values(today, key, "memoryUsed") == values(later, key, "memoryUsed")
        kept = values(old, key, "utilization")["mean"]
        assert sum(v is not None for v in kept) == len(kept)  # every point from the 1 m tier


def test_a_stopped_period_is_none_and_the_data_around_it_is_there(history: Path) -> None:
    result = run(history, start=NOW - 12 * HOUR, stop=NOW - 6 * HOUR, step=None, now=NOW)
    for key in KEYS:
        stats = values(result, key, "utilization")
        for t, low, mean, high in zip(
            result.times, stats["min"], stats["mean"], stats["max"], strict=True
        ):
            inside = GAP[0] <= t and t + result.plan.step <= GAP[1]
            outside = t + result.plan.step <= GAP[0] or t >= GAP[1]
            if inside:
                assert low is None and mean is None and high is None, t
            elif outside:
                assert low is not None and mean is not None and high is not None, t


def test_one_metric_not_the_first_comes_back_on_the_same_grid(history: Path) -> None:
    """Only memoryUsed asked for: every list as long as the times, the values right."""
    for span in (HOUR, DAY, 30 * DAY):
        result = run(
            history, start=NOW - span, stop=NOW, step=None, now=NOW, metrics=["memoryUsed"]
        )
        everything = run(history, start=NOW - span, stop=NOW, step=None, now=NOW)
        for series in result.series:
            assert set(series.values) == {"memoryUsed"}
            stats = series.values["memoryUsed"]
            assert all(len(v) == len(result.times) for v in stats.values()), span
            assert stats == values(everything, series.key, "memoryUsed"), span


def test_a_host_series_has_only_host_metrics(history: Path) -> None:
    result = run(history, start=NOW - HOUR, stop=NOW, step=None, now=NOW, keys=[HOST_KEY])
    (host,) = result.series
    assert host.kind == "host" and "cpuUsage" in host.values and "utilization" not in host.values
    gpus = run(history, start=NOW - HOUR, stop=NOW, step=None, now=NOW, metrics=["utilization"])
    assert sorted(s.key for s in gpus.series) == KEYS  # the host keeps none of them


def test_several_gpus_and_their_names(history: Path) -> None:
    result = run(history, start=NOW - HOUR, stop=NOW, step=None, now=NOW, keys=KEYS)
    assert [(s.key, s.index, s.kind) for s in result.series] == [
        ("GPU-a", 0, "gpu"), ("GPU-b", 1, "gpu")
    ]  # fmt: skip
    assert result.earliest is not None and result.earliest <= NOW - 26 * HOUR


def test_a_future_range_is_all_none(history: Path) -> None:
    result = run(history, start=NOW + HOUR, stop=NOW + 2 * HOUR, step=None, now=NOW)
    assert result.plan.points > 0
    for series in result.series:
        for stats in series.values.values():
            assert all(v is None for lst in stats.values() for v in lst)


def test_a_range_reaching_past_now_stops_at_now(history: Path) -> None:
    result = run(history, start=NOW - HOUR, stop=NOW + HOUR, step=None, now=NOW)
    assert result.plan.stop == NOW and result.times[-1] < NOW


def test_queries_while_the_recorder_writes_all_succeed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer thread commits at every turn while four threads query: WAL lets each
    read a consistent snapshot, and none fails."""
    monkeypatch.setattr(recorder, "FLUSH_S", 0.0)
    path = tmp_path / "history.db"
    rec = recorder.HistoryRecorder(path, max_bytes=1 << 26)
    rec.start()
    stop = threading.Event()
    errors: list[BaseException] = []
    answers: list[int] = []

    def ask() -> None:
        while not stop.is_set():
            try:
                result = run(path, start=NOW - HOUR, stop=NOW + 1, step=None, now=NOW + 1)
                answers.append(len(result.series))
            except BaseException as exc:  # every failure is the finding
                errors.append(exc)

    readers = [threading.Thread(target=ask) for _ in range(4)]
    for thread in readers:
        thread.start()
    try:
        for i in range(600):
            rec.record(NOW - HOUR + i, readings(NOW - HOUR + i), system())
            if i % 50 == 0:
                rec.flushed.clear()
                rec.flushed.wait(5)
    finally:
        stop.set()
        for thread in readers:
            thread.join(10)
        rec.stop()
    assert errors == []
    assert answers and max(answers) == 3
    final = run(path, start=NOW - HOUR, stop=NOW, step=None, now=NOW)
    assert sum(1 for v in values(final, "GPU-a", "utilization")["mean"] if v is not None) > 0


def test_the_known_metric_names() -> None:
    names = query.known_metric_names()
    assert {"utilization", "memoryUsed", "cpuUsage", "loadAverage"} <= names
    assert len(TIERS) == 5


def test_blocks_stored_before_a_metric_was_added_read_it_as_none(tmp_path: Path) -> None:
    """Blocks with only the first metric (as an older gpulens would have kept): the
    metrics added since are None, in the raw tier and in a complete rollup block."""
    path = tmp_path / "history.db"
    conn = store.open_store(path)
    sid = store.add_series(conn, "GPU-a", "H200", 0, NOW - DAY)
    start = int(NOW - 2 * HOUR)  # a 1 m block: 60 buckets, each count 6, 30-40 %
    buckets = [[6] * 60, [300] * 60, [400] * 60, [2100] * 60]
    rollup = codec.encode([i * 60_000 for i in range(60)], buckets)
    raw = codec.encode([i * 1000 for i in range(60)], [[500] * 60])
    store.put_blocks(
        conn,
        [
            BlockRow(sid, 2, start, start + HOUR, 60, rollup),
            BlockRow(sid, 0, int(NOW - 60), int(NOW), 60, raw),
        ],
    )
    conn.close()
    day = run(path, start=NOW - DAY, stop=NOW, step=None, now=NOW)
    at = day.times.index(start)
    util, power = values(day, "GPU-a", "utilization"), values(day, "GPU-a", "powerUsage")
    assert (util["min"][at], util["mean"][at], util["max"][at]) == (30.0, 35.0, 40.0)
    assert all(v is None for stats in power.values() for v in stats)
    minute = run(path, start=NOW - 60, stop=NOW, step=None, now=NOW)
    assert values(minute, "GPU-a", "utilization")["mean"] == [50.0] * 60
    assert values(minute, "GPU-a", "memoryUsed")["mean"] == [None] * 60
