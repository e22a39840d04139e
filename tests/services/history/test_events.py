"""Events in the history file: written (an episode's start then end is one row), the
previous run's open findings ended at start, and read back a page at a time (overlap,
filters, cursor, damaged rows) on real SQLite files."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gpulens.services.findings.model import Event
from gpulens.services.history import events, store
from gpulens.services.history.query import QueryError

T = 1_800_000_000.0


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def event(event_id: str, start: float, end: float | None = None, **fields: Any) -> Event:
    base: dict[str, Any] = {
        "id": event_id,
        "kind": "idleHolding",
        "severity": "warning",
        "start": at(start),
        "end": None if end is None else at(end),
        "gpu": "GPU-a",
        "gpu_index": 0,
        "pid": 4242,
        "process": "python",
        "user": "alice",
        "summary": "python (alice) holds 40.0 GiB with 0 % SM for 10 min",
        "action": "Ask alice whether the job is still needed.",
        "value": 40.0,
    }
    base.update(fields)
    return Event(**base)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "history.db"
    store.open_store(path).close()
    return path


def write(path: Path, *evs: Event) -> None:
    conn = store.open_store(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        events.write(conn, evs)
        conn.execute("COMMIT")
    finally:
        conn.close()


def rows(path: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT id, kind, severity, start, stop, gpu FROM events ORDER BY start, id"
        ).fetchall()
    finally:
        conn.close()


def ask(path: Path, start: float = T - 86_400, stop: float = T + 86_400, **kw: Any) -> Any:
    return events.query(path, start=start, stop=stop, **kw)


# --- writing ----------------------------------------------------------------------------


def test_an_event_reads_back_as_it_was_written(db: Path) -> None:
    change = event("c1", T, T, kind="gpuAdded", severity="info", pid=None, user=None)
    finding = event("f1", T + 10, container="0123456789ab")
    write(db, change, finding)
    found, cursor, total = ask(db)
    assert found == [finding, change]  # newest first
    assert cursor is None and total == 2
    assert rows(db) == [
        ("c1", "gpuAdded", "info", T, T, "GPU-a"),
        ("f1", "idleHolding", "warning", T + 10, None, "GPU-a"),
    ]


def test_an_episodes_start_then_end_is_one_row(db: Path) -> None:
    start = event("ep", T)
    end = event("ep", T, T + 600, severity="critical")
    write(db, start)
    assert rows(db) == [("ep", "idleHolding", "warning", T, None, "GPU-a")]
    write(db, end)
    assert rows(db) == [("ep", "idleHolding", "critical", T, T + 600, "GPU-a")]
    assert ask(db)[0] == [end]


def test_a_late_copy_of_a_start_never_reopens_an_ended_episode(db: Path) -> None:
    write(db, event("ep", T), event("ep", T, T + 60))
    write(db, event("ep", T))
    assert rows(db)[0][4] == T + 60
    assert ask(db)[0][0].end == at(T + 60)


def test_findings_left_open_are_ended_at_the_last_moment_the_store_knows(db: Path) -> None:
    conn = store.open_store(db)
    store.add_series(conn, "GPU-a", "H200", 0, T)
    store.touch_series(conn, [(1, "H200", 0, T + 300)])  # the last sample of the dead run
    store.add_series(conn, "host", None, None, T + 100)
    ended = event("done", T, T + 50)
    held = event("held", T + 20)
    late = event("late", T + 400)  # began after the last sample (a clock quirk): ends at once
    conn.execute("BEGIN IMMEDIATE")
    events.write(conn, [ended, held, late])
    conn.execute("COMMIT")
    assert events.last_known(conn) == T + 300
    conn.execute("BEGIN IMMEDIATE")
    assert events.close_dangling(conn, events.last_known(conn)) == 2
    conn.execute("COMMIT")
    conn.close()
    got = {e.id: e for e in ask(db)[0]}
    assert got["done"] == ended  # untouched
    assert got["held"] == held.model_copy(update={"end": at(T + 300)})  # summary unchanged
    assert got["late"].end == at(T + 400)
    assert [r[4] for r in rows(db)] == [T + 50, T + 300, T + 400]


def test_closing_with_nothing_known_ends_findings_at_their_start(db: Path) -> None:
    write(db, event("held", T))
    conn = store.open_store(db)
    assert events.last_known(conn) is None
    assert events.close_dangling(conn, None) == 1
    conn.close()
    assert ask(db)[0][0].end == at(T)


# --- reading ----------------------------------------------------------------------------


def test_events_overlapping_the_range_are_found(db: Path) -> None:
    write(
        db,
        event("before", T - 100, T - 50),  # ended before the range
        event("across", T - 100, T + 10),  # began before, ended inside
        event("open", T - 100),  # began before, still holds
        event("inside", T + 10, T + 20),
        event("at-stop", T + 100, T + 110),  # begins at the range's end: not in [T, T+100)
        event("at-start", T - 10, T),  # ends at the range's start: touches it
    )
    found, _, total = ask(db, start=T, stop=T + 100)
    assert [e.id for e in found] == ["inside", "at-start", "open", "across"]
    assert total == 4


def test_filters_by_kind_severity_and_gpu(db: Path) -> None:
    write(
        db,
        event("a", T, kind="hot", severity="warning", gpu="GPU-a"),
        event("b", T + 1, kind="xid", severity="critical", gpu="GPU-b"),
        event("c", T + 2, kind="hot", severity="critical", gpu="GPU-b"),
        event("d", T + 3, kind="provider", severity="info", gpu=None),
    )

    def ids(**kw: Any) -> list[str]:
        return [e.id for e in ask(db, **kw)[0]]

    assert ids(kinds=["hot"]) == ["c", "a"]
    assert ids(severities=["critical", "info"]) == ["d", "c", "b"]
    assert ids(gpu=["GPU-b"]) == ["c", "b"]
    assert ids(kinds=["hot"], severities=["critical"], gpu=["GPU-b"]) == ["c"]
    assert ask(db, kinds=["gpuLost"]) == ([], None, 0)


def test_ten_thousand_events_page_through_with_the_cursor(db: Path) -> None:
    """Many sharing a start (the cursor breaks ties by id): every page bounded, none lost
    or repeated, the total right on every page."""
    many = [event(f"e{i:05d}", T + i // 7, T + i // 7 + 1) for i in range(10_000)]
    outside = [event("x", T - 10_000, T - 9_000)]
    write(db, *many, *outside)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        found, cursor, total = ask(db, start=T, stop=T + 10_000, limit=500, cursor=cursor)
        pages += 1
        assert len(found) <= 500 and total == 10_000
        seen.extend(e.id for e in found)
        if cursor is None:
            break
    assert pages == 20
    assert len(seen) == len(set(seen)) == 10_000
    expected = sorted(many, key=lambda e: (e.start, e.id), reverse=True)
    assert seen == [e.id for e in expected]


def test_the_default_page_is_200(db: Path) -> None:
    write(db, *(event(f"e{i}", T + i) for i in range(250)))
    found, cursor, total = ask(db)
    assert len(found) == 200 and cursor is not None and total == 250
    rest, cursor, _ = ask(db, cursor=cursor)
    assert len(rest) == 50 and cursor is None


@pytest.mark.parametrize(
    ("kw", "name"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"cursor": "not a cursor!"}, "cursor"),
        ({"cursor": "WzEsMl0"}, "cursor"),  # [1,2]: an id that is no string
        ({"cursor": "WyJhIiwiYiJd"}, "cursor"),  # ["a","b"]
        ({"cursor": ""}, "cursor"),
    ],
)
def test_a_bad_limit_or_cursor_names_itself(db: Path, kw: dict[str, Any], name: str) -> None:
    with pytest.raises(QueryError, match=f"^{name}:"):
        ask(db, **kw)


def test_a_damaged_row_is_skipped_and_logged_once(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(db, event("good", T), event("bad-json", T + 1), event("bad-kind", T + 2))
    conn = sqlite3.connect(db)
    conn.execute("UPDATE events SET body = '{\"id\": \"bad-json\", tru' WHERE id = 'bad-json'")
    body = event("bad-kind", T + 2).model_dump_json(by_alias=True).replace("idleHolding", "nope")
    conn.execute("UPDATE events SET body = ? WHERE id = 'bad-kind'", (body,))
    conn.commit()
    conn.close()
    with caplog.at_level(logging.WARNING, logger="gpulens.history"):
        for _ in range(3):
            found, _, _ = ask(db)
            assert [e.id for e in found] == ["good"]
    damaged = [r for r in caplog.records if "damaged event" in r.getMessage()]
    assert len(damaged) == 2  # once each, not once per query


def test_no_file_or_a_layout_1_file_answers_empty(tmp_path: Path) -> None:
    assert ask(tmp_path / "none.db") == ([], None, 0)
    old = tmp_path / "v1.db"
    conn = sqlite3.connect(old)
    conn.execute("CREATE TABLE series (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    assert ask(old) == ([], None, 0)


def test_a_file_that_is_no_database_is_unusable(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(store.StoreUnusable):
        ask(path)
