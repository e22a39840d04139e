"""Process names, owners, start times and containers for GPU pids, through psutil, cached.

PIDs reported by the GPU driver are host PIDs. Inside a container that does
not share the host PID namespace they cannot be resolved: the name stays
``None`` rather than a guess (``in_host_pid_namespace`` tells which case this
is). Only the executable's name is kept, never the command line or the
environment. The start time tells one run of a pid from another (pids are
reused); the container comes from ``/proc/<pid>/cgroup`` (``containers.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import psutil

from gpulens.core.metrics.containers import ContainerLabel, Containers
from gpulens.core.metrics.text import clean_name

MAX_NAME_LENGTH = 256  # a full path; the page shows its basename, the whole text on hover
MAX_USER_LENGTH = 32


def sanitize_name(raw: str | None, limit: int = MAX_NAME_LENGTH) -> str | None:
    """The name as the source gave it (a full path where it gives one), made safe to show.

    Terminal escapes and runs of control or bidi characters become one U+FFFD,
    the length is capped (a path keeps its end); ``None`` when nothing is left.
    Never cut at ``/``: ``<script>alert(1)</script>`` is a name, not a path.
    """
    return clean_name(raw, limit)


@dataclass(frozen=True, slots=True)
class ProcessIdentity:
    name: str | None
    user: str | None
    started: float | None = None  # Unix seconds (psutil's create_time): pid + started = one run
    container: str | None = None  # short container id (or pod uid, or the name by opt-in)


class ProcessResolver(Protocol):
    def __call__(self, pid: int) -> ProcessIdentity: ...


UNKNOWN = ProcessIdentity(None, None)


def unresolved(pid: int) -> ProcessIdentity:
    """The resolver where gpulens does not see the host's pids (a container without
    ``--pid=host``): a driver pid may be another process here, so nothing is looked up
    rather than a stranger's name shown."""
    return UNKNOWN


class ProcessHandle(Protocol):
    """What the resolver reads of a process: ``psutil.Process``, or a stand-in."""

    def create_time(self) -> float: ...

    def name(self) -> str: ...

    def username(self) -> str: ...


class PsutilResolver:
    """pid → name, user, start time and container, cached by (pid, start time).

    The cache key is the process's start time, so a reused pid is not confused
    with the process that had it before. The container is asked of
    ``containers`` (its own cache: ids per process, names with an expiry) on
    every call. A process that is gone, or not in this PID namespace, gives
    ``ProcessIdentity(None, None)``: never an exception.
    """

    def __init__(
        self,
        process_factory: Callable[[int], ProcessHandle] = psutil.Process,
        max_entries: int = 4096,
        containers: ContainerLabel | None = None,
    ) -> None:
        self._process = process_factory
        self._cache: dict[tuple[int, float], ProcessIdentity] = {}
        self._max = max_entries
        self._containers: ContainerLabel = containers if containers is not None else Containers()

    def __call__(self, pid: int) -> ProcessIdentity:
        try:
            proc = self._process(pid)
            started = float(proc.create_time())
        except (psutil.Error, OSError, ValueError, TypeError):
            # Gone between listing and lookup, or not in our PID namespace.
            return ProcessIdentity(None, None)
        key = (pid, started)
        identity = self._cache.get(key)
        if identity is None:
            identity = ProcessIdentity(self._name(proc), self._user(proc), started)
            if len(self._cache) >= self._max:
                self._cache.clear()
            self._cache[key] = identity
        container = self._container(pid, started)
        return replace(identity, container=container) if container is not None else identity

    def _container(self, pid: int, started: float) -> str | None:
        try:
            return self._containers(pid, started)
        except Exception:  # an extra: a bug or an odd file there must not lose the process
            return None

    @staticmethod
    def _name(proc: ProcessHandle) -> str | None:
        try:
            return sanitize_name(proc.name())
        except (psutil.Error, OSError):
            return None

    @staticmethod
    def _user(proc: ProcessHandle) -> str | None:
        try:
            return sanitize_name(proc.username(), limit=MAX_USER_LENGTH)
        except (psutil.Error, OSError, KeyError):
            return None


_NSPID = re.compile(r"^NSpid:\s*(.*)$", re.MULTILINE)
# The kernel's initial PID namespace always has this inode (PROC_PID_INIT_INO, Linux >= 3.8).
HOST_PID_NAMESPACE = "pid:[4026531836]"


def in_host_pid_namespace(proc: Path = Path("/proc")) -> bool:
    """Whether this process sees the host's pids (the ones the GPU driver reports).

    ``NSpid:`` in ``<proc>/self/status`` lists one pid per nested namespace:
    more than one number means a PID namespace of its own (a container without
    ``--pid=host``). A procfs mounted inside the container shows only one
    number, so ``<proc>/self/ns/pid`` is asked too: the host's namespace has a
    fixed inode. When neither can be read, the host is assumed (as before).
    """
    try:
        status = (proc / "self" / "status").read_text(errors="replace")
    except OSError:
        status = ""
    match = _NSPID.search(status)
    if match is not None and len(match.group(1).split()) > 1:
        return False
    try:
        link = (proc / "self" / "ns" / "pid").readlink()
    except (OSError, ValueError):
        return True
    return str(link) == HOST_PID_NAMESPACE
