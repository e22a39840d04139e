"""The recorder against what goes wrong with a file on a real machine: no permission, a
full disk, a damaged or foreign file, another process's lock, a clock that jumps, a kill,
and the retention by age and size. Each runs on a real SQLite file, the recorder driven
by hand (``_open``, ``record``, ``step``, ``_flush``, ``_maintain``) with a fake monotonic
clock, so that nothing waits for a timer."""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gpulens.core.metrics.schema import Telemetry
from gpulens.services.findings.model import Event
from gpulens.services.history import recorder as recorder_module
from gpulens.services.history import store
from gpulens.services.history.metrics import GPU_METRICS, HOST_KEY
from gpulens.services.history.recorder import (
    FLUSH_S,
    MAINTAIN_S,
    RETRY_S,
    USAGE_FLUSH_S,
    HistoryRecorder,
)
from gpulens.services.history.store import DAY, TIERS, BlockRow
from gpulens.services.messages import ProviderStatus
from gpulens.services.sampler import Sample as SamplerSample
from gpulens.services.stream import Update
from tests.fakes import FakeClock, gpu
from tests.services.history.common import (
    T0,
    close,
    entries,
    make,
    record,
    system,
    times,
)
from tests.services.history.common import (
    gpus as gpus_at,
)

ROOT = Path(__file__).resolve().parents[3]
GPU0 = "GPU-00000000"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "state" / "history.db"


def flush(rec: HistoryRecorder, clock: FakeClock) -> None:
    """One writer turn with a flush due."""
    clock.advance(FLUSH_S)
    rec.step()


def usage_flush(rec: HistoryRecorder, clock: FakeClock) -> None:
    """One writer turn with a flush and the accounting's hand-over due."""
    clock.advance(USAGE_FLUSH_S)
    rec.step()


def assert_no_path(rec: HistoryRecorder) -> None:
    reason = rec.status().reason or ""
    assert str(rec.path.parent) not in reason and rec.path.name not in reason, reason


# --- the ordinary case ------------------------------------------------------------------


def test_samples_are_written_at_each_flush_and_the_status_says_ok(db: Path) -> None:
    rec, clock = make(db)
    rec._open()
    assert rec.status().state == "ok"
    record(rec, [T0 + i for i in range(12)])
    rec.step()  # the first turn flushes at once
    assert times(db) == [T0 + i for i in range(12)]
    assert set(entries(db, HOST_KEY)) == {(T0 + i) * 1000 for i in range(12)}
    record(rec, [T0 + 12, T0 + 13])
    rec.step()  # not due yet: taken, not written
    assert len(times(db)) == 12
    flush(rec, clock)
    assert len(times(db)) == 14
    status = rec.status()
    assert status.state == "ok" and status.bytes is not None and status.bytes > 0
    assert rec.stats.samples == 14 and rec.stats.commits == 2
    close(rec)


def test_the_thread_writes_what_is_left_at_stop(db: Path) -> None:
    rec = HistoryRecorder(db, max_bytes=1 << 26)
    rec.start()
    record(rec, [T0 + i for i in range(5)])
    rec.stop()
    assert times(db) == [T0 + i for i in range(5)]
    assert not db.with_name(db.name + "-wal").exists() or (
        db.with_name(db.name + "-wal").stat().st_size == 0
    )  # checkpointed: the file alone holds everything


def test_a_reading_no_sensor_gives_does_not_stop_the_writer(db: Path) -> None:
    rec, _ = make(db)
    rec._open()
    bad = [gpu(0, powerUsage=math.inf, temperature=10**30), gpu(1)]
    rec.record(T0, bad, system().model_copy(update={"load_average": (math.nan, 1.0, 1.0)}))
    record(rec, [T0 + 1])
    rec.step()
    assert times(db) == [T0, T0 + 1]
    stored = entries(db, GPU0)[T0 * 1000]
    names = [m.name for m in GPU_METRICS]
    assert stored[names.index("powerUsage")] is None
    assert stored[names.index("utilization")] == 500
    close(rec)


def test_a_full_queue_drops_the_oldest_and_counts_them(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recorder_module, "QUEUE_MAX", 10)
    rec, _ = make(db)
    rec._open()
    record(rec, [T0 + i for i in range(25)])  # the writer has not run: 15 too many
    assert rec.stats.dropped == 15
    rec.step()
    assert times(db) == [T0 + i for i in range(15, 25)]
    assert rec.stats.samples == 10
    close(rec)


# --- restarts ---------------------------------------------------------------------------


def _all_tiers(path: Path, keys: list[str]) -> dict[tuple[str, int], dict[int, list[int | None]]]:
    return {(key, tier.id): entries(path, key, tier.id) for key in keys for tier in TIERS}


def _close_buckets(rec: HistoryRecorder, clock: FakeClock) -> None:
    """Two samples much later close every bucket still open (in cascade), then flush."""
    record(rec, [T0 + 10**6, T0 + 10**6 + 10])
    flush(rec, clock)


