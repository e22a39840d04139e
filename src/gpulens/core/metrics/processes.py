"""Process names and owners for GPU pids, looked up through psutil and cached.

PIDs reported by the GPU driver are host PIDs. Inside a container that does
not share the host PID namespace they cannot be resolved: the name stays
``None`` rather than a guess. Only the executable's name is kept, never
the command line or the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import psutil

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


class ProcessResolver(Protocol):
    def __call__(self, pid: int) -> ProcessIdentity: ...


class ProcessHandle(Protocol):
    """What the resolver reads of a process: ``psutil.Process``, or a stand-in."""

    def create_time(self) -> float: ...

    def name(self) -> str: ...

    def username(self) -> str: ...


class PsutilResolver:
    """Resolves pid → (name, user), cached by (pid, create time) so a reused pid is not confused."""

    def __init__(
        self,
        process_factory: Callable[[int], ProcessHandle] = psutil.Process,
        max_entries: int = 4096,
    ) -> None:
        self._process = process_factory
        self._cache: dict[tuple[int, float], ProcessIdentity] = {}
        self._max = max_entries

    def __call__(self, pid: int) -> ProcessIdentity:
        try:
            proc = self._process(pid)
            key = (pid, proc.create_time())
        except (psutil.Error, OSError, ValueError):
            # Gone between listing and lookup, or not in our PID namespace.
            return ProcessIdentity(None, None)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        identity = ProcessIdentity(self._name(proc), self._user(proc))
        if len(self._cache) >= self._max:
            self._cache.clear()
        self._cache[key] = identity
        return identity

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
