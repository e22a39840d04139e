"""The history file: its layout, what happens to a file that is not a store of ours, and
the retention by age and by size, on real SQLite files."""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from gpulens.services.history import store
from gpulens.services.history.store import DAY, TIERS, BlockRow

NOW = 1_800_000_000


def blob(size: int = 64) -> bytes:
    return os.urandom(size)  # incompressible: the size cap's tests need pages to fill


def block(tier: int, start: int, *, series: int = 1, size: int = 64) -> BlockRow:
    length = TIERS[tier].block
    return BlockRow(series, tier, start, start + length, 1, blob(size))


def put(conn: sqlite3.Connection, rows: list[BlockRow]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    store.put_blocks(conn, rows)
    conn.execute("COMMIT")


def starts(conn: sqlite3.Connection, tier: int) -> list[int]:
    rows = conn.execute("SELECT start FROM blocks WHERE tier = ? ORDER BY start", (tier,))
    return [r[0] for r in rows]


def aside(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.corrupt-*"))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "state" / "history.db"


def test_a_new_store_has_the_layout(db: Path) -> None:
    conn = store.open_store(db)  # the directory is created too
    assert conn.execute("PRAGMA application_id").fetchone()[0] == store.APPLICATION_ID
    assert conn.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
    assert store.all_series(conn) == [] and store.earliest(conn) is None
    conn.close()
    assert aside(db) == []


def test_a_store_reopens_with_its_data(db: Path) -> None:
    conn = store.open_store(db)
    sid = store.add_series(conn, "GPU-a", "H200", 0, 100.0)
    put(conn, [block(0, NOW - 60, series=sid)])
    conn.close()
    conn = store.open_store(db)
    assert [s.key for s in store.all_series(conn)] == ["GPU-a"]
    assert store.earliest(conn) == NOW - 60
    conn.close()
    assert aside(db) == []


def test_an_empty_file_becomes_a_store(db: Path) -> None:
    db.parent.mkdir()
    db.touch()
    store.open_store(db).close()
    assert aside(db) == []


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not a database, just some bytes\n" * 300)


def _truncated(path: Path) -> None:
    """A real store with data, cut to its first three pages (a disk that lost the rest)."""
    conn = store.open_store(path)
    sid = store.add_series(conn, "GPU-a", "H200", 0, 1.0)
    put(conn, [block(0, i * 60, series=sid, size=3000) for i in range(100)])
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = path.read_bytes()
    assert len(data) > 40 * 4096
    path.write_bytes(data[: 3 * 4096])


def _foreign(path: Path) -> None:
    """Another program's SQLite file."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    conn.execute("INSERT INTO notes (text) VALUES ('mine, not gpulens')")
    conn.commit()
    conn.close()


def _newer(path: Path) -> None:
    """A store written by a later gpulens (layout 2)."""
    conn = store.open_store(path)
    conn.execute(f"PRAGMA user_version = {store.SCHEMA_VERSION + 1}")
    conn.close()


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_garbage, "not a database"),
        (_truncated, "malformed"),
        (_foreign, "not a gpulens history file"),
        (_newer, "newer gpulens"),
    ],
)
def test_a_file_that_is_no_store_of_ours_is_moved_aside(
    db: Path, make: object, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    db.parent.mkdir()
    assert callable(make)
    make(db)
    before = db.read_bytes()
    with caplog.at_level(logging.WARNING, logger="gpulens.history"):
        conn = store.open_store(db)
    assert store.all_series(conn) == []  # a fresh store took its place
    conn.close()
    moved = aside(db)
    assert len(moved) == 1
    assert moved[0].name.startswith("history.db.corrupt-20")
    assert moved[0].read_bytes() == before  # kept as it was, for whoever wants to look
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and reason in warnings[0] and str(moved[0]) in warnings[0]


def test_the_wal_and_shm_go_aside_with_their_file(db: Path) -> None:
    db.parent.mkdir()
    for suffix in ("", "-wal", "-shm"):
        db.with_name(db.name + suffix).write_bytes(suffix.encode() or b"main")
    moved = store.move_aside(db, "test")
    assert sorted(p.name for p in db.parent.iterdir()) == [
        moved.name,
        moved.name + "-shm",
        moved.name + "-wal",
    ]
    assert moved.with_name(moved.name + "-wal").read_bytes() == b"-wal"


def test_moving_aside_twice_in_a_second_keeps_both(db: Path) -> None:
    db.parent.mkdir()
    first = db.with_name("a.db")
    first.write_bytes(b"one")
    second = db.with_name("a.db")
    one = store.move_aside(first, "test")
    second.write_bytes(b"two")
    two = store.move_aside(second, "test")
    assert one != two and one.read_bytes() == b"one" and two.read_bytes() == b"two"


def test_a_directory_that_cannot_be_made_raises_for_the_caller_to_report(tmp_path: Path) -> None:
    """Its parent is a file: no store can be created there (whoever we run as)."""
    (tmp_path / "state").write_text("a file where the directory should be")
    with pytest.raises(NotADirectoryError):
        store.open_store(tmp_path / "state" / "gpulens" / "history.db")


def test_series_keep_their_id_and_take_the_latest_name_and_index(db: Path) -> None:
    conn = store.open_store(db)
    a = store.add_series(conn, "GPU-a", "H200", 0, 10.0)
    b = store.add_series(conn, "GPU-b", "H200", 1, 10.0)
    assert store.add_series(conn, "GPU-a", "ignored", 5, 20.0) == a
    store.touch_series(conn, [(a, "H200 NVL", 1, 30.0), (b, "H200", 0, 30.0)])
    got = {s.key: s for s in store.all_series(conn)}
    assert (got["GPU-a"].id, got["GPU-a"].name, got["GPU-a"].gpu_index) == (a, "H200 NVL", 1)
    assert (got["GPU-a"].first_seen, got["GPU-a"].last_seen) == (10.0, 30.0)
    assert (got["GPU-b"].id, got["GPU-b"].gpu_index) == (b, 0)
    conn.close()


def test_blocks_between_finds_every_block_touching_the_range(db: Path) -> None:
    conn = store.open_store(db)
    raw = TIERS[0]
    put(conn, [BlockRow(1, 0, s, s + 31, 30, blob()) for s in range(NOW - 600, NOW + 600, 60)])
    found = [r.start for r in store.blocks_between(conn, 1, raw, NOW - 100, NOW + 100)]
    # NOW - 120's block holds [NOW-120, NOW-89]: it touches the range; NOW - 180's does not
    assert found == [NOW - 120, NOW - 60, NOW, NOW + 60]
    assert list(store.blocks_between(conn, 2, raw, NOW - 100, NOW + 100)) == []
    assert list(store.blocks_between(conn, 1, TIERS[1], NOW - 100, NOW + 100)) == []
    conn.close()


def test_expire_deletes_what_each_tier_no_longer_keeps_in_batches(db: Path) -> None:
    conn = store.open_store(db)
    old_raw = [block(0, NOW - 15 * DAY - i * 60) for i in range(25)]  # past 14 days
    new_raw = [block(0, NOW - 13 * DAY)]
    minutes = [block(2, NOW - 100 * DAY), block(2, NOW - 91 * DAY)]  # 1 m: 92 days
    hours = [block(4, NOW - 700 * DAY)]  # 1 h: two years
    put(conn, old_raw + new_raw + minutes + hours)
    counts = []
    while n := store.expire(conn, NOW, batch=10):
        counts.append(n)
    assert counts == [10, 10, 6]  # 25 raw blocks and one 1 m block, ten at a time
    assert starts(conn, 0) == [NOW - 13 * DAY]
    assert starts(conn, 2) == [NOW - 91 * DAY]
    assert starts(conn, 4) == [NOW - 700 * DAY]
    conn.close()


def test_drop_oldest_takes_the_finest_tier_first_oldest_first(db: Path) -> None:
    conn = store.open_store(db)
    put(conn, [block(0, NOW + i * 60) for i in range(5)])
    put(conn, [block(1, NOW - 10 * DAY), block(1, NOW)])
    put(conn, [block(4, NOW - 300 * DAY)])
    assert store.drop_oldest(conn, batch=3) == 3
    assert starts(conn, 0) == [NOW + 180, NOW + 240]
    assert starts(conn, 1) == [NOW - 10 * DAY, NOW]  # older, but a coarser tier: later
    assert store.drop_oldest(conn, batch=3) == 2
    assert store.drop_oldest(conn, batch=3) == 2
    assert starts(conn, 1) == [] and starts(conn, 4) == [NOW - 300 * DAY]
    assert store.drop_oldest(conn, batch=3) == 1
    assert store.drop_oldest(conn, batch=3) == 0
    conn.close()


def test_used_bytes_fall_as_blocks_go_and_the_file_shrinks_a_step_at_a_time(db: Path) -> None:
    conn = store.open_store(db)
    put(conn, [block(0, i * 60, size=3000) for i in range(400)])
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    full, size = store.used_bytes(conn), db.stat().st_size
    assert full > 400 * 3000
    while store.drop_oldest(conn, batch=64):
        pass
    assert store.used_bytes(conn) < full / 10
    store.release_pages(conn, pages=50)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    step = db.stat().st_size
    assert size - step == 50 * 4096  # 50 pages given back, no more
    for _ in range(20):
        store.release_pages(conn)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert db.stat().st_size < size / 10
    conn.close()


def test_content_errors_are_told_from_disk_and_lock_errors() -> None:
    conn = sqlite3.connect(":memory:")
    with pytest.raises(sqlite3.OperationalError) as locked:
        conn.execute("SELECT * FROM nowhere")
    assert not store.is_content_error(locked.value)
    assert store.is_content_error(sqlite3.DatabaseError("database disk image is malformed"))
    assert store.is_content_error(sqlite3.DatabaseError("file is not a database"))
    assert not store.is_content_error(sqlite3.OperationalError("database or disk is full"))
    assert not store.is_content_error(ValueError("malformed"))
    conn.close()


# --- layout 2: events, sessions and usage ------------------------------------------------

V1_SCHEMA = f"""
PRAGMA application_id = {store.APPLICATION_ID};
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    name TEXT,
    gpu_index INTEGER,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS blocks (
    series INTEGER NOT NULL,
    tier INTEGER NOT NULL,
    start INTEGER NOT NULL,
    stop INTEGER NOT NULL,
    entries INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (series, tier, start)
) WITHOUT ROWID;
PRAGMA user_version = 1;
"""


def make_v1(path: Path) -> None:
    """A store as gpulens wrote it before layout 2 (the same pragmas and tables), with a
    series and a block in it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(V1_SCHEMA)
    sid = store.add_series(conn, "GPU-a", "H200", 0, 100.0)
    put(conn, [BlockRow(sid, 0, NOW - 60, NOW, 1, b"v1 block")])
    conn.close()


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type='table'")}


def test_a_new_store_has_the_event_session_and_usage_tables(db: Path) -> None:
    conn = store.open_store(db)
    assert {"series", "blocks", "events", "sessions", "usage"} <= _tables(conn)
    assert store.SCHEMA_VERSION == 2
    conn.close()


def test_a_layout_1_store_is_upgraded_in_place_with_its_data(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_v1(db)
    with caplog.at_level(logging.INFO, logger="gpulens.history"):
        conn = store.open_store(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert {"events", "sessions", "usage"} <= _tables(conn)
    assert [s.key for s in store.all_series(conn)] == ["GPU-a"]
    block_row = store.get_block(conn, 1, 0, NOW - 60)
    assert block_row is not None and block_row.data == b"v1 block"
    assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # still incremental
    conn.execute(
        "INSERT INTO events (id, kind, severity, start, stop, gpu, body)"
        " VALUES ('e', 'hot', 'warning', 1, NULL, NULL, '{}')"
    )
    conn.close()
    assert aside(db) == []  # never moved aside
    assert any("upgraded" in r.getMessage() for r in caplog.records)
    conn = store.open_store(db)  # and opens again as it is
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 1
    conn.close()
    assert aside(db) == []


def test_an_upgrade_that_cannot_be_written_leaves_layout_1_for_the_next_try(db: Path) -> None:
    make_v1(db)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("PRAGMA busy_timeout = 0")
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            store.open_store(db)
    finally:
        other.execute("ROLLBACK")
        other.close()
    check = sqlite3.connect(db)
    assert check.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "events" not in _tables(check)
    check.close()
    conn = store.open_store(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    conn.close()
    assert aside(db) == []


def _event_row(conn: sqlite3.Connection, event_id: str, start: float, stop: float | None) -> None:
    conn.execute(
        "INSERT INTO events (id, kind, severity, start, stop, gpu, body)"
        " VALUES (?, 'hot', 'warning', ?, ?, 'GPU-a', '{}')",
        (event_id, start, stop),
    )


def _usage_rows(conn: sqlite3.Connection, session: int, last_seen: float, hours: list[int]) -> None:
    conn.execute(
        "INSERT INTO sessions (id, gpu, pid, started, first_seen, last_seen, peak_mib)"
        " VALUES (?, 'GPU-a', ?, 0, 0, ?, 1)",
        (session, session, last_seen),
    )
    conn.executemany(
        "INSERT INTO usage VALUES (?, ?, 1, 1, 1, 1, 1, 1)", [(session, h) for h in hours]
    )


def _ids(conn: sqlite3.Connection, sql: str) -> list[Any]:
    return [r[0] for r in conn.execute(sql)]


def test_events_sessions_and_usage_expire_with_the_longest_tier(db: Path) -> None:
    conn = store.open_store(db)
    keep = TIERS[-1].keep
    old, recent = NOW - keep - DAY, NOW - keep + DAY
    _event_row(conn, "old", old - 60, old)
    _event_row(conn, "recent", old - 60, recent)  # began long ago, ended within the keep
    _event_row(conn, "open", old - 60, None)  # still holds: kept
    cut = NOW - keep  # (a whole hour: the last hour kept begins there)
    _usage_rows(conn, 1, old, [cut - 7200, cut - 3600])
    _usage_rows(conn, 2, recent, [cut - 3600, cut])
    assert store.expire(conn, NOW) == 1 + 3 + 1  # an event, three usage hours, a session
    assert sorted(_ids(conn, "SELECT id FROM events")) == ["open", "recent"]
    assert _ids(conn, "SELECT hour FROM usage") == [cut]
    assert _ids(conn, "SELECT id FROM sessions") == [2]  # its usage goes on
    assert store.expire(conn, NOW) == 0
    conn.close()


def test_expire_takes_events_and_usage_in_batches_too(db: Path) -> None:
    conn = store.open_store(db)
    old = NOW - TIERS[-1].keep - DAY
    for i in range(25):
        _event_row(conn, f"e{i}", old - i, old)
    counts = []
    while n := store.expire(conn, NOW, batch=10):
        counts.append(n)
    assert counts == [10, 10, 5]
    conn.close()


def test_the_size_cap_takes_old_usage_then_ended_events_once_no_block_is_left(db: Path) -> None:
    conn = store.open_store(db)
    put(conn, [block(0, NOW)])
    _usage_rows(conn, 1, NOW, [NOW - 7200, NOW - 3600, NOW])
    _event_row(conn, "a", NOW - 100, NOW - 50)
    _event_row(conn, "b", NOW - 10, NOW - 5)
    _event_row(conn, "c", NOW - 500, None)  # holds now: never dropped
    assert store.drop_oldest(conn, batch=2) == 1  # the block first
    assert store.drop_oldest(conn, batch=2) == 2
    assert _ids(conn, "SELECT hour FROM usage") == [NOW]
    assert store.drop_oldest(conn, batch=2) == 1
    assert store.drop_oldest(conn, batch=1) == 1
    assert sorted(_ids(conn, "SELECT id FROM events")) == ["b", "c"]
    assert store.drop_oldest(conn, batch=2) == 1
    assert store.drop_oldest(conn, batch=2) == 0
    assert _ids(conn, "SELECT id FROM events") == ["c"]
    conn.close()
