"""Which container a GPU process runs in: its id from ``/proc/<pid>/cgroup``, a name by opt-in.

The id comes from the process's cgroup path, which every engine names after
the container (read from the host, so the paths are the host's):

* Docker: ``/docker/<64 hex>`` (cgroupfs driver), ``docker-<64 hex>.scope`` (systemd);
* Podman: ``libpod-<64 hex>.scope`` (rootful or rootless), ``/libpod_parent/libpod-<64 hex>``;
* containerd / CRI: ``cri-containerd-<64 hex>.scope``, ``/<namespace>/<64 hex>``,
  nerdctl's ``nerdctl-<64 hex>.scope``;
* CRI-O: ``crio-<64 hex>.scope``;
* Kubernetes: any of the above under ``kubepods…/pod<uid>``: the pod's uid is kept too.

cgroup v2 has one line (``0::/path``); v1 one per hierarchy: the unified line
is read first, then the others in order. The innermost container in the path
wins (a container started inside another). A host process (``0::/``,
``0::/user.slice/…``) has none. What is shown is the short id (12 hex), or
the pod's uid for a process in a pod but in no container.

A **name** is shown only through an explicit opt-in (``CONTAINER_NAMES``):
:class:`EngineNames` asks the engine's API over its unix socket. Whoever can
read that socket can start a privileged container: giving gpulens access to
it is effectively giving it root. Off by default; the short id is shown then.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import quote

from gpulens.core.metrics.text import OnceLog, clean_name, clean_reason

log = logging.getLogger("gpulens.containers")

Engine = Literal["docker", "podman"]
SHORT_ID = 12
MAX_NAME_LENGTH = 128
DEFAULT_SOCKETS: dict[Engine, Path] = {
    "docker": Path("/var/run/docker.sock"),
    "podman": Path("/run/podman/podman.sock"),
}

# One path component naming a container: a prefix and ".scope" (systemd) or the bare id.
_CONTAINER = re.compile(
    r"^(?:(?P<prefix>docker|libpod|cri-containerd|crio|containerd|nerdctl)-)?"
    r"(?P<id>[0-9a-f]{64})(?:\.scope)?$"
)
_POD = re.compile(
    r"pod(?P<uid>[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})"
    r"(?:\.slice)?$"
)
_PREFIX_ENGINES = {
    "docker": "docker",
    "libpod": "podman",
    "cri-containerd": "containerd",
    "containerd": "containerd",
    "nerdctl": "containerd",
    "crio": "cri-o",
}
_PARENT_ENGINES = {"docker": "docker", "libpod_parent": "podman"}


@dataclass(frozen=True, slots=True)
class ContainerRef:
    """A process's container as its cgroup names it."""

    id: str | None  # the full container id (64 hex); None for a pod-level cgroup
    engine: str | None = None  # docker, podman, containerd, cri-o; None when the path won't say
    pod: str | None = None  # the Kubernetes pod's uid (with dashes)

    @property
    def short(self) -> str:
        """What the page shows: the first 12 hex of the id, else the pod's uid."""
        if self.id is not None:
            return self.id[:SHORT_ID]
        return self.pod or ""


def _lines_in_order(text: str) -> Iterable[str]:
    """The cgroup paths of a ``/proc/<pid>/cgroup`` file, the unified (v2) one first."""
    unified: list[str] = []
    others: list[str] = []
    for line in text.splitlines():
        hierarchy, _, rest = line.partition(":")
        _controllers, sep, path = rest.partition(":")
        if not sep:
            continue
        (unified if hierarchy.strip() == "0" else others).append(path.strip())
    return [*unified, *others]


def container_of_path(path: str) -> ContainerRef | None:
    """The innermost container a cgroup path names, or ``None`` (a host cgroup)."""
    parts = [p for p in path.split("/") if p]
    pod: str | None = None
    if any(p.startswith("kubepods") for p in parts):
        for part in parts:
            match = _POD.search(part)
            if match is not None:
                pod = match["uid"].replace("_", "-")
    for index in range(len(parts) - 1, -1, -1):
        match = _CONTAINER.match(parts[index])
        if match is None:
            continue
        prefix = match["prefix"]
        if prefix is not None:
            engine: str | None = _PREFIX_ENGINES[prefix]
        else:
            parent = parts[index - 1] if index > 0 else ""
            engine = _PARENT_ENGINES.get(parent)
        return ContainerRef(match["id"], engine, pod)
    if pod is not None:
        return ContainerRef(None, None, pod)
    return None


def parse_cgroup(text: str) -> ContainerRef | None:
    """``/proc/<pid>/cgroup`` (v1 or v2) → the process's container, ``None`` for a host one."""
    for path in _lines_in_order(text):
        found = container_of_path(path)
        if found is not None:
            return found
    return None


