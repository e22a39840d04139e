"""history/usage.py: sessions and hours written by adding (a restart adds, never
overwrites), the grouped query with partial hours pro-rated, expiry, damaged rows."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from gpulens.services.accounting import HOUR, UsageDelta
from gpulens.services.history import store, usage

H = 1_800_000_000  # a multiple of 3600


def delta(**changes: object) -> UsageDelta:
    base = UsageDelta(
        gpu="GPU-a", gpu_index=0, gpu_name="NVIDIA H200", pid=100, started=H - 100.0,
        name="python3", user="ana", container=None, hour=H, first_seen=H - 50.0,
        last_seen=H + 1800.0, held_s=1800.0, gpu_s=900.0, mib_s=1800.0 * 2048,
        sm_s=1800.0 * 50, sm_known_s=1800.0, peak_mib=4096,
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[tuple[Path, sqlite3.Connection]]:
    path = tmp_path / "history.db"
    conn = store.open_store(path)
    yield path, conn
    conn.close()


def write(conn: sqlite3.Connection, *deltas: UsageDelta) -> None:
    conn.execute("BEGIN IMMEDIATE")
    usage.write(conn, deltas)
    conn.execute("COMMIT")


def rows(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT s.pid, u.hour, u.held_s, u.gpu_s, u.mib_s, u.sm_s, u.sm_known_s, u.peak_mib"
        " FROM usage u JOIN sessions s ON s.id = u.session ORDER BY s.pid, u.hour"
    ).fetchall()


def test_write_adds_to_the_hour_and_widens_the_session(
    db: tuple[Path, sqlite3.Connection],
) -> None:
    _, conn = db
    write(conn, delta(user=None, container="abc123"))
    # The service restarted in the same hour: the rest of the hour is added, not replaced.
    write(conn, delta(held_s=600.0, gpu_s=60.0, mib_s=600.0 * 8192, sm_s=0.0, sm_known_s=0.0,
                      peak_mib=8192, first_seen=H + 2000.0, last_seen=H + 2600.0,
                      container=None))  # fmt: skip
    assert rows(conn) == [(100, H, 2400.0, 960.0, 1800.0 * 2048 + 600.0 * 8192, 90000.0,
                           1800.0, 8192)]  # fmt: skip
    session = conn.execute(
        "SELECT name, user, container, first_seen, last_seen, peak_mib FROM sessions"
    ).fetchall()
    # user: the latest known (the second delta had it); container kept from the first.
    assert session == [("python3", "ana", "abc123", H - 50.0, H + 2600.0, 8192)]


def test_write_is_not_committed_by_itself(db: tuple[Path, sqlite3.Connection]) -> None:
    path, conn = db
    conn.execute("BEGIN IMMEDIATE")
    usage.write(conn, [delta()])
    assert usage.query(path, start=H, stop=H + HOUR, by="user").rows == []
    conn.execute("ROLLBACK")
    assert rows(conn) == []


def test_two_hours_of_one_session_in_one_write(db: tuple[Path, sqlite3.Connection]) -> None:
    _, conn = db
    write(conn, delta(), delta(hour=H + HOUR, held_s=100.0, peak_mib=1, last_seen=H + 3700.0))
    assert [r[1] for r in rows(conn)] == [H, H + HOUR]
    assert conn.execute("SELECT count(*), max(last_seen) FROM sessions").fetchone() == (
        1, H + 3700.0
    )  # fmt: skip


def seeded(conn: sqlite3.Connection) -> None:
    write(
        conn,
        delta(),  # ana, python3, GPU-a: 0.25 GPU-h in hour H
        delta(
            hour=H + HOUR,
            held_s=3600.0,
            gpu_s=3600.0,
            mib_s=3600.0 * 1024,
            sm_s=0.0,
            sm_known_s=0.0,
        ),
        delta(
            pid=200,
            user="bo",
            name="train",
            container="c0ffee",
            gpu="GPU-b",
            gpu_index=1,
            held_s=3600.0,
            gpu_s=1800.0,
            mib_s=3600.0 * 10240,
            sm_s=0.0,
            sm_known_s=0.0,
            peak_mib=10240,
        ),
        delta(
            pid=300,
            user=None,
            name=None,
            gpu="GPU-b",
            gpu_index=1,
            held_s=3600.0,
            gpu_s=0.0,
            mib_s=3600.0 * 512,
            sm_s=0.0,
            sm_known_s=0.0,
            peak_mib=512,
        ),
    )


def test_query_groups_by_each_key(db: tuple[Path, sqlite3.Connection]) -> None:
    path, conn = db
    seeded(conn)
    q = usage.query
    by_user = q(path, start=H, stop=H + 2 * HOUR, by="user")
    assert [(r.key, r.label) for r in by_user.rows] == [("ana", "ana"), ("bo", "bo"),
                                                         ("", "unknown")]  # fmt: skip
    ana = by_user.rows[0]
    assert ana.gpu_hours == pytest.approx(1.25)
    assert ana.held_hours == pytest.approx(1.5)
    assert ana.gib_hours == pytest.approx((1800 * 2048 + 3600 * 1024) / 1024 / 3600)
    assert ana.mean_memory_mib == pytest.approx((1800 * 2048 + 3600 * 1024) / 5400)
    assert ana.mean_sm == pytest.approx(50.0)  # over the time it was known only
    assert (ana.sessions, ana.peak_memory_mib) == (1, 4096)
    assert (ana.first_seen, ana.last_seen) == (H - 50.0, H + 1800.0)
    assert by_user.rows[1].mean_sm is None
    assert by_user.total is not None
    assert by_user.total.gpu_hours == pytest.approx(1.75)
    assert by_user.total.sessions == 3
    assert not by_user.truncated
    assert [r.label for r in q(path, start=H, stop=H + 2 * HOUR, by="process").rows] == [
        "python3",
        "train",
        "unknown",
    ]
    assert [r.label for r in q(path, start=H, stop=H + 2 * HOUR, by="container").rows] == [
        "no container",
        "c0ffee",
    ]
    gpus = q(path, start=H, stop=H + 2 * HOUR, by="gpu").rows
    assert [(r.key, r.label, r.sessions) for r in gpus] == [
        ("GPU-a", "NVIDIA H200 #0", 1),
        ("GPU-b", "NVIDIA H200 #1", 2),
    ]
    sessions = q(path, start=H, stop=H + 2 * HOUR, by="session").rows
    assert [(r.pid, r.user, r.process, r.gpu, r.start_time) for r in sessions] == [
        (100, "ana", "python3", "GPU-a", H - 100.0),
        (200, "bo", "train", "GPU-b", H - 100.0),
        (300, None, None, "GPU-b", H - 100.0),
    ]
    assert sessions[0].key == f"GPU-a/100/{H - 100.0}"


def test_partial_hours_are_pro_rated(db: tuple[Path, sqlite3.Connection]) -> None:
    path, conn = db
    seeded(conn)
    # 30 min of hour H and 15 min of hour H+1: half of the first, a quarter of the second.
    r = usage.query(path, start=H + 1800, stop=H + HOUR + 900, by="user")
    ana = next(g for g in r.rows if g.key == "ana")
    assert ana.gpu_hours == pytest.approx(0.25 / 2 + 1.0 / 4)
    assert ana.held_hours == pytest.approx(0.5 / 2 + 1.0 / 4)
    only_second = usage.query(path, start=H + HOUR, stop=H + 2 * HOUR, by="user")
    assert [g.key for g in only_second.rows] == ["ana"]


def test_empty_range_and_no_store(db: tuple[Path, sqlite3.Connection], tmp_path: Path) -> None:
    path, conn = db
    seeded(conn)
    none = usage.query(path, start=H + 10 * HOUR, stop=H + 11 * HOUR, by="user")
    assert (none.rows, none.total, none.truncated) == ([], None, False)
    missing = usage.query(tmp_path / "nope.db", start=H, stop=H + HOUR, by="gpu")
    assert (missing.rows, missing.total) == ([], None)
    with pytest.raises(ValueError, match="before"):
        usage.query(path, start=H, stop=H, by="user")
    with pytest.raises(ValueError, match="by"):
        usage.query(path, start=H, stop=H + 1, by="team")  # type: ignore[arg-type]


def test_limit_truncates_the_least_used(db: tuple[Path, sqlite3.Connection]) -> None:
    path, conn = db
    seeded(conn)
    r = usage.query(path, start=H, stop=H + 2 * HOUR, by="session", limit=2)
    assert [g.pid for g in r.rows] == [100, 200]
    assert r.truncated
    assert r.total is not None
    assert r.total.sessions == 3


def test_damaged_rows_spoil_only_their_session_and_never_fail(
    db: tuple[Path, sqlite3.Connection],
) -> None:
    path, conn = db
    seeded(conn)
    conn.execute("UPDATE usage SET mib_s = 'lots' WHERE hour = ?", (H + HOUR,))
    conn.execute("UPDATE usage SET held_s = 9e999, gpu_s = -5 WHERE session = 2")  # +inf
    conn.execute("INSERT INTO usage VALUES (999, ?, 1, 1, 1, 1, 1, 1)", (H,))  # no session
    for by in usage.BY:
        r = usage.query(path, start=H, stop=H + 2 * HOUR, by=by)
        assert r.total is not None
        assert r.total.sessions == 3
    r = usage.query(path, start=H, stop=H + 2 * HOUR, by="user")
    ana = next(g for g in r.rows if g.key == "ana")
    assert ana.gpu_hours == pytest.approx(1.25)  # untouched
    assert ana.gib_hours == pytest.approx(1800 * 2048 / 1024 / 3600)  # the text counts 0
    bo = next(g for g in r.rows if g.key == "bo")
    assert (bo.held_hours, bo.gpu_hours, bo.mean_memory_mib) == (0, 0, None)


@pytest.mark.parametrize(
    ("start", "stop"),
    [(H, H + 2 * HOUR), (H + 60, H + HOUR - 60), (H + 1800, H + HOUR + 900), (H - 7200, H + 7200)],
)
def test_the_sum_over_a_range_is_its_overlap(
    db: tuple[Path, sqlite3.Connection], start: float, stop: float
) -> None:
    path, conn = db
    seeded(conn)
    r = usage.query(path, start=start, stop=stop, by="user")
    ana = next(g for g in r.rows if g.key == "ana")

    def overlap(hour: int) -> float:
        return max(0.0, min(hour + HOUR, stop) - max(hour, start)) / HOUR

    assert ana.gpu_hours == pytest.approx(0.25 * overlap(H) + 1.0 * overlap(H + HOUR))


def test_expire_in_batches(db: tuple[Path, sqlite3.Connection]) -> None:
    path, conn = db
    seeded(conn)
    assert usage.expire(conn, H + HOUR, batch=2) == 2  # the hour H rows that ended by then
    assert usage.expire(conn, H + HOUR, batch=2) == 2  # the last one, a finished session
    assert usage.expire(conn, H + HOUR, batch=2) == 1  # the other finished session
    assert usage.expire(conn, H + HOUR, batch=2) == 0
    assert conn.execute("SELECT count(*) FROM usage").fetchone() == (1,)
    assert conn.execute("SELECT count(*) FROM sessions").fetchone() == (1,)  # ana still has H+1
    r = usage.query(path, start=H, stop=H + 2 * HOUR, by="user")
    assert [g.key for g in r.rows] == ["ana"]


@pytest.mark.parametrize("by", usage.BY)
def test_the_total_is_the_same_read_again_or_summed(
    db: tuple[Path, sqlite3.Connection], by: usage.By
) -> None:
    path, conn = db
    seeded(conn)
    whole = usage.query(path, start=H + 900, stop=H + 2 * HOUR, by=by)
    cut = usage.query(path, start=H + 900, stop=H + 2 * HOUR, by=by, limit=1)
    assert cut.truncated
    assert not whole.truncated
    assert whole.total is not None
    assert cut.total is not None
    for f in ("gpu_hours", "gib_hours", "held_hours", "mean_memory_mib", "mean_sm"):
        assert getattr(whole.total, f) == pytest.approx(getattr(cut.total, f)), f
    for f in ("sessions", "peak_memory_mib", "first_seen", "last_seen"):
        assert getattr(whole.total, f) == getattr(cut.total, f), f