KEYS = [GPU0, "GPU-00000001", HOST_KEY]
RUN = [T0 + i * 0.5 for i in range(2 * 4000)]  # 4000 s: past an hour, 10 minutes, a minute


@pytest.mark.parametrize("cut", [RUN.index(T0 + 120.0), RUN.index(T0 + 3600.5), 7001])
def test_a_restart_continues_the_stored_blocks_as_one_run_would(tmp_path: Path, cut: int) -> None:
    """Record, flush, stop; a new recorder on the same file records on in the same
    buckets: every tier ends as one uninterrupted run's."""
    once, twice = tmp_path / "once.db", tmp_path / "twice.db"
    rec, clock = make(once)
    rec._open()
    record(rec, RUN)
    rec.step()
    _close_buckets(rec, clock)
    close(rec)

    rec, clock = make(twice)
    rec._open()
    record(rec, RUN[: cut + 1])
    rec.step()
    close(rec)
    rec, clock = make(twice)
    rec._open()
    record(rec, RUN[cut + 1 :])
    rec.step()
    _close_buckets(rec, clock)
    close(rec)
    assert _all_tiers(twice, KEYS) == _all_tiers(once, KEYS)


def test_a_kill_loses_only_what_came_after_the_last_flush(tmp_path: Path) -> None:
    """The samples taken after the last flush are lost (at most FLUSH_S of them); no tier
    counts them: the store is as if they had never been."""
    cut, lost = RUN.index(T0 + 3600.5), 8
    kept = RUN[: cut + 1] + RUN[cut + 1 + lost :]
    once, twice = tmp_path / "once.db", tmp_path / "twice.db"
    rec, clock = make(once)
    rec._open()
    record(rec, kept)
    rec.step()
    _close_buckets(rec, clock)
    close(rec)

    rec, clock = make(twice)
    rec._open()
    record(rec, RUN[: cut + 1])
    rec.step()
    record(rec, RUN[cut + 1 : cut + 1 + lost])
    rec.step()  # taken into the buckets, never flushed
    close(rec)
    rec, clock = make(twice)
    rec._open()
    record(rec, RUN[cut + 1 + lost :])
    rec.step()
    _close_buckets(rec, clock)
    close(rec)
    assert _all_tiers(twice, KEYS) == _all_tiers(once, KEYS)


KILLED = """
import sys, time
from pathlib import Path
from tests.services.history.common import T0, make, record

rec, clock = make(Path(sys.argv[1]))
rec._open()
record(rec, [T0 + i for i in range(30)])
rec.step()  # flushed
record(rec, [T0 + 30 + i for i in range(10)])
rec._drain()  # taken, never flushed
print("flushed", flush=True)
time.sleep(60)
"""


