"""Containers: ids from /proc/<pid>/cgroup samples of each engine, names from a fake engine API."""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from gpulens.core.metrics.containers import (
    DEFAULT_SOCKETS,
    CgroupContainers,
    ContainerRef,
    Containers,
    EngineNames,
    container_of_path,
    containers_for,
    parse_cgroup,
)
from tests.fakes import FakeClock

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cgroup"
UID = "6a1b2c3d-4e5f-4789-abcd-ef0123456789"


def sample(name: str) -> str:
    return (FIXTURES / name).read_text()


# -- the cgroup file ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "short", "engine", "pod"),
    [
        ("docker-v1-cgroupfs.txt", "2a759f8fac4d", "docker", None),
        ("docker-v2-systemd.txt", "4c01db0b339c", "docker", None),
        ("docker-v2-cgroupfs.txt", "4c01db0b339c", "docker", None),
        ("podman-rootless.txt", "56dfa3bc9444", "podman", None),
        ("podman-rootful-v1.txt", "4675a9ec2d20", "podman", None),
        ("k8s-containerd-v2.txt", "4da4b68fe6f1", "containerd", UID),
        ("k8s-containerd-v1-cgroupfs.txt", "966511cf5a3e", None, UID),
        ("crio-v2.txt", "c64064614423", "cri-o", UID),
        ("nerdctl-v2-cgroupfs.txt", "aa470170773a", None, None),
    ],
)
def test_each_engine_sample_gives_its_container(
    name: str, short: str, engine: str | None, pod: str | None
) -> None:
    ref = parse_cgroup(sample(name))
    assert ref is not None
    assert ref.short == short
    assert ref.id is not None
    assert len(ref.id) == 64
    assert ref.id.startswith(short)
    assert ref.id in sample(name)
    assert (ref.engine, ref.pod) == (engine, pod)


@pytest.mark.parametrize(
    "name",
    [
        "host-user-session.txt",
        "host-v1.txt",
        "host-root.txt",
        "podman-conmon.txt",  # the engine's monitor runs beside the container, not in it
        "sandbox-process-api.txt",  # 32 hex digits: not a container id
    ],
)
def test_host_processes_have_no_container(name: str) -> None:
    assert parse_cgroup(sample(name)) is None


def test_the_v1_lines_are_read_when_the_unified_line_names_no_container() -> None:
    # Docker on a hybrid host: "0::/system.slice/containerd.service", the container in v1 lines.
    text = sample("docker-v1-cgroupfs.txt")
    assert "0::/system.slice/containerd.service" in text
    without = text.replace("0::/system.slice/containerd.service", "")
    assert parse_cgroup(text) == parse_cgroup(without)


def test_a_pod_level_cgroup_gives_the_pod_uid() -> None:
    pod = UID.replace("-", "_")
    path = f"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{pod}.slice"
    ref = container_of_path(path)
    assert ref == ContainerRef(None, None, UID)
    assert ref.short == UID


def test_the_innermost_container_wins() -> None:
    outer, inner = "a" * 64, "b" * 64
    ref = container_of_path(f"/docker/{outer}/docker/{inner}")
    assert ref is not None
    assert ref.short == "b" * 12


def test_a_path_relative_to_another_cgroup_namespace() -> None:
    # gpulens in a container of its own reads a host path as seen from its cgroup namespace.
    cid = "c" * 64
    ref = parse_cgroup(f"0::/../../system.slice/docker-{cid}.scope\n")
    assert ref == ContainerRef(cid, "docker", None)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage\n",
        "0::\n",
        "::::\n",
        "0::/docker/" + "g" * 64 + "\n",  # not hex
        "0::/docker/" + "a" * 63 + "\n",  # too short
        "0::/docker/" + "A" * 64 + "\n",  # engines write lower case
        "0::/pod" + UID + "\n",  # a pod uid outside kubepods is not read
        "\x00\xff" * 1000,
    ],
)
def test_odd_cgroup_text_gives_no_container(text: str) -> None:
    assert parse_cgroup(text) is None


def _proc_with(tmp_path: Path, pid: int, text: str) -> Path:
    (tmp_path / str(pid)).mkdir(exist_ok=True)
    (tmp_path / str(pid) / "cgroup").write_text(text)
    return tmp_path


def test_cgroup_containers_read_and_cache_per_pid_and_start_time(tmp_path: Path) -> None:
    proc = _proc_with(tmp_path, 483, sample("docker-v2-systemd.txt"))
    ids = CgroupContainers(proc)
    first = ids(483, 100.0)
    assert first is not None
    assert first.short == "4c01db0b339c"
    # The same process: not read again (even if the file changed under it).
    _proc_with(tmp_path, 483, sample("crio-v2.txt"))
    assert ids(483, 100.0) == first
    # Another process with the pid (another start time): read afresh.
    again = ids(483, 200.0)
    assert again is not None
    assert again.short == "c64064614423"


