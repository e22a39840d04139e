"""The history file: SQLite (the standard library's), WAL, one row per block.

Tables:

* ``series``: one row per GPU (keyed by its UUID, so it keeps its history when
  its index changes) and one for the host: name, last index, first/last seen.
* ``blocks``: ``(series, tier, start)`` → the packed entries of that span
  (``codec.py``), with the span's end and entry count for range queries.
* ``events`` (layout 2): one row per finding episode or instant change, keyed by the
  event's id (``events.py``); ``stop`` is NULL while the finding holds.
* ``sessions`` and ``usage`` (layout 2): one row per process session (pid + start
  time on a GPU) and its usage per hour (``usage.py``).

A layout-1 file is upgraded in place (its tables kept, the new ones added).

The file carries an ``application_id`` and a ``user_version``: a file that is
not a database, is another program's, was written by a newer layout, or fails
SQLite's ``quick_check`` is moved aside (``<name>.corrupt-<time>``, with its
``-wal``/``-shm``) and a fresh store takes its place; history never stops
the service.

Durability: WAL with ``synchronous=NORMAL``; a commit survives the process
being killed (``kill -9``), and the writer commits every few seconds.
Space: ``auto_vacuum=INCREMENTAL``; expired blocks are deleted in small
batches and their pages returned a few at a time, never in one long pause.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("gpulens.history")

APPLICATION_ID = 0x67504C4E  # "gPLN"
SCHEMA_VERSION = 2
BUSY_TIMEOUT_MS = 2000
DAY = 86_400


@dataclass(frozen=True, slots=True)
class Tier:
    """One resolution: ``resolution`` seconds per bucket (0: every sample kept as read),
    ``block`` seconds per stored row, kept for ``keep`` seconds."""

    id: int
    name: str
    resolution: int
    block: int
    keep: int

    @property
    def raw(self) -> bool:
        return self.resolution == 0


# Per-sample data for two weeks, then min/mean/max buckets. The 10 s and 10 min tiers
# keep every range's query to a few thousand buckets (docs/history.md has the sizes).
TIERS: tuple[Tier, ...] = (
    Tier(0, "raw", 0, 60, 14 * DAY),
    Tier(1, "10s", 10, 600, 14 * DAY),
    Tier(2, "1m", 60, 3_600, 92 * DAY),
    Tier(3, "10m", 600, 36_000, 366 * DAY),
    Tier(4, "1h", 3_600, 216_000, 2 * 366 * DAY),
)

_SCHEMA = f"""
PRAGMA application_id = {APPLICATION_ID};
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
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, severity TEXT NOT NULL,
    start REAL NOT NULL, stop REAL,
    gpu TEXT, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_start ON events (start);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY, gpu TEXT NOT NULL, pid INTEGER NOT NULL, started REAL NOT NULL,
    name TEXT, user TEXT, container TEXT, gpu_index INTEGER, gpu_name TEXT,
    first_seen REAL NOT NULL, last_seen REAL NOT NULL, peak_mib INTEGER NOT NULL,
    UNIQUE (gpu, pid, started)
);
CREATE TABLE IF NOT EXISTS usage (
    session INTEGER NOT NULL, hour INTEGER NOT NULL,
    held_s REAL NOT NULL, gpu_s REAL NOT NULL, mib_s REAL NOT NULL,
    sm_s REAL NOT NULL, sm_known_s REAL NOT NULL, peak_mib INTEGER NOT NULL,
    PRIMARY KEY (session, hour)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS usage_hour ON usage (hour);
PRAGMA user_version = {SCHEMA_VERSION};
"""


class StoreUnusable(Exception):
    """The file cannot be used as a history store (the reason is the message)."""


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    id: int
    key: str
    name: str | None
    gpu_index: int | None
    first_seen: float
    last_seen: float


@dataclass(frozen=True, slots=True)
class BlockRow:
    series: int
    tier: int
    start: int
    stop: int
    entries: int
    data: bytes


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection with this store's settings (``readonly``: for queries)."""
    if readonly:
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
        )
    else:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def _check(conn: sqlite3.Connection) -> None:
    """Raise ``StoreUnusable`` unless the file is empty or a store of this layout."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type='table'")}
    if app_id == 0 and version == 0 and not tables:
        return  # a new, empty file
    if app_id != APPLICATION_ID:
        raise StoreUnusable(f"not a gpulens history file (application_id {app_id:#x})")
    if version > SCHEMA_VERSION:
        raise StoreUnusable(f"written by a newer gpulens (layout {version} > {SCHEMA_VERSION})")
    check = conn.execute("PRAGMA quick_check").fetchone()[0]
    if check != "ok":
        raise StoreUnusable(f"damaged: {check}")


def _create(conn: sqlite3.Connection) -> None:
    """Make the tables a new file lacks, or upgrade an older layout in place (one
    transaction: a failed upgrade leaves the file as it was, and is tried again)."""
    fresh = conn.execute("PRAGMA page_count").fetchone()[0] == 0
    if fresh:  # auto_vacuum can only be chosen before the first table
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    try:  # a write even when nothing is new: a store that cannot be written says so here
        conn.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}COMMIT;")
    except sqlite3.Error:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    if not fresh and 0 < version < SCHEMA_VERSION:
        log.info("history: upgraded the store from layout %d to %d", version, SCHEMA_VERSION)


def move_aside(path: Path, reason: str) -> Path:
    """Rename the file (and its -wal/-shm) out of the way; returns the new name."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    path.rename(target)
    log.warning(
        "history: %s is unusable (%s); moved it to %s and started a new one",
        path, reason, target,
    )  # fmt: skip
    return target