def test_kill_9_keeps_everything_up_to_the_last_flush(db: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED, str(db)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "flushed"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
    assert db.with_name(db.name + "-wal").exists()  # not checkpointed: the WAL has it
    assert times(db) == [T0 + i for i in range(30)]
    assert set(entries(db, HOST_KEY)) == {(T0 + i) * 1000 for i in range(30)}
    # ... and the next recorder goes on from there
    rec, _ = make(db)
    rec._open()
    record(rec, [T0 + 40])
    rec.step()
    assert times(db) == [*(T0 + i for i in range(30)), T0 + 40]
    close(rec)


def test_a_gpu_keeps_its_series_when_its_index_changes(db: Path) -> None:
    rec, _ = make(db)
    rec._open()
    rec.record(T0, [gpu(0, uuid="GPU-a"), gpu(1, uuid="GPU-b")], system())
    rec.step()
    close(rec)
    before = {s.key: s.id for s in _series(db)}
    rec, _ = make(db)
    rec._open()  # after a reboot the driver enumerates them the other way round
    rec.record(T0 + 1, [gpu(0, uuid="GPU-b"), gpu(1, uuid="GPU-a", name="H200 NVL")], system())
    rec.step()
    close(rec)
    after = {s.key: s for s in _series(db)}
    assert {k: s.id for k, s in after.items()} == before
    assert (after["GPU-a"].gpu_index, after["GPU-a"].name) == (1, "H200 NVL")
    assert after["GPU-b"].gpu_index == 0
    assert after["GPU-a"].first_seen == T0 and after["GPU-a"].last_seen == T0 + 1
    assert sorted(entries(db, "GPU-a")) == [T0 * 1000, (T0 + 1) * 1000]


def _series(path: Path) -> list[store.SeriesInfo]:
    conn = sqlite3.connect(path)
    try:
        return store.all_series(conn)
    finally:
        conn.close()


# --- the clock --------------------------------------------------------------------------


def test_a_clock_that_goes_back_drops_samples_until_it_passes_the_last(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rec, clock = make(db)
    rec._open()
    record(rec, [T0 + i for i in range(20)])
    with caplog.at_level(logging.WARNING, logger="gpulens.history"):
        record(rec, [T0 + 5, T0 + 10, T0 + 19])  # back 15 s, then up to the last time
        rec.step()
    assert rec.stats.out_of_order == 3  # samples dropped, each counted once
    clock_lines = [r for r in caplog.records if "clock" in r.getMessage()]
    assert len(clock_lines) == 1
    record(rec, [T0 + 19.5, T0 + 25])  # past the last sample: taken again
    flush(rec, clock)
    assert times(db) == [*(T0 + i for i in range(20)), T0 + 19.5, T0 + 25]
    _close_all(rec, clock)
    tens = {at: row for at, row in entries(db, GPU0, 1).items() if at < (T0 + 1000) * 1000}
    assert sorted(tens) == [(T0 + s) * 1000 for s in (0, 10, 20)]
    assert [row[0] for _, row in sorted(tens.items())] == [10, 11, 1]  # counts: none twice
    close(rec)


def _close_all(rec: HistoryRecorder, clock: FakeClock) -> None:
    record(rec, [T0 + 10**6, T0 + 10**6 + 10])
    flush(rec, clock)


def test_a_clock_that_jumps_forward_leaves_a_gap_and_no_empty_bucket(db: Path) -> None:
    rec, clock = make(db)
    rec._open()
    record(rec, [T0 + i for i in range(15)])
    record(rec, [T0 + 3 * DAY + i for i in range(15)])
    rec.step()
    _close_all(rec, clock)
    for tier in TIERS[1:]:
        stored = entries(db, GPU0, tier.id)
        assert all(row[0] for row in stored.values()), f"an empty {tier.name} bucket"
        assert all(
            at // 1000 < T0 + 15 or at // 1000 >= T0 + 3 * DAY - tier.resolution
            for at in stored
            if at // 1000 < T0 + 10**6 - tier.resolution
        ), f"a {tier.name} bucket inside the gap"
    assert [at // 1000 for at in sorted(entries(db, GPU0, 1))][:4] == [
        T0, T0 + 10, T0 + 3 * DAY, T0 + 3 * DAY + 10
    ]  # fmt: skip
    close(rec)


# --- a file that cannot be written ------------------------------------------------------


def test_a_full_disk_pauses_and_writing_resumes_when_space_returns(db: Path) -> None:
    """``PRAGMA max_page_count`` makes SQLite itself answer SQLITE_FULL ("database or disk
    is full"), as it does when the file system has no room left."""
    rec, clock = make(db)
    rec._open()
    record(rec, [T0 + i for i in range(5)])
    rec.step()
    conn = rec._conn
    assert conn is not None
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    record(rec, [T0 + 60 * m + s for m in range(1, 30) for s in range(0, 60, 5)])
    flush(rec, clock)
    status = rec.status()
    assert status.state == "paused" and "full" in (status.reason or "")
    assert_no_path(rec)
    assert times(db) == [T0 + i for i in range(5)]  # what was written stays
    record(rec, [T0 + 1800 + i for i in range(3)])  # record goes on
    flush(rec, clock)
    assert rec.status().state == "paused"
    conn.execute("PRAGMA max_page_count = 1073741823")  # room again
    flush(rec, clock)
    assert rec.status().state == "ok"
    stored = times(db)
    assert len(stored) == 5 + 29 * 12 + 3 and stored[-1] == T0 + 1802
    close(rec)


def test_a_store_that_turns_read_only_pauses_and_resumes(db: Path) -> None:
    """``PRAGMA query_only`` makes SQLite refuse every write with SQLITE_READONLY
    ("attempt to write a readonly database"), the error a file that became read-only
    under an open connection gives; lifting it is the permission coming back."""
    rec, clock = make(db)
    rec._open()
    record(rec, [T0, T0 + 1])
    rec.step()
    conn = rec._conn
    assert conn is not None
    conn.execute("PRAGMA query_only = ON")
    record(rec, [T0 + 2, T0 + 3])
    flush(rec, clock)
    assert rec.status().state == "paused" and "readonly" in (rec.status().reason or "")
    assert_no_path(rec)
    conn.execute("PRAGMA query_only = OFF")
    flush(rec, clock)
    assert rec.status().state == "ok"
    assert times(db) == [T0, T0 + 1, T0 + 2, T0 + 3]
    close(rec)


AS_ANOTHER_USER = """
import json, os, sys
from pathlib import Path
from gpulens.services.history.recorder import RETRY_S
from tests.services.history.common import T0, close, make, record, times

directory = Path(sys.argv[1])
if os.geteuid() == 0:  # root ignores permissions: be an ordinary user, as the service is
    os.setgid(65534)
    os.setuid(65534)
path = directory / "history.db"
seen = {}

directory.chmod(0o555)  # a read-only directory: the file cannot be made
rec, clock = make(path)
rec._open()
record(rec, [T0 + i for i in range(10)])
rec.step()
clock.advance(RETRY_S)
rec.step()  # retried: still read-only
seen["dir"] = [rec.status().state, rec.status().reason, path.exists()]
directory.chmod(0o755)  # permission back
clock.advance(RETRY_S)
rec.step()
seen["dir back"] = [rec.status().state, times(path)]
close(rec)

path.chmod(0o444)  # the file read-only (a restart finds it so)
rec, clock = make(path)
rec._open()
record(rec, [T0 + 10 + i for i in range(5)])
rec.step()
seen["file"] = [rec.status().state, rec.status().reason]
path.chmod(0o644)
clock.advance(RETRY_S)
rec.step()
seen["file back"] = [rec.status().state, times(path)]
close(rec)
print(json.dumps(seen))
"""


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory an ordinary user can reach (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="gpulens-history-"))
    path.chmod(0o755)
    if os.geteuid() == 0:
        os.chown(path, 65534, 65534)
    try:
        yield path
    finally:
        for child in path.iterdir():
            child.unlink()
        path.rmdir()


def test_a_read_only_directory_or_file_pauses_and_resumes(shared_dir: Path) -> None:
    """Real permissions: the scenario runs in a child process as an ordinary user (root,
    which the tests may run as, ignores file modes), a read-only directory, then a
    read-only file; each time ``record`` goes on, the status says paused with a reason
    and no path, and when the permission returns the samples taken meanwhile are written.
    """
    done = subprocess.run(
        [sys.executable, "-c", AS_ANOTHER_USER, str(shared_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    state, reason, exists = seen["dir"]
    assert state == "paused" and not exists
    assert "unable to open" in reason or "denied" in reason.lower(), reason
    assert str(shared_dir) not in reason
    state, stored = seen["dir back"]
    assert state == "ok" and stored == [T0 + i for i in range(10)]
    state, reason = seen["file"]
    assert state == "paused" and "readonly" in reason.replace("-", "").replace(" ", ""), reason
    assert str(shared_dir) not in reason
    state, stored = seen["file back"]
    assert state == "ok" and stored == [T0 + i for i in range(15)]


def test_a_directory_that_cannot_be_made_pauses_and_is_retried(tmp_path: Path) -> None:
    """The state directory's parent is a file (whoever we run as, nothing can be made
    there); once it is a directory again the store is created and catches up."""
    blocker = tmp_path / "state"
    blocker.write_text("not a directory")
    path = blocker / "gpulens" / "history.db"
    rec, clock = make(path)
    rec._open()
    assert rec.status().state == "paused"
    assert_no_path(rec)
    record(rec, [T0 + i for i in range(4)])
    rec.step()
    clock.advance(RETRY_S - 1)
    rec.step()
    assert rec.status().state == "paused" and rec._conn is None  # not retried before RETRY_S
    blocker.unlink()
    clock.advance(1)
    rec.step()
    assert rec.status().state == "ok"
    flush(rec, clock)
    assert times(path) == [T0 + i for i in range(4)]
    close(rec)


# --- a file that is not a store of ours -------------------------------------------------


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x00\xffnot a database\n" * 500)


def _truncated(path: Path) -> None:
    rec, _ = make(path)
    rec._open()
    record(rec, [T0 + i for i in range(1200)], count=8)
    rec.step()
    assert rec._conn is not None
    rec._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    close(rec)
    path.write_bytes(path.read_bytes()[: 3 * 4096])


def _foreign(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()


def _newer(path: Path) -> None:
    conn = store.open_store(path)
    conn.execute(f"PRAGMA user_version = {store.SCHEMA_VERSION + 1}")
    conn.close()


@pytest.mark.parametrize("make_file", [_garbage, _truncated, _foreign, _newer])
def test_a_damaged_or_foreign_file_is_moved_aside_and_recording_goes_on(
    db: Path, make_file: object, caplog: pytest.LogCaptureFixture
) -> None:
    db.parent.mkdir(parents=True)
    assert callable(make_file)
    make_file(db)
    before = db.read_bytes()
    rec, _ = make(db)
    with caplog.at_level(logging.WARNING, logger="gpulens.history"):
        rec._open()
    assert rec.status().state == "ok"
    moved = sorted(db.parent.glob("history.db.corrupt-*"))
    assert [p.read_bytes() for p in moved if not p.name.endswith(("-wal", "-shm"))] == [before]
    assert any("moved it to" in r.getMessage() for r in caplog.records)
    record(rec, [T0 + 5000 + i for i in range(3)])
    rec.step()
    assert times(db) == [T0 + 5000 + i for i in range(3)]
    close(rec)


def test_a_file_found_damaged_while_writing_is_replaced(db: Path) -> None:
    """The file's pages are overwritten under the recorder (another program, a bad disk);
    another connection's write makes the recorder read them again, and its next commit
    meets SQLITE_CORRUPT: the file goes aside and the samples in memory go on in a new
    one."""
    rec, clock = make(db)
    rec._open()
    record(rec, [T0 + i for i in range(600)], count=8)
    rec.step()
    assert rec._conn is not None
    rec._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with db.open("r+b") as f:  # every page but the first: garbage
        size = f.seek(0, os.SEEK_END)
        f.seek(4096)
        f.write(b"\xa5" * (size - 4096))
    other = sqlite3.connect(db)
    other.execute("PRAGMA user_version = 1")  # a write: the recorder's cache is stale now
    other.close()
    record(rec, [T0 + 600 + i for i in range(5)])
    flush(rec, clock)  # meets the damage: the file goes aside, a new one is opened
    assert len(list(db.parent.glob("history.db.corrupt-*"))) == 1
    assert rec.status().state == "ok"
    flush(rec, clock)  # what was in memory is written to the new file
    assert times(db) == [T0 + 540 + i for i in range(65)]  # the open raw block and after
    close(rec)


# --- another process holds the lock -----------------------------------------------------


@pytest.fixture
def short_busy_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lock is waited for 20 ms, not 2 s (the waiting itself is SQLite's)."""
    monkeypatch.setattr(store, "BUSY_TIMEOUT_MS", 20)


@pytest.mark.usefixtures("short_busy_wait")
def test_a_store_locked_by_another_process_pauses_and_resumes(db: Path) -> None:
    rec, clock = make(db)
    rec._open()
    record(rec, [T0, T0 + 1])
    rec.step()
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    record(rec, [T0 + 2, T0 + 3])
    flush(rec, clock)
    assert rec.status().state == "paused" and "locked" in (rec.status().reason or "")
    assert_no_path(rec)
    other.execute("COMMIT")
    other.close()
    flush(rec, clock)
    assert rec.status().state == "ok"
    assert times(db) == [T0, T0 + 1, T0 + 2, T0 + 3]
    close(rec)


@pytest.mark.usefixtures("short_busy_wait")
def test_a_store_locked_at_start_keeps_its_history_when_the_lock_goes(db: Path) -> None:
    """A restart finds the file locked: once it opens, the new samples continue the
    stored blocks; nothing written before the restart is overwritten."""
    rec, clock = make(db)
    rec._open()
    record(rec, [T0 + i for i in range(300)])
    rec.step()
    _close_tens(rec, clock)
    close(rec)
    before = {tier.id: entries(db, GPU0, tier.id) for tier in TIERS}
    assert len(before[0]) == 301 and len(before[1]) == 30

    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    rec, clock = make(db)
    rec._open()
    assert rec.status().state == "paused"
    record(rec, [T0 + 400 + i for i in range(30)])  # the same blocks as before
    rec.step()
    other.execute("COMMIT")
    other.close()
    clock.advance(RETRY_S)
    rec.step()
    assert rec.status().state == "ok"
    after = {tier.id: entries(db, GPU0, tier.id) for tier in TIERS}
    for tier in TIERS:
        kept = {at: row for at, row in after[tier.id].items() if at in before[tier.id]}
        assert kept == before[tier.id], f"{tier.name}: history before the restart changed"
    assert times(db) == [*(T0 + i for i in range(301)), *(T0 + 400 + i for i in range(30))]
    close(rec)


def _close_tens(rec: HistoryRecorder, clock: FakeClock) -> None:
    record(rec, [T0 + 300])  # closes the 10 s bucket at 290
    flush(rec, clock)


# --- retention ----------------------------------------------------------------------------


def _fill(path: Path, rows: list[BlockRow]) -> None:
    conn = store.open_store(path)
    store.add_series(conn, GPU0, "H200", 0, T0)
    conn.execute("BEGIN IMMEDIATE")
    store.put_blocks(conn, rows)
    conn.execute("COMMIT")
    conn.close()


def _count(path: Path, tier: int) -> int:
    conn = sqlite3.connect(path)
    try:
        n: int = conn.execute("SELECT count(*) FROM blocks WHERE tier = ?", (tier,)).fetchone()[0]
        return n
    finally:
        conn.close()


def test_blocks_past_their_age_are_deleted_a_batch_per_turn(db: Path) -> None:
    now = T0 + 400 * DAY
    old = [BlockRow(1, 0, T0 + i * 60, T0 + i * 60 + 60, 1, b"x") for i in range(600)]
    recent = [BlockRow(1, 0, now - 60, now, 1, b"x"), BlockRow(1, 4, T0, T0 + 3600, 1, b"x")]
    _fill(db, old + recent)
    rec, _ = make(db, now=now)
    rec._open()
    counts = []
    for _ in range(4):
        rec._maintain()
        counts.append(_count(db, 0))
    assert counts == [601 - 256, 601 - 512, 1, 1]  # 256 a turn, never all at once
    assert _count(db, 4) == 1  # the 1 h tier keeps two years
    close(rec)


def test_maintenance_runs_on_its_own_every_minute(db: Path) -> None:
    now = T0 + 400 * DAY
    _fill(db, [BlockRow(1, 0, T0, T0 + 60, 1, b"x")])
    rec, clock = make(db, now=now)
    rec._open()
    rec.step()  # the first turn maintains
    assert _count(db, 0) == 0
    _fill(db, [BlockRow(1, 0, T0, T0 + 60, 1, b"x")])
    clock.advance(MAINTAIN_S - 1)
    rec.step()
    assert _count(db, 0) == 1
    clock.advance(1)
    rec.step()
    assert _count(db, 0) == 0
    close(rec)


def test_the_size_cap_drops_the_oldest_detail_first_until_under_it(db: Path) -> None:
    noise = os.urandom
    raw = [BlockRow(1, 0, T0 + i * 60, T0 + i * 60 + 60, 1, noise(2000)) for i in range(3000)]
    tens = [BlockRow(1, 1, T0 + i * 600, T0 + i * 600 + 600, 1, noise(2000)) for i in range(300)]
    hours = [BlockRow(1, 4, T0, T0 + 3600, 1, noise(2000))]
    _fill(db, raw + tens + hours)
    cap = 2 * 1024 * 1024
    rec, _ = make(db, max_bytes=cap, now=T0 + DAY)
    rec._open()
    conn = rec._conn
    assert conn is not None and store.used_bytes(conn) > 3 * cap
    rec._maintain()
    left = _starts(conn, 0)
    assert len(left) == 3000 - 16 * 64  # one turn: at most 16 batches of 64
    assert left == [T0 + i * 60 for i in range(3000 - len(left), 3000)]  # the oldest went
    assert _count(db, 1) == 300
    used = [store.used_bytes(conn)]
    for _ in range(5):
        rec._maintain()
        used.append(store.used_bytes(conn))
    assert used[-1] <= cap
    assert all(b <= a for a, b in itertools.pairwise(used))
    left = _starts(conn, 0)
    assert 0 < len(left) < 3000 - 16 * 64
    assert left == [T0 + i * 60 for i in range(3000 - len(left), 3000)]  # still the oldest
    assert _count(db, 1) == 300 and _count(db, 4) == 1  # coarser tiers only after the raw
    size = db.stat().st_size
    for _ in range(10):
        rec._maintain()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert db.stat().st_size < size  # and the file gives the pages back
    close(rec)


def _starts(conn: sqlite3.Connection, tier: int) -> list[int]:
    rows = conn.execute("SELECT start FROM blocks WHERE tier = ? ORDER BY start", (tier,))
    return [r[0] for r in rows]


# --- events -------------------------------------------------------------------------------


def _event(event_id: str, start: float, end: float | None = None, **fields: object) -> Event:
    return Event.model_validate(
        {
            "id": event_id, "kind": "idleHolding", "severity": "warning",
            "start": datetime.fromtimestamp(start, UTC),
            "end": None if end is None else datetime.fromtimestamp(end, UTC),
            "gpu": GPU0, "pid": 100, "user": "alice",
            "summary": "python3 (alice) holds 40 GiB at 0 % SM", "action": "Ask alice.",
            **fields,
        }
    )  # fmt: skip


def _stored_events(path: Path) -> dict[str, tuple[float, float | None, Event]]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT id, start, stop, body FROM events").fetchall()
    finally:
        conn.close()
    return {r[0]: (r[1], r[2], Event.model_validate_json(r[3])) for r in rows}


def _update(when: float, events: tuple[Event, ...]) -> Update:
    payload = Telemetry(
        seq=0, timestamp=datetime.fromtimestamp(when, UTC), source="nvml",
        gpus=[gpu(0), gpu(1)], system=system(),
    )  # fmt: skip
    sample = SamplerSample(payload, ProviderStatus(state="ok", provider="nvml"), 0.01)
    return Update(sample, payload, (), (), events)


def test_observe_queues_the_updates_events_and_a_flush_writes_them_with_the_samples(
    db: Path,
) -> None:
    rec, clock = make(db)
    rec._open()
    start = _event("ep", T0)
    change = _event("chg", T0, T0, kind="gpuAdded", severity="info", pid=None, user=None)
    rec.observe(_update(T0, (start, change)))
    rec.observe(_update(T0 + 1, ()))
    rec.step()
    assert times(db) == [T0, T0 + 1]
    stored = _stored_events(db)
    assert stored["ep"] == (T0, None, start) and stored["chg"] == (T0, T0, change)
    end = _event("ep", T0, T0 + 30)
    rec.observe(_update(T0 + 30, (end,)))
    flush(rec, clock)
    stored = _stored_events(db)
    assert len(stored) == 2 and stored["ep"] == (T0, T0 + 30, end)  # one row per episode
    assert rec.stats.events == 3 and rec.stats.events_dropped == 0
    close(rec)


def test_a_full_event_queue_drops_the_oldest_and_counts_them(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recorder_module, "EVENTS_QUEUE_MAX", 10)
    rec, _ = make(db)
    rec._open()
    rec.record_events(_event(f"e{i:02d}", T0 + i) for i in range(25))
    assert rec.stats.events_dropped == 15
    rec.step()
    assert sorted(_stored_events(db)) == [f"e{i:02d}" for i in range(15, 25)]
    close(rec)


def test_a_full_disk_keeps_the_events_pending_and_writes_them_when_space_returns(
    db: Path,
) -> None:
    rec, clock = make(db)
    rec._open()
    record(rec, [T0])
    rec.record_events([_event("before", T0)])
    rec.step()
    conn = rec._conn
    assert conn is not None
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    big = "x" * 2000  # enough to need a page the file may not grow by
    rec.record_events([_event(f"e{i}", T0 + i, summary=big) for i in range(1, 40)])
    rec.record_events([_event("before", T0, T0 + 20)])
    record(rec, [T0 + 1 + i for i in range(40)])
    flush(rec, clock)
    assert rec.status().state == "paused" and "full" in (rec.status().reason or "")
    assert set(_stored_events(db)) == {"before"}  # what was written stays
    assert _stored_events(db)["before"][1] is None
    rec.record_events([_event("e1", T0 + 1, T0 + 50, summary=big)])  # ends while paused
    flush(rec, clock)
    assert rec.status().state == "paused"
    assert len(rec._pending_events) == 40  # one entry per id, the end replacing its start
    conn.execute("PRAGMA max_page_count = 1073741823")
    flush(rec, clock)
    assert rec.status().state == "ok"
    stored = _stored_events(db)
    assert len(stored) == 40
    assert stored["before"][1] == T0 + 20 and stored["e1"][1] == T0 + 50
    assert rec._pending_events == {}
    close(rec)


def test_events_waiting_for_a_store_that_cannot_be_written_are_bounded(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recorder_module, "PENDING_EVENTS_MAX", 50)
    rec, clock = make(db)
    rec._open()
    assert rec._conn is not None
    rec._conn.execute("PRAGMA query_only = ON")  # read-only: every write refused
    for n in range(4):
        rec.record_events(_event(f"e{n * 30 + i:03d}", T0 + n * 30 + i) for i in range(30))
        flush(rec, clock)
        assert rec.status().state == "paused" and "readonly" in (rec.status().reason or "")
    assert rec.stats.events_dropped == 70 and len(rec._pending_events) == 50
    rec._conn.execute("PRAGMA query_only = OFF")
    flush(rec, clock)
    assert sorted(_stored_events(db)) == [f"e{i:03d}" for i in range(70, 120)]  # the newest
    close(rec)


def test_events_before_the_store_opens_wait_and_are_written_once_it_does(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("not a directory")
    path = blocker / "history.db"
    rec, clock = make(path)
    rec._open()
    assert rec.status().state == "paused"
    rec.record_events([_event("early", T0)])
    rec.step()
    blocker.unlink()
    clock.advance(RETRY_S)
    rec.step()
    assert rec.status().state == "ok" and set(_stored_events(path)) == {"early"}
    close(rec)


def test_a_file_found_damaged_moves_aside_and_the_events_go_on_in_a_new_one(db: Path) -> None:
    rec, clock = make(db)
    rec._open()
    record(rec, [T0 + i for i in range(600)], count=8)
    rec.record_events([_event("old", T0)])
    rec.step()
    assert rec._conn is not None
    rec._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with db.open("r+b") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(4096)
        f.write(b"\xa5" * (size - 4096))
    other = sqlite3.connect(db)
    other.execute("PRAGMA user_version = 2")
    other.close()
    rec.record_events([_event("new", T0 + 600), _event("old", T0, T0 + 601)])
    flush(rec, clock)  # meets the damage: aside, a new file
    assert len(list(db.parent.glob("history.db.corrupt-*"))) == 1
    flush(rec, clock)
    stored = _stored_events(db)
    assert set(stored) == {"new", "old"}
    assert stored["old"][:2] == (T0, T0 + 601)  # the end alone makes the whole row
    close(rec)


def test_findings_a_killed_run_left_open_are_ended_at_its_last_sample(db: Path) -> None:
    rec, clock = make(db)
    rec._open()
    record(rec, [T0 + i for i in range(20)])
    held = _event("held", T0 + 5)
    rec.record_events([held, _event("done", T0 + 1, T0 + 3)])
    rec.step()
    record(rec, [T0 + 20 + i for i in range(5)])  # never flushed: the kill takes them
    rec._drain()
    close(rec)

    rec, clock = make(db)
    rec._open()
    rec.record_events([_event("fresh", T0 + 100)])  # this run's own: stays open
    record(rec, [T0 + 100])
    rec.step()
    stored = _stored_events(db)
    assert stored["held"][1] == T0 + 19  # the last sample the store had
    assert stored["held"][2] == held.model_copy(
        update={"end": datetime.fromtimestamp(T0 + 19, UTC)}
    )
    assert stored["done"][1] == T0 + 3 and stored["fresh"][1] is None
    assert rec.stats.dangling_closed == 1
    flush(rec, clock)  # only at the first commit
    assert _stored_events(db)["fresh"][1] is None
    close(rec)


def test_the_thread_writes_past_events_then_what_comes(db: Path) -> None:
    rec = HistoryRecorder(db, max_bytes=1 << 26)
    now = math.floor(time.time())  # (the real clock: older events would expire)
    past = [_event(f"p{i:04d}", now - 3600 + i, now - 3600 + i + 1) for i in range(2500)]
    rec.start(prefill=[(now - 10, gpus_at(0), None)], prefill_events=past)
    rec.record_events([_event("now", now)])
    deadline = time.monotonic() + 20
    while rec.stats.events < 2501 and time.monotonic() < deadline:  # (stop cuts a prefill)
        time.sleep(0.01)
    rec.stop()
    assert rec.stats.commits >= 3  # a commit every 1000 past events: never all in memory
    stored = _stored_events(db)
    assert len(stored) == 2501 and stored["now"][1] is None and stored["p0000"][1] == now - 3599


# --- usage accounting -------------------------------------------------------------------


def _usage(path: Path) -> dict[tuple[str, int], float]:
    """Seconds held per (GPU, pid), summed over the stored hours."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT s.gpu, s.pid, sum(u.held_s), count(*) FROM usage u"
            " JOIN sessions s ON s.id = u.session GROUP BY s.id"
        ).fetchall()
    finally:
        conn.close()
    return {(r[0], r[1]): round(r[2], 6) for r in rows}


def test_usage_is_counted_from_every_sample_and_written_with_the_commit(db: Path) -> None:
    rec, clock = make(db)
    rec._open()
    record(rec, [T0 + i for i in range(10)])  # each GPU lists one process (pid 100 + index)
    rec.step()
    assert _usage(db) == {(GPU0, 100): 9.0, ("GPU-00000001", 101): 9.0}  # nine intervals
    record(rec, [T0 + 10 + i for i in range(5)])
    flush(rec, clock)  # blocks are committed every FLUSH_S, the accounting less often
    assert _usage(db) == {(GPU0, 100): 9.0, ("GPU-00000001", 101): 9.0}
    usage_flush(rec, clock)
    assert _usage(db) == {(GPU0, 100): 14.0, ("GPU-00000001", 101): 14.0}  # added, not again
    close(rec)


def test_usage_waits_out_a_full_disk_and_is_counted_once(db: Path) -> None:
    rec, clock = make(db)
    rec._open()
    record(rec, [T0 + i for i in range(5)])
    rec.step()
    conn = rec._conn
    assert conn is not None
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    for n in range(6):  # paused across an hour boundary: several session-hours waiting
        record(rec, [T0 + 5 + n * 1000 + i for i in range(1000)])
        flush(rec, clock)
        assert rec.status().state == "paused"
    assert len(rec._usage_pending) == 2 * 2  # one entry per session and hour, not per flush
    conn.execute("PRAGMA max_page_count = 1073741823")
    flush(rec, clock)
    assert rec.status().state == "ok"
    assert _usage(db) == {(GPU0, 100): 6004.0, ("GPU-00000001", 101): 6004.0}
    assert rec._usage_pending == {}
    close(rec)


def test_usage_waiting_for_the_store_is_bounded(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recorder_module, "PENDING_USAGE_MAX", 3)
    rec, clock = make(db)
    rec._open()
    assert rec._conn is not None
    rec._conn.execute("PRAGMA query_only = ON")
    record(rec, [T0 + i * 900 for i in range(12)], count=1)  # three hours, gaps capped
    flush(rec, clock)
    assert len(rec._usage_pending) == 3 and rec.stats.usage_dropped == 0
    record(rec, [T0 + 10_800 + i * 900 for i in range(8)], count=1)  # two hours more
    usage_flush(rec, clock)
    hours = sorted(k[3] for k in rec._usage_pending)
    assert hours == [T0 + 2 * 3600, T0 + 3 * 3600, T0 + 4 * 3600]  # the newest three
    assert rec.stats.usage_dropped == 2
    close(rec)


def test_past_samples_are_counted_too(db: Path) -> None:
    rec = HistoryRecorder(db, max_bytes=1 << 26)
    now = math.floor(time.time())
    rec.start(prefill=[(now - 60 + i, gpus_at(i), None) for i in range(31)])
    deadline = time.monotonic() + 20
    while rec.stats.samples < 31 and time.monotonic() < deadline:
        time.sleep(0.01)
    rec.stop()
    assert _usage(db) == {(GPU0, 100): 30.0, ("GPU-00000001", 101): 30.0}


def test_a_failure_in_accounting_does_not_stop_the_history(
    db: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    rec, _ = make(db)
    rec._open()

    def broken(when: float, gpus: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(rec.tracker, "add", broken)
    with caplog.at_level(logging.WARNING, logger="gpulens.history"):
        record(rec, [T0 + i for i in range(5)])
        rec.step()
    assert times(db) == [T0 + i for i in range(5)]
    assert rec.stats.tracker_errors == 5
    assert len([r for r in caplog.records if "accounting failed" in r.getMessage()]) == 1
    close(rec)