def test_cgroup_containers_host_process_is_cached_as_none(tmp_path: Path) -> None:
    proc = _proc_with(tmp_path, 7, sample("host-root.txt"))
    ids = CgroupContainers(proc)
    assert ids(7, 1.0) is None
    _proc_with(tmp_path, 7, sample("docker-v2-systemd.txt"))
    assert ids(7, 1.0) is None  # the same run: its cgroup does not change


def test_cgroup_containers_process_gone(tmp_path: Path) -> None:
    ids = CgroupContainers(tmp_path)
    assert ids(4242, 1.0) is None
    # Not cached: a file that could not be read is tried again.
    _proc_with(tmp_path, 4242, sample("docker-v2-systemd.txt"))
    ref = ids(4242, 1.0)
    assert ref is not None
    assert ref.short == "4c01db0b339c"


def test_cgroup_containers_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "9" / "cgroup").mkdir(parents=True)  # a directory: EISDIR
    assert CgroupContainers(tmp_path)(9, 1.0) is None
    _proc_with(tmp_path, 10, sample("docker-v2-systemd.txt"))

    def denied(self: Path, *args: object, **kwargs: object) -> str:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_text", denied)  # hidepid, or another user's process
    assert CgroupContainers(tmp_path)(10, 1.0) is None


def test_cgroup_containers_cache_is_bounded(tmp_path: Path) -> None:
    ids = CgroupContainers(tmp_path, max_entries=3)
    for pid in range(10):
        _proc_with(tmp_path, pid, sample("host-root.txt"))
        ids(pid, 1.0)
    assert len(ids._cache) <= 3


def test_cgroup_containers_on_this_process() -> None:
    import os

    import psutil

    ids = CgroupContainers()
    ids(os.getpid(), psutil.Process().create_time())  # whatever this machine is: no exception


# -- container names through the engine's API ---------------------------------------------


@dataclass
class Engine:
    """A fake Docker/Podman API on a unix socket; ``routes`` maps a path to an answer."""

    path: Path
    routes: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    delay: float = 0.0
    requests: list[str] = field(default_factory=list)


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: object, client_address: object) -> None:
        return None  # a client that gave up (the slow answer's) breaks the pipe: expected


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    state = Engine(tmp_path / "engine.sock")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            if state.delay:
                time.sleep(state.delay)
            status, body = state.routes.get(self.path, (404, b'{"message":"No such container"}'))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def address_string(self) -> str:  # a unix socket has no client address
            return "unix"

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = _Server(str(state.path), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


CID = "4c01db0b339c065bb35e0b537f4ab7fffdb6fa0d55b6d72d7b6bb4af0cf13045"
ROUTE = f"/containers/{CID}/json"


def _answer(name: str) -> tuple[int, bytes]:
    return 200, json.dumps({"Id": CID, "Name": name, "State": {"Running": True}}).encode()


def _names(
    engine: Engine,
    clock: FakeClock | None = None,
    timeout: float = 0.5,
    ttl: float = 60.0,
    retry_s: float = 60.0,
) -> EngineNames:
    return EngineNames(
        "docker", engine.path, timeout=timeout, ttl=ttl, retry_s=retry_s, clock=clock or FakeClock()
    )


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "gpulens.containers"]


def test_engine_name_without_its_slash_cached_until_it_expires(engine: Engine) -> None:
    engine.routes[ROUTE] = _answer("/trainer-7")
    clock = FakeClock()
    names = _names(engine, clock, ttl=60.0)
    assert names(CID) == "trainer-7"
    assert names(CID) == "trainer-7"
    assert engine.requests == [ROUTE]  # asked once
    engine.routes[ROUTE] = _answer("/renamed")
    clock.advance(61)
    assert names(CID) == "renamed"
    assert len(engine.requests) == 2


def test_engine_name_is_made_safe_to_show(engine: Engine) -> None:
    engine.routes[ROUTE] = _answer("/evil\x1b[31m\u202ename")
    assert _names(engine)(CID) == "evil\ufffdname"