def open_store(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the store at ``path`` for writing.

    A file that cannot be a store is moved aside and a new one created. Raises
    ``OSError`` / ``sqlite3.Error`` only when even a new file cannot be made there
    (a missing or read-only directory, a full disk): the caller reports that and
    retries later.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not os.access(path, os.W_OK):
        # Said before SQLite opens it: opened read-only, it leaves a read-only -shm beside
        # it, which keeps the store unwritable after the file's permission comes back.
        raise PermissionError(errno.EACCES, "the history file is read-only")
    for attempt in (1, 2):
        conn = connect(path)
        try:
            _check(conn)
            _create(conn)
            return conn
        except StoreUnusable as exc:
            conn.close()
            if attempt == 2:
                raise
            move_aside(path, str(exc))
        except sqlite3.DatabaseError as exc:
            conn.close()
            # Not a database at all, or damaged beyond reading its header.
            if attempt == 2 or not _is_content_error(exc):
                raise
            move_aside(path, str(exc))
    raise AssertionError("unreachable")  # pragma: no cover


def _is_content_error(exc: sqlite3.Error) -> bool:
    """An error that says the file's content is bad (not the disk, not a lock)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or (
        "malformed" in str(exc) or "not a database" in str(exc)
    )


def is_content_error(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.DatabaseError) and _is_content_error(exc)


# --- writing ---------------------------------------------------------------------------


def series_ids(conn: sqlite3.Connection) -> dict[str, int]:
    return {key: sid for sid, key in conn.execute("SELECT id, key FROM series")}


def add_series(
    conn: sqlite3.Connection, key: str, name: str | None, index: int | None, now: float
) -> int:
    cur = conn.execute(
        "INSERT INTO series (key, name, gpu_index, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (key) DO UPDATE SET last_seen = excluded.last_seen RETURNING id",
        (key, name, index, now, now),
    )
    sid: int = cur.fetchone()[0]
    return sid


def touch_series(
    conn: sqlite3.Connection, rows: Iterable[tuple[int, str | None, int | None, float]]
) -> None:
    conn.executemany(
        "UPDATE series SET name = ?, gpu_index = ?, last_seen = ? WHERE id = ?",
        [(name, index, seen, sid) for sid, name, index, seen in rows],
    )


def put_blocks(conn: sqlite3.Connection, rows: Iterable[BlockRow]) -> None:
    conn.executemany(
        "INSERT INTO blocks (series, tier, start, stop, entries, data) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (series, tier, start) DO UPDATE SET"
        " stop = excluded.stop, entries = excluded.entries, data = excluded.data",
        [(r.series, r.tier, r.start, r.stop, r.entries, r.data) for r in rows],
    )


def get_block(conn: sqlite3.Connection, series: int, tier: int, start: int) -> BlockRow | None:
    row = conn.execute(
        "SELECT series, tier, start, stop, entries, data FROM blocks"
        " WHERE series = ? AND tier = ? AND start = ?",
        (series, tier, start),
    ).fetchone()
    return BlockRow(*row) if row else None


def last_block(conn: sqlite3.Connection, series: int, tier: int) -> BlockRow | None:
    row = conn.execute(
        "SELECT series, tier, start, stop, entries, data FROM blocks"
        " WHERE series = ? AND tier = ? ORDER BY start DESC LIMIT 1",
        (series, tier),
    ).fetchone()
    return BlockRow(*row) if row else None


def expire(conn: sqlite3.Connection, now: float, batch: int = 256) -> int:
    """Delete at most ``batch`` rows past their age: blocks by their tier's keep, ended
    events, usage hours and finished sessions by the longest tier's; returns how many."""
    deleted = 0
    for tier in TIERS:
        left = batch - deleted
        if left <= 0:
            break
        cur = conn.execute(
            "DELETE FROM blocks WHERE (series, tier, start) IN (SELECT series, tier, start"
            " FROM blocks WHERE tier = ? AND stop < ? LIMIT ?)",
            (tier.id, int(now) - tier.keep, left),
        )
        deleted += cur.rowcount
    cutoff = now - TIERS[-1].keep  # events and usage are kept as long as the longest tier
    for sql, arg in (
        (
            "DELETE FROM events WHERE id IN (SELECT id FROM events"
            " WHERE stop IS NOT NULL AND stop < ? LIMIT ?)",
            cutoff,
        ),
        (  # an hour that ended before the cutoff (usage.py's expire, without importing it)
            "DELETE FROM usage WHERE (session, hour) IN (SELECT session, hour FROM usage"
            " WHERE hour <= ? LIMIT ?)",
            math.floor(cutoff) - 3600,
        ),
        (
            "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE last_seen < ?"
            " AND NOT EXISTS (SELECT 1 FROM usage WHERE usage.session = sessions.id) LIMIT ?)",
            cutoff,
        ),
    ):
        left = batch - deleted
        if left <= 0:
            break
        deleted += conn.execute(sql, (arg, left)).rowcount
    return deleted


def drop_oldest(conn: sqlite3.Connection, batch: int = 64) -> int:
    """Delete the ``batch`` oldest blocks of the finest tier that has any (the size cap:
    detail goes first, the long-term trend last); when no block is left, the oldest
    usage rows, then the oldest ended events; returns how many."""
    for tier in TIERS:
        cur = conn.execute(
            "DELETE FROM blocks WHERE (series, tier, start) IN (SELECT series, tier, start"
            " FROM blocks WHERE tier = ? ORDER BY start LIMIT ?)",
            (tier.id, batch),
        )
        if cur.rowcount:
            return cur.rowcount
    # Only events and usage left: the oldest of them go (an active finding stays).
    for sql in (
        "DELETE FROM usage WHERE (session, hour) IN (SELECT session, hour FROM usage"
        " ORDER BY hour LIMIT ?)",
        "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE stop IS NOT NULL"
        " ORDER BY start LIMIT ?)",
    ):
        cur = conn.execute(sql, (batch,))
        if cur.rowcount:
            return cur.rowcount
    return 0


def used_bytes(conn: sqlite3.Connection) -> int:
    """Bytes in use: pages holding data (free pages wait for the incremental vacuum)."""
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    used: int = (pages - free) * size
    return used


def release_pages(conn: sqlite3.Connection, pages: int = 256) -> None:
    """Give at most ``pages`` free pages back to the file system.

    The pragma frees one page per step and its rows have no column, so ``execute``
    (which stops there) freed one page a call; ``executescript`` steps it to the end."""
    conn.executescript(f"PRAGMA incremental_vacuum({int(pages)});")


# --- reading ---------------------------------------------------------------------------


def all_series(conn: sqlite3.Connection) -> list[SeriesInfo]:
    return [
        SeriesInfo(*row)
        for row in conn.execute(
            "SELECT id, key, name, gpu_index, first_seen, last_seen FROM series ORDER BY id"
        )
    ]


def blocks_between(
    conn: sqlite3.Connection, series: int, tier: Tier, start: float, stop: float
) -> Iterator[BlockRow]:
    """The blocks of ``series`` in ``tier`` that hold any time in [start, stop), in order."""
    rows = conn.execute(
        "SELECT series, tier, start, stop, entries, data FROM blocks WHERE series = ?"
        " AND tier = ? AND start > ? AND start < ? AND stop >= ? ORDER BY start",
        (series, tier.id, int(start) - tier.block, stop, int(start)),
    )
    for row in rows:
        yield BlockRow(*row)


def earliest(conn: sqlite3.Connection) -> int | None:
    """The start of the oldest block of any series and tier: the first moment the store
    knows (one index lookup per series and tier, never a scan of the table)."""
    found: list[int] = []
    for (series,) in conn.execute("SELECT id FROM series").fetchall():
        for tier in TIERS:
            row = conn.execute(
                "SELECT min(start) FROM blocks WHERE series = ? AND tier = ?", (series, tier.id)
            ).fetchone()
            if row[0] is not None:
                found.append(int(row[0]))
    return min(found, default=None)
