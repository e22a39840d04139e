"""Process names and owners: sanitised, resolved through psutil, cached per (pid, start time)."""

from __future__ import annotations

import psutil
import pytest

from gpulens.core.metrics.processes import (
    MAX_NAME_LENGTH,
    ProcessIdentity,
    PsutilResolver,
    sanitize_name,
)

BIDI_CONTROLS = [
    "\u061c", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
    "\u2066", "\u2067", "\u2068", "\u2069",
]  # fmt: skip


R = "\ufffd"  # what a run of control characters or a terminal escape becomes


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("python3", "python3"),
        ("py\x00th\x1bon\x7f3\n", f"py{R}th{R}on{R}3"),
        ("\x1b[31mred\x1b[0m tape", f"red{R} tape"),  # a whole escape sequence is one mark
        ("job\x1b]0;title\x07name", f"job{R}name"),
        ("\x85evil\x9b", "evil"),  # at the ends: dropped
        ("train\r\n\x07\x08ing", f"train{R}ing"),
        ("/usr/bin/python3", "/usr/bin/python3"),
        ("/opt/conda/envs/train/bin/python3.11", "/opt/conda/envs/train/bin/python3.11"),
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
        ('my job, "v2"', 'my job, "v2"'),
        ("  spaced  ", "spaced"),
        ("", None),
        ("\x00\x01\u202e", None),
        (None, None),
    ],
)
def test_sanitize_name(raw: str | None, clean: str | None) -> None:
    assert sanitize_name(raw) == clean


@pytest.mark.parametrize("char", BIDI_CONTROLS)
def test_sanitize_name_replaces_every_bidi_control(char: str) -> None:
    # "Trojan Source": an RLO/isolate/mark would reorder what the dashboard shows.
    assert sanitize_name(f"train{char}3pm.py") == f"train{R}3pm.py"


def test_sanitize_name_caps_a_10_kb_name() -> None:
    name = sanitize_name("A" * 10_240)
    assert name is not None
    assert len(name) == MAX_NAME_LENGTH
    assert name == "A" * (MAX_NAME_LENGTH - 1) + "…"
    assert sanitize_name("B" * 10_240, limit=10) == "B" * 9 + "…"


def test_sanitize_name_keeps_the_end_of_a_very_long_path() -> None:
    # Linux paths may be up to 4096 bytes: what matters is the executable at the end.
    path = "/" + "/".join(["d" * 200] * 15) + "/python3"
    name = sanitize_name(path)
    assert name is not None
    assert len(name) == MAX_NAME_LENGTH
    assert name.startswith("/…")  # still a path, so the page shows "python3"
    assert name.endswith("/python3")


class FakeProcess:
    def __init__(
        self,
        pid: int,
        name: str = "python3",
        user: str = "alice",
        created: float = 100.0,
        user_error: Exception | None = None,
        name_error: Exception | None = None,
    ) -> None:
        self.pid = pid
        self._name = name
        self._user = user
        self._created = created
        self._user_error = user_error
        self._name_error = name_error

    def create_time(self) -> float:
        return self._created

    def name(self) -> str:
        if self._name_error is not None:
            raise self._name_error
        return self._name

    def username(self) -> str:
        if self._user_error is not None:
            raise self._user_error
        return self._user


class Table:
    """A process table the test edits; counts lookups per pid."""

    def __init__(self) -> None:
        self.procs: dict[int, FakeProcess] = {}
        self.lookups = 0

    def __call__(self, pid: int) -> FakeProcess:
        self.lookups += 1
        if pid not in self.procs:
            raise psutil.NoSuchProcess(pid)
        return self.procs[pid]


def test_resolver_returns_name_and_user() -> None:
    table = Table()
    table.procs[483] = FakeProcess(483, "/usr/bin/python3", "alice")
    resolve = PsutilResolver(table)
    assert resolve(483) == ProcessIdentity("/usr/bin/python3", "alice")


def test_resolver_process_gone_between_listing_and_lookup() -> None:
    resolve = PsutilResolver(Table())
    assert resolve(4242) == ProcessIdentity(None, None)


def test_resolver_process_exits_during_lookup() -> None:
    table = Table()
    table.procs[9] = FakeProcess(9, name_error=psutil.NoSuchProcess(9))
    assert PsutilResolver(table)(9) == ProcessIdentity(None, "alice")


@pytest.mark.parametrize(
    "error", [psutil.AccessDenied(7), KeyError("uid 1234 not in passwd"), psutil.ZombieProcess(7)]
)
def test_resolver_access_denied_on_username_keeps_the_name(error: Exception) -> None:
    table = Table()
    table.procs[7] = FakeProcess(7, "worker", user_error=error)
    assert PsutilResolver(table)(7) == ProcessIdentity("worker", None)


def test_resolver_cache_is_keyed_by_pid_and_create_time() -> None:
    table = Table()
    table.procs[100] = FakeProcess(100, "first", "alice", created=1.0)
    resolve = PsutilResolver(table)
    assert resolve(100).name == "first"
    # Same process: served from the cache (its name is not read again).
    table.procs[100]._name = "renamed"
    assert resolve(100).name == "first"
    # The pid is reused by a new process (another start time): resolved afresh.
    table.procs[100] = FakeProcess(100, "second", "bob", created=2.0)
    assert resolve(100) == ProcessIdentity("second", "bob")


def test_resolver_cache_is_bounded() -> None:
    table = Table()
    for pid in range(10):
        table.procs[pid] = FakeProcess(pid, f"p{pid}", created=float(pid))
    resolve = PsutilResolver(table, max_entries=4)
    for pid in range(10):
        assert resolve(pid).name == f"p{pid}"
    assert len(resolve._cache) <= 4


def test_resolver_on_this_process() -> None:
    import os

    me = PsutilResolver()(os.getpid())
    assert me.name is not None
    assert me.name == sanitize_name(psutil.Process().name())
