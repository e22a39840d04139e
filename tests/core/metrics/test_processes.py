"""Process names, owners, start times, containers: resolved through psutil, cached per run."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from gpulens.core.metrics.containers import CgroupContainers, Containers
from gpulens.core.metrics.processes import (
    HOST_PID_NAMESPACE,
    MAX_NAME_LENGTH,
    ProcessIdentity,
    PsutilResolver,
    in_host_pid_namespace,
    sanitize_name,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cgroup"

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


def no_container(pid: int, started: float) -> str | None:
    return None


def resolver(table: Table, **kwargs: object) -> PsutilResolver:
    kwargs.setdefault("containers", no_container)
    return PsutilResolver(table, **kwargs)  # type: ignore[arg-type]


def test_resolver_returns_name_user_and_start_time() -> None:
    table = Table()
    table.procs[483] = FakeProcess(483, "/usr/bin/python3", "alice", created=1796000000.25)
    resolve = resolver(table)
    assert resolve(483) == ProcessIdentity("/usr/bin/python3", "alice", 1796000000.25, None)


def test_resolver_process_gone_between_listing_and_lookup() -> None:
    resolve = resolver(Table())
    assert resolve(4242) == ProcessIdentity(None, None, None, None)


def test_resolver_process_exits_during_lookup() -> None:
    table = Table()
    table.procs[9] = FakeProcess(9, name_error=psutil.NoSuchProcess(9))
    assert resolver(table)(9) == ProcessIdentity(None, "alice", 100.0)


def test_resolver_process_exits_before_its_start_time_is_read() -> None:
    class Vanishing(FakeProcess):
        def create_time(self) -> float:
            raise psutil.NoSuchProcess(self.pid)

    table = Table()
    table.procs[11] = Vanishing(11)
    asked: list[int] = []

    def containers(pid: int, started: float) -> str | None:
        asked.append(pid)
        return "3f4e5d6c7b8a"

    assert resolver(table, containers=containers)(11) == ProcessIdentity(None, None, None, None)
    assert asked == []  # no start time, no key: the container is not looked up either


@pytest.mark.parametrize(
    "error", [psutil.AccessDenied(7), KeyError("uid 1234 not in passwd"), psutil.ZombieProcess(7)]
)
def test_resolver_access_denied_on_username_keeps_the_name(error: Exception) -> None:
    table = Table()
    table.procs[7] = FakeProcess(7, "worker", user_error=error)
    assert resolver(table)(7) == ProcessIdentity("worker", None, 100.0)


def test_resolver_cache_is_keyed_by_pid_and_create_time() -> None:
    table = Table()
    table.procs[100] = FakeProcess(100, "first", "alice", created=1.0)
    resolve = resolver(table)
    assert resolve(100).name == "first"
    # Same process: served from the cache (its name is not read again).
    table.procs[100]._name = "renamed"
    assert resolve(100).name == "first"
    # The pid is reused by a new process (another start time): resolved afresh.
    table.procs[100] = FakeProcess(100, "second", "bob", created=2.0)
    assert resolve(100) == ProcessIdentity("second", "bob", 2.0)


def test_resolver_cache_is_bounded() -> None:
    table = Table()
    for pid in range(10):
        table.procs[pid] = FakeProcess(pid, f"p{pid}", created=float(pid))
    resolve = resolver(table, max_entries=4)
    for pid in range(10):
        assert resolve(pid).name == f"p{pid}"
    assert len(resolve._cache) <= 4


def test_resolver_on_this_process() -> None:
    me = PsutilResolver()(os.getpid())
    assert me.name is not None
    assert me.name == sanitize_name(psutil.Process().name())
    assert me.started == psutil.Process().create_time()


# -- containers ---------------------------------------------------------------------------


def test_resolver_gives_the_container_from_the_cgroup_file(tmp_path: Path) -> None:
    (tmp_path / "483").mkdir()
    (tmp_path / "483" / "cgroup").write_text((FIXTURES / "docker-v2-systemd.txt").read_text())
    table = Table()
    table.procs[483] = FakeProcess(483, "python3", created=50.0)
    table.procs[484] = FakeProcess(484, "python3", created=60.0)  # no cgroup file: gone
    resolve = resolver(table, containers=Containers(CgroupContainers(tmp_path)))
    assert resolve(483) == ProcessIdentity("python3", "alice", 50.0, "4c01db0b339c")
    assert resolve(484) == ProcessIdentity("python3", "alice", 60.0, None)


def test_a_reused_pid_gets_the_new_process_container(tmp_path: Path) -> None:
    (tmp_path / "483").mkdir()
    cgroup = tmp_path / "483" / "cgroup"
    cgroup.write_text((FIXTURES / "docker-v2-systemd.txt").read_text())
    table = Table()
    table.procs[483] = FakeProcess(483, "python3", created=50.0)
    resolve = resolver(table, containers=Containers(CgroupContainers(tmp_path)))
    assert resolve(483).container == "4c01db0b339c"
    # The job ends; a host process gets the same pid.
    cgroup.write_text((FIXTURES / "host-user-session.txt").read_text())
    table.procs[483] = FakeProcess(483, "bash", "bob", created=70.0)
    assert resolve(483) == ProcessIdentity("bash", "bob", 70.0, None)


def test_a_failing_container_lookup_keeps_the_process() -> None:
    def broken(pid: int, started: float) -> str | None:
        raise RuntimeError("bug")

    table = Table()
    table.procs[5] = FakeProcess(5, "python3")
    assert resolver(table, containers=broken)(5) == ProcessIdentity("python3", "alice", 100.0)


# -- PID namespaces -----------------------------------------------------------------------


def _proc(tmp_path: Path, nspid: str | None, link: str | None) -> Path:
    me = tmp_path / "self"
    (me / "ns").mkdir(parents=True)
    lines = ["Name:\tgpulens", "Tgid:\t7", "Pid:\t7"]
    if nspid is not None:
        lines.append(f"NSpid:\t{nspid}")
    (me / "status").write_text("\n".join([*lines, "PPid:\t1", ""]))
    if link is not None:
        (me / "ns" / "pid").symlink_to(link)
    return tmp_path


@pytest.mark.parametrize(
    ("nspid", "link", "host"),
    [
        ("5438", HOST_PID_NAMESPACE, True),  # on the host
        ("5438", None, True),  # nothing else to go by: the host, as before
        (None, None, True),  # a kernel older than NSpid (4.1)
        ("812343\t7", HOST_PID_NAMESPACE, False),  # a nested namespace, seen from the host's /proc
        ("7\t1", None, False),
        ("7", "pid:[4026532512]", False),  # a container with its own /proc: one number only
    ],
)
def test_in_host_pid_namespace(
    tmp_path: Path, nspid: str | None, link: str | None, host: bool
) -> None:
    assert in_host_pid_namespace(_proc(tmp_path, nspid, link)) is host


def test_in_host_pid_namespace_without_a_proc(tmp_path: Path) -> None:
    assert in_host_pid_namespace(tmp_path / "absent") is True


def test_in_host_pid_namespace_here() -> None:
    link = os.readlink("/proc/self/ns/pid")
    assert in_host_pid_namespace() is (link == HOST_PID_NAMESPACE)