class CgroupContainers:
    """pid → its container, read from ``<proc>/<pid>/cgroup``, cached per (pid, start time).

    A file that cannot be read (the process is gone, ``hidepid``, permission)
    gives ``None`` and is not cached (the next sample tries again).
    """

    def __init__(self, proc: Path = Path("/proc"), max_entries: int = 4096) -> None:
        self._proc = proc
        self._cache: dict[tuple[int, float], ContainerRef | None] = {}
        self._max = max_entries

    def __call__(self, pid: int, started: float) -> ContainerRef | None:
        key = (pid, started)
        if key in self._cache:
            return self._cache[key]
        try:
            text = (self._proc / str(pid) / "cgroup").read_text(errors="replace")
        except (OSError, ValueError):
            return None
        found = parse_cgroup(text[:65536])
        if len(self._cache) >= self._max:
            self._cache.clear()
        self._cache[key] = found
        return found


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over a unix socket (the engine's API), with one timeout for connect and reads."""

    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self._path))
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class _EngineDown(Exception):
    """The engine could not be asked at all (socket missing, permission, timeout)."""


class EngineNames:
    """Container id → its name, asked from Docker's API (Podman serves the same endpoint).

    Opt-in (``CONTAINER_NAMES=docker|podman``): whoever can read the engine's
    socket can start a privileged container, so this is effectively root
    access. ``GET /containers/<id>/json`` → ``Name`` without its leading
    ``/``. Answers are cached for ``ttl`` seconds (a container may be renamed).
    Any failure gives ``None`` (the caller shows the short id) and one log
    line per kind of failure, not one per sample. When the engine cannot be
    reached at all (no socket, no permission, no answer within ``timeout``),
    it is not asked again for ``retry_s`` seconds, so a sample waits at most
    one ``timeout`` for it.
    """

    def __init__(
        self,
        engine: Engine,
        socket_path: Path | None = None,
        timeout: float = 0.5,
        ttl: float = 60.0,
        retry_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 1024,
    ) -> None:
        self.engine = engine
        self.socket_path = socket_path if socket_path is not None else DEFAULT_SOCKETS[engine]
        self._timeout = timeout
        self._ttl = ttl
        self._retry_s = retry_s
        self._clock = clock
        self._max = max_entries
        self._cache: dict[str, tuple[float, str | None]] = {}  # id → (expires, name)
        self._down_until = float("-inf")
        self._problems = OnceLog(log)

    def __call__(self, container_id: str) -> str | None:
        now = self._clock()
        cached = self._cache.get(container_id)
        if cached is not None and now < cached[0]:
            return cached[1]
        if now < self._down_until:
            return None
        try:
            name = self._ask(container_id)
        except _EngineDown as exc:
            self._down_until = now + self._retry_s
            self._problems.warning(
                f"down:{exc}",
                "container names: %s cannot be asked (%s); showing short ids",
                self.engine,
                exc,
            )
            return None
        if len(self._cache) >= self._max:
            self._cache.clear()
        self._cache[container_id] = (now + self._ttl, name)
        return name

    def _ask(self, container_id: str) -> str | None:
        """The container's name; ``None`` when the engine answered but gave none."""
        conn = _UnixConnection(self.socket_path, self._timeout)
        try:
            conn.request("GET", f"/containers/{quote(container_id, safe='')}/json")
            response = conn.getresponse()
            body = response.read(1 << 20)
        except TimeoutError as exc:
            raise _EngineDown(f"no answer within {self._timeout:g} s") from exc
        except FileNotFoundError as exc:
            raise _EngineDown(f"{self.socket_path} does not exist") from exc
        except PermissionError as exc:
            raise _EngineDown(f"no permission to open {self.socket_path}") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise _EngineDown(clean_reason(f"{self.socket_path}: {exc}")) from exc
        finally:
            conn.close()
        if response.status != 200:
            self._problems.warning(
                f"status:{response.status}",
                "container names: %s answered HTTP %d for a container; showing its short id",
                self.engine,
                response.status,
            )
            return None
        return self._name(body)

    def _name(self, body: bytes) -> str | None:
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        raw = data.get("Name") if isinstance(data, dict) else None
        if not isinstance(raw, str):
            self._problems.warning(
                "garbage",
                "container names: %s's answer has no container name; showing short ids",
                self.engine,
            )
            return None
        return clean_name(raw.lstrip("/"), MAX_NAME_LENGTH)


class ContainerLabel(Protocol):
    def __call__(self, pid: int, started: float) -> str | None: ...


class Containers:
    """pid → what the page shows for its container: the engine's name (opt-in), or the short id."""

    def __init__(
        self,
        ids: Callable[[int, float], ContainerRef | None] | None = None,
        names: Callable[[str], str | None] | None = None,
    ) -> None:
        self._ids = ids if ids is not None else CgroupContainers()
        self._names = names

    def ref(self, pid: int, started: float) -> ContainerRef | None:
        """The container's full id, engine and pod uid."""
        return self._ids(pid, started)

    def __call__(self, pid: int, started: float) -> str | None:
        ref = self._ids(pid, started)
        if ref is None:
            return None
        if self._names is not None and ref.id is not None:
            name = self._names(ref.id)
            if name:
                return name
        return ref.short


def containers_for(
    names: Literal["off", "docker", "podman"],
    socket_path: Path | None = None,
    proc: Path = Path("/proc"),
) -> Containers:
    """The container lookup the settings ask for (``CONTAINER_NAMES``, ``CONTAINER_SOCKET``)."""
    engine = None if names == "off" else EngineNames(names, socket_path)
    return Containers(CgroupContainers(proc), engine)
