"""Events in the history file: one row per finding episode or instant change.

A finding's start is inserted with ``stop`` NULL; its end (the same ``id``) sets
``stop`` and replaces the stored record, so an episode is one row whatever
happened in between. ``body`` is the ``Event`` as JSON (by alias), the columns
beside it are what queries filter and page on.

``query`` reads through a read-only connection of its own (like ``query.py``):
the events overlapping a range, newest first, a page at a time with a keyset
cursor (the last row's ``(start, id)``, opaque to clients), so 10 000 events in a
range are as cheap to page through as ten.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from gpulens.core.metrics.text import OnceLog
from gpulens.services.findings.model import Event
from gpulens.services.history import store
from gpulens.services.history.query import QueryError

log = logging.getLogger("gpulens.history")
_bad_rows = OnceLog(log)

MAX_LIMIT = 500
DEFAULT_LIMIT = 200


# --- writing ---------------------------------------------------------------------------


def _row(event: Event) -> tuple[str, str, str, float, float | None, str | None, str]:
    return (
        event.id,
        event.kind,
        event.severity,
        event.start.timestamp(),
        None if event.end is None else event.end.timestamp(),
        event.gpu,
        event.model_dump_json(by_alias=True),
    )


def write(conn: sqlite3.Connection, events: Iterable[Event]) -> None:
    """Store each event (in the caller's transaction): a start inserts its row, the end
    of the same id sets ``stop`` and the record. A late copy of a start never reopens an
    episode that has ended."""
    conn.executemany(
        "INSERT INTO events (id, kind, severity, start, stop, gpu, body)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET kind = excluded.kind,"
        " severity = excluded.severity, stop = excluded.stop, gpu = excluded.gpu,"
        " body = excluded.body WHERE excluded.stop IS NOT NULL OR events.stop IS NULL",
        [_row(e) for e in events],
    )


def last_known(conn: sqlite3.Connection) -> float | None:
    """The last moment the store knows: the latest sample of any series."""
    row = conn.execute("SELECT max(last_seen) FROM series").fetchone()
    return None if row is None or row[0] is None else float(row[0])


def close_dangling(conn: sqlite3.Connection, at: float | None) -> int:
    """End the findings a previous run left open (it stopped, or was killed, while they
    held) at ``at`` (``last_known``; never before a finding's own start), their summary
    unchanged. Returns how many. In the caller's transaction."""
    rows = conn.execute("SELECT id, start, body FROM events WHERE stop IS NULL").fetchall()
    updates: list[tuple[float, str, str]] = []
    for event_id, start, body in rows:
        stop = max(float(start), at if at is not None else float(start))
        try:
            event = Event.model_validate_json(body)
        except ValidationError:  # the query skips it; its columns still say it ended
            updates.append((stop, body, event_id))
            continue
        ended = event.model_copy(update={"end": datetime.fromtimestamp(stop, UTC)})
        updates.append((stop, ended.model_dump_json(by_alias=True), event_id))
    conn.executemany("UPDATE events SET stop = ?, body = ? WHERE id = ?", updates)
    if updates:
        log.info("history: %d finding(s) left open by the last run ended at %s", len(updates), at)
    return len(updates)


# --- reading ---------------------------------------------------------------------------


def encode_cursor(start: float, event_id: str) -> str:
    raw = json.dumps([start, event_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """The ``(start, id)`` a cursor stands for; ``QueryError`` naming it if it is not
    one this server gave."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        start, event_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise QueryError("cursor: not a cursor this server gave (pass next as it is)") from None
    if (
        not isinstance(start, int | float)
        or isinstance(start, bool)
        or not math.isfinite(start)
        or not isinstance(event_id, str)
    ):
        raise QueryError("cursor: not a cursor this server gave (pass next as it is)")
    return float(start), event_id


def _in(column: str, values: Sequence[str] | None, where: list[str], args: list[object]) -> None:
    if values is None:
        return
    where.append(f"{column} IN ({', '.join('?' * len(values))})")
    args.extend(values)


def query(
    path: Path,
    *,
    start: float,
    stop: float,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    kinds: Sequence[str] | None = None,
    severities: Sequence[str] | None = None,
    gpu: Sequence[str] | None = None,
) -> tuple[list[Event], str | None, int]:
    """The events overlapping [start, stop) that match the filters, newest first (by
    start, then id): one page of at most ``limit``, the cursor of the next (older) page
    or None, and how many match in all. A damaged row is skipped (and logged once).

    Raises ``QueryError`` (naming the parameter) and ``store.StoreUnusable``."""
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"limit: must be 1 to {MAX_LIMIT}")
    if not (math.isfinite(start) and math.isfinite(stop)) or stop <= start:
        raise QueryError("from: must be before to")
    after = decode_cursor(cursor) if cursor is not None else None
    where = ["start < ?", "(stop IS NULL OR stop >= ?)"]
    args: list[object] = [stop, start]
    _in("kind", kinds, where, args)
    _in("severity", severities, where, args)
    _in("gpu", gpu, where, args)
    if not path.exists():
        return [], None, 0
    conn = store.connect(path, readonly=True)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_schema WHERE name = 'events'").fetchone():
            return [], None, 0  # a new file, or one of layout 1 the writer has not upgraded
        # The conditions are this module's own text; every value is a parameter.
        matching = " AND ".join(where)
        counted = f"SELECT count(*) FROM events WHERE {matching}"  # noqa: S608
        total: int = conn.execute(counted, args).fetchone()[0]
        page_where, page_args = matching, list(args)
        if after is not None:
            page_where += " AND (start < ? OR (start = ? AND id < ?))"
            page_args += [after[0], after[0], after[1]]
        page = (
            f"SELECT id, start, body FROM events WHERE {page_where}"  # noqa: S608
            " ORDER BY start DESC, id DESC LIMIT ?"
        )
        rows = conn.execute(page, [*page_args, limit + 1]).fetchall()
    except sqlite3.DatabaseError as exc:
        raise store.StoreUnusable(str(exc)) from exc
    finally:
        conn.close()
    more = len(rows) > limit
    rows = rows[:limit]
    found: list[Event] = []
    for event_id, _, body in rows:
        try:
            found.append(Event.model_validate_json(body))
        except ValidationError as exc:
            _bad_rows.warning(
                f"event/{event_id}",
                "history: skipped a damaged event (%s): %s",
                str(event_id)[:80], str(exc).splitlines()[0],
            )  # fmt: skip
    next_cursor = encode_cursor(float(rows[-1][1]), str(rows[-1][0])) if more else None
    return found, next_cursor, total
