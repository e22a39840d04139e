"""Accounting in the history store: process sessions and their usage per hour.

Tables (``store.py``): ``sessions`` (one row per GPU, pid and start time) and
``usage`` (``(session, hour)`` → seconds held, GPU-seconds, MiB-seconds, SM % x
seconds, seconds with an SM %, peak MiB), both kept as long as the history.

``write`` adds what ``UsageTracker.take`` handed over: a session's row is created
or widened (first seen: the earliest, last seen and peak: the largest; name, user
and container: the latest known), an hour's row is *added to*, never replaced, so
a restart in the middle of an hour adds the rest of it. It does not commit (the
recorder commits with the rest of its flush).

``query`` sums the hours of [start, stop) grouped by user, process name,
container, GPU or session. Usage is stored per hour: a first or last hour only
partly inside the range counts in proportion to its overlap (a range 10:30-12:00
takes half of 10:00-11:00's usage), peak memory and first/last seen are the
sessions' own. One SQL aggregation over the ``usage_hour`` index: 30 days of 500
sessions is ~360k rows (bench/usage.py).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gpulens.services.accounting import HOUR, UsageDelta
from gpulens.services.history import store

By = Literal["user", "process", "container", "gpu", "session"]
BY: tuple[By, ...] = ("user", "process", "container", "gpu", "session")
MAX_LIMIT = 10_000

_UPSERT_SESSION = (
    "INSERT INTO sessions (gpu, pid, started, name, user, container, gpu_index, gpu_name,"
    " first_seen, last_seen, peak_mib) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (gpu, pid, started) DO UPDATE SET"
    " name = coalesce(excluded.name, name), user = coalesce(excluded.user, user),"
    " container = coalesce(excluded.container, container),"
    " gpu_index = coalesce(excluded.gpu_index, gpu_index),"
    " gpu_name = coalesce(excluded.gpu_name, gpu_name),"
    " first_seen = min(first_seen, excluded.first_seen),"
    " last_seen = max(last_seen, excluded.last_seen),"
    " peak_mib = max(peak_mib, excluded.peak_mib)"
    " RETURNING id"
)
_UPSERT_USAGE = (
    "INSERT INTO usage (session, hour, held_s, gpu_s, mib_s, sm_s, sm_known_s, peak_mib)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (session, hour) DO UPDATE SET"
    " held_s = held_s + excluded.held_s, gpu_s = gpu_s + excluded.gpu_s,"
    " mib_s = mib_s + excluded.mib_s, sm_s = sm_s + excluded.sm_s,"
    " sm_known_s = sm_known_s + excluded.sm_known_s,"
    " peak_mib = max(peak_mib, excluded.peak_mib)"
)


def write(conn: sqlite3.Connection, deltas: Iterable[UsageDelta]) -> None:
    """Add the deltas to the store (inside the caller's transaction; no commit)."""
    by_session: dict[tuple[str, int, float], list[UsageDelta]] = {}
    for d in deltas:
        by_session.setdefault((d.gpu, d.pid, d.started), []).append(d)
    rows: list[tuple[int, int, float, float, float, float, float, int]] = []
    for (gpu, pid, started), items in by_session.items():
        last = max(items, key=lambda d: d.last_seen)
        sid: int = conn.execute(
            _UPSERT_SESSION,
            (
                gpu, pid, started, last.name, last.user, last.container, last.gpu_index,
                last.gpu_name, min(d.first_seen for d in items), last.last_seen,
                max(d.peak_mib for d in items),
            ),
        ).fetchone()[0]  # fmt: skip
        rows.extend(
            (sid, d.hour, d.held_s, d.gpu_s, d.mib_s, d.sm_s, d.sm_known_s, d.peak_mib)
            for d in items
        )
    conn.executemany(_UPSERT_USAGE, rows)


def expire(conn: sqlite3.Connection, before: float, batch: int = 256) -> int:
    """Delete at most ``batch`` usage hours that ended before ``before``, then sessions
    last seen before it that have no hour left; returns how many rows went."""
    cur = conn.execute(
        "DELETE FROM usage WHERE (session, hour) IN (SELECT session, hour FROM usage"
        " WHERE hour <= ? LIMIT ?)",
        (math.floor(before) - HOUR, batch),
    )
    deleted = cur.rowcount
    left = batch - deleted
    if left > 0:
        deleted += conn.execute(
            "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE last_seen < ?"
            " AND NOT EXISTS (SELECT 1 FROM usage WHERE usage.session = sessions.id) LIMIT ?)",
            (before, left),
        ).rowcount
    return deleted


# --- reading ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UsageGroup:
    key: str
    label: str
    gpu_hours: float
    gib_hours: float
    held_hours: float
    sessions: int
    peak_memory_mib: int
    mean_memory_mib: float | None
    mean_sm: float | None
    first_seen: float
    last_seen: float
    sm_known_hours: float = 0.0  # the time mean_sm is over (to merge groups)
    # by=session: who
    gpu: str | None = None
    pid: int | None = None
    process: str | None = None
    user: str | None = None
    container: str | None = None
    start_time: float | None = None


@dataclass(frozen=True, slots=True)
class UsageResult:
    start: float
    stop: float
    by: By
    rows: list[UsageGroup]
    truncated: bool
    total: UsageGroup | None


_KEY = {
    "user": "s.user",
    "process": "s.name",
    "container": "s.container",
    "gpu": "s.gpu",
    "session": "s.id",
}
# A range narrower than this share of the stored hours reads its rows through the
# usage_hour index; a wider one reads the table in its own order (session, hour): one
# index lookup per row costs ~10 times a row of a scan (bench/usage.py).
INDEX_SHARE = 0.1
_OVERLAP = "(min(hour + 3600, :stop) - max(hour, :start)) / 3600.0"


def _per_session(wide: bool) -> str:
    """Per session: the whole hours inside [start, stop) summed as stored, plus the one or
    two partial hours at its ends times their overlap (``a``/``b``: the whole hours' bounds,
    ``e1``/``e2``: the partial ones)."""
    # (a unary + keeps SQLite from using an index on hour: NOT INDEXED is not honoured in a
    # compound query inside a CTE)
    hour = "+hour" if wide else "hour"
    hint = "" if wide else "INDEXED BY usage_hour"
    # (every piece put into these queries is a constant of this module; values are bound)
    return f"""
    per AS (
        SELECT session, sum(held_s) AS h, sum(gpu_s) AS g, sum(mib_s) AS m, sum(sm_s) AS sm,
               sum(sm_known_s) AS k, max(peak_mib) AS p
        FROM usage {hint} WHERE {hour} >= :a AND {hour} < :b GROUP BY session
        UNION ALL
        SELECT session, held_s * w, gpu_s * w, mib_s * w, sm_s * w, sm_known_s * w, peak_mib
        FROM (SELECT *, {_OVERLAP} AS w FROM usage WHERE hour IN (:e1, :e2))
    ),
    ses AS (
        SELECT session, {_clean("sum(h)")} AS h, {_clean("sum(g)")} AS g,
               {_clean("sum(m)")} AS m, {_clean("sum(sm)")} AS sm, {_clean("sum(k)")} AS k,
               max(p) AS p
        FROM per GROUP BY session
    )"""  # noqa: S608


def _clean(expr: str) -> str:
    """A session's sum as a number >= 0 (a damaged row, negative, infinite or text, can
    spoil its own session's number in the range, never the answer)."""
    return f"iif(typeof({expr}) IN ('integer', 'real') AND {expr} BETWEEN 0 AND 1e300, {expr}, 0)"


_SUMS = """
    sum(ses.h), sum(ses.g), sum(ses.m), sum(ses.sm), sum(ses.k), max(ses.p), count(*),
    min(s.first_seen), max(s.last_seen)
"""


def sql(by: By, *, wide: bool) -> str:
    """The grouped query (``EXPLAIN QUERY PLAN`` in the tests and the bench)."""
    return (
        f"WITH {_per_session(wide)} SELECT {_KEY[by]}, max(s.gpu), max(s.pid), max(s.started),"  # noqa: S608
        f" max(s.name), max(s.user), max(s.container), max(s.gpu_name), max(s.gpu_index),"
        f" {_SUMS} FROM ses JOIN sessions AS s ON s.id = ses.session"
        f" GROUP BY {_KEY[by]} ORDER BY 11 DESC, 10 DESC, 1 LIMIT :limit"
    )


def _total(wide: bool) -> str:
    return (
        f"WITH {_per_session(wide)} SELECT {_SUMS}"  # noqa: S608
        " FROM ses JOIN sessions AS s ON s.id = ses.session"
    )


def params(start: float, stop: float, limit: int = 1000) -> dict[str, float | int]:
    """The query's parameters for [start, stop): ``a``/``b`` bound the whole hours inside,
    ``e1``/``e2`` are the partial hours at its ends (-1: none)."""
    first = math.floor(start / HOUR) * HOUR
    a = math.ceil(start / HOUR) * HOUR
    b = math.floor(stop / HOUR) * HOUR
    if a > b:  # start and stop inside one hour
        a = b = first
        e1, e2 = first, -1
    else:
        e1 = first if first < start else -1
        e2 = b if b < stop else -1
    return {"start": start, "stop": stop, "a": a, "b": b, "e1": e1, "e2": e2, "limit": limit}


def query(path: Path, *, start: float, stop: float, by: By, limit: int = 1000) -> UsageResult:
    """Usage over [start, stop) grouped ``by``, most GPU-hours first, at most ``limit``
    groups (``truncated`` says when more were left out) and the total of all."""
    if by not in _KEY:
        raise ValueError(f"by: unknown {by!r}")
    if not (math.isfinite(start) and math.isfinite(stop)) or stop <= start:
        raise ValueError("from must be before to")
    limit = max(1, min(int(limit), MAX_LIMIT))
    empty = UsageResult(start, stop, by, [], False, None)
    if not path.exists():
        return empty
    values = params(start, stop, limit + 1)
    conn = store.connect(path, readonly=True)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_schema WHERE name = 'usage'").fetchone():
            return empty  # a store of the first layout, or just created
        low, high = conn.execute("SELECT min(hour), max(hour) FROM usage").fetchone()
        if low is None:
            return empty
        span = max(HOUR, high - low + HOUR)
        wide = (float(values["b"]) - float(values["a"])) / span >= INDEX_SHARE
        found = conn.execute(sql(by, wide=wide), values).fetchall()
        truncated = len(found) > limit
        # Every session is in exactly one group: the total is the groups' sum, read again
        # only when some groups were left out.
        total_row = conn.execute(_total(wide), values).fetchone() if truncated else None
    except sqlite3.DatabaseError as exc:
        raise store.StoreUnusable(str(exc)) from exc
    finally:
        conn.close()
    rows = [_group(by, r) for r in found[:limit]]
    total = None
    if total_row is not None and total_row[6]:
        total = _numbers("", "All", total_row)
    elif rows:
        total = _sum(rows)
    return UsageResult(start, stop, by, rows, truncated, total)


def _sum(rows: list[UsageGroup]) -> UsageGroup:
    held_h = sum(r.held_hours for r in rows)
    mem_h = sum(r.mean_memory_mib * r.held_hours for r in rows if r.mean_memory_mib is not None)
    return UsageGroup(
        key="",
        label="All",
        gpu_hours=sum(r.gpu_hours for r in rows),
        gib_hours=sum(r.gib_hours for r in rows),
        held_hours=held_h,
        sessions=sum(r.sessions for r in rows),
        peak_memory_mib=max(r.peak_memory_mib for r in rows),
        mean_memory_mib=mem_h / held_h if held_h > 0 else None,
        mean_sm=_mean_sm(rows),
        first_seen=min(r.first_seen for r in rows),
        last_seen=max(r.last_seen for r in rows),
    )


def _mean_sm(rows: list[UsageGroup]) -> float | None:
    known = [(r.mean_sm, r.sm_known_hours) for r in rows if r.mean_sm is not None]
    hours = sum(h for _, h in known)
    return sum(m * h for m, h in known) / hours if hours > 0 else None


def _num(value: object) -> float:
    """A stored number as a float ≥ 0 (a damaged value, text or infinite, counts 0)."""
    if isinstance(value, int | float) and math.isfinite(value) and value > 0:
        return float(value)
    return 0.0


def _numbers(key: str, label: str, sums: tuple[object, ...], **who: object) -> UsageGroup:
    held, gpu, mib, sm, sm_known, peak, count, first, last = sums
    held_s, mib_s, sm_known_s = _num(held), _num(mib), _num(sm_known)
    return UsageGroup(
        key=key,
        label=label,
        gpu_hours=_num(gpu) / 3600,
        gib_hours=mib_s / 1024 / 3600,
        held_hours=held_s / 3600,
        sessions=int(_num(count)),
        peak_memory_mib=int(_num(peak)),
        mean_memory_mib=mib_s / held_s if held_s > 0 else None,
        mean_sm=min(100.0, _num(sm) / sm_known_s) if sm_known_s > 0 else None,
        first_seen=_num(first),
        last_seen=_num(last),
        sm_known_hours=sm_known_s / 3600,
        **who,  # type: ignore[arg-type]
    )


def _group(by: By, r: tuple[object, ...]) -> UsageGroup:
    key, gpu, pid, started, name, user, container, gpu_name, gpu_index = r[:9]
    sums = r[9:]
    text = "" if key is None else str(key)
    if by == "user":
        return _numbers(text, text or "unknown", sums)
    if by == "process":
        return _numbers(text, text or "unknown", sums)
    if by == "container":
        return _numbers(text, text or "no container", sums)
    if by == "gpu":
        label = f"{gpu_name or 'GPU'} #{gpu_index}" if gpu_index is not None else text
        return _numbers(text, label, sums)
    label = f"{name or 'unknown'} (pid {pid})"
    return _numbers(
        f"{gpu}/{pid}/{started}", label, sums, gpu=gpu, pid=pid, process=name, user=user,
        container=container, start_time=started,
    )  # fmt: skip