def test_engine_unknown_container_gives_none_once_logged(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    clock = FakeClock()
    names = _names(engine, clock, ttl=60.0)
    assert names(CID) is None  # 404 (a Kubernetes container the engine does not run)
    assert names(CID) is None
    assert engine.requests == [ROUTE]  # the miss is cached too
    clock.advance(61)
    assert names(CID) is None
    assert len(engine.requests) == 2
    assert len(_warnings(caplog)) == 1
    assert "HTTP 404" in _warnings(caplog)[0]


@pytest.mark.parametrize(
    "body", [b"not json", b"[1, 2]", b'{"Name": 7}', b'{"Id": "x"}', b"\xff\xfe", b""]
)
def test_engine_garbage_answer_gives_none(engine: Engine, body: bytes) -> None:
    engine.routes[ROUTE] = (200, body)
    assert _names(engine)(CID) is None


def test_engine_socket_missing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    clock = FakeClock()
    names = EngineNames("docker", tmp_path / "absent.sock", clock=clock, retry_s=60.0)
    for _ in range(5):
        assert names(CID) is None
    warnings = _warnings(caplog)
    assert len(warnings) == 1  # one line, not one per sample
    assert "absent.sock does not exist" in warnings[0]


def test_engine_not_asked_again_until_retry_then_recovers(engine: Engine) -> None:
    engine.routes[ROUTE] = _answer("/trainer-7")
    clock = FakeClock()
    names = _names(engine, clock, retry_s=60.0)
    real = engine.path
    names.socket_path = real.with_name("moved.sock")
    assert names(CID) is None
    names.socket_path = real  # the engine is back
    assert names(CID) is None  # within the retry period: not asked
    assert engine.requests == []
    clock.advance(61)
    assert names(CID) == "trainer-7"


def test_engine_permission_denied(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)

    class Refusing(socket.socket):
        def connect(self, address: object) -> None:
            raise PermissionError(13, "Permission denied")

    # The socket is root:docker 0660 and gpulens is not in the group (root itself is never refused).
    monkeypatch.setattr("gpulens.core.metrics.containers.socket.socket", Refusing)
    names = _names(engine)
    assert names(CID) is None
    assert names(CID) is None
    assert engine.requests == []
    [warning] = _warnings(caplog)
    assert "no permission" in warning


def test_engine_slow_answer_costs_one_timeout(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    engine.routes[ROUTE] = _answer("/trainer-7")
    engine.delay = 2.0
    names = _names(engine, timeout=0.1)
    began = time.monotonic()
    assert names(CID) is None
    assert names(CID) is None  # the engine is not asked again for a while: no second wait
    assert time.monotonic() - began < 1.0
    assert len(engine.requests) == 1
    assert "no answer within 0.1 s" in _warnings(caplog)[0]


def test_engine_not_a_http_server(tmp_path: Path) -> None:
    path = tmp_path / "mute.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def hang_up() -> None:
        conn, _ = server.accept()
        conn.recv(1024)
        conn.sendall(b"SSH-2.0-OpenSSH\r\n")
        conn.close()

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    try:
        assert EngineNames("podman", path, clock=FakeClock())(CID) is None
    finally:
        thread.join(5)
        server.close()


def test_default_sockets() -> None:
    assert EngineNames("docker").socket_path == Path("/var/run/docker.sock")
    assert EngineNames("podman").socket_path == Path("/run/podman/podman.sock")
    assert DEFAULT_SOCKETS["docker"] == Path("/var/run/docker.sock")


# -- what the page shows ------------------------------------------------------------------


def _ids(ref: ContainerRef | None) -> Callable[[int, float], ContainerRef | None]:
    return lambda pid, started: ref


def test_containers_show_the_short_id_without_names() -> None:
    assert Containers(_ids(ContainerRef(CID, "docker")))(1, 1.0) == "4c01db0b339c"
    assert Containers(_ids(None))(1, 1.0) is None
    assert Containers(_ids(ContainerRef(None, None, UID)))(1, 1.0) == UID


def test_containers_show_the_name_when_opted_in_else_the_short_id() -> None:
    asked: list[str] = []

    def names(cid: str) -> str | None:
        asked.append(cid)
        return "trainer-7" if cid == CID else None

    assert Containers(_ids(ContainerRef(CID, "docker")), names)(1, 1.0) == "trainer-7"
    other = "d" * 64
    assert Containers(_ids(ContainerRef(other, "docker")), names)(1, 1.0) == "d" * 12
    assert Containers(_ids(ContainerRef(None, None, UID)), names)(1, 1.0) == UID  # no id to ask
    assert asked == [CID, other]


def test_containers_keep_the_pod_uid_available() -> None:
    ref = ContainerRef(CID, "containerd", UID)
    assert Containers(_ids(ref)).ref(1, 1.0) == ref


def test_containers_from_settings(tmp_path: Path, engine: Engine) -> None:
    proc = _proc_with(tmp_path, 483, sample("docker-v2-systemd.txt"))
    engine.routes[ROUTE] = _answer("/trainer-7")
    assert containers_for("off", None, proc)(483, 1.0) == "4c01db0b339c"
    assert engine.requests == []  # off: the engine is never asked
    assert containers_for("docker", engine.path, proc)(483, 1.0) == "trainer-7"
    assert containers_for("podman", engine.path, proc)(483, 1.0) == "trainer-7"  # same endpoint
