"""Process names and owners for GPU pids, looked up through psutil and cached.

PIDs reported by the GPU driver are host PIDs. Inside a container that does
not share the host PID namespace they cannot be resolved: the name stays
``None`` rather than a guess. Only the executable's basename is kept, never
the command line or the environment.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import psutil

MAX_NAME_LENGTH = 64
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def sanitize_name(raw: str | None, limit: int = MAX_NAME_LENGTH) -> str | None:
    """Basename, control and bidi characters stripped, capped; ``None`` when nothing is left."""
    if raw is None:
        return None
    text = raw
    if len(text) > limit * 16 and "/" in text:
        text = text.rstrip("/").rsplit("/", 1)[-1]  # a long path: keep its last part
    text = text[: limit * 16]  # bound the work on hostile input before any regex
    text = _CONTROL.sub("", text).strip()
    if "/" in text:
        text = text.rstrip("/").rsplit("/", 1)[-1]
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text or None


@dataclass(frozen=True, slots=True)
class ProcessIdentity:
    name: str | None
    user: str | None


class ProcessResolver(Protocol):
    def __call__(self, pid: int) -> ProcessIdentity: ...


class PsutilResolver:
    """Resolves pid → (name, user), cached by (pid, create time) so a reused pid is not confused."""

    def __init__(
        self,
        process_factory: Callable[[int], psutil.Process] = psutil.Process,
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
    def _name(proc: psutil.Process) -> str | None:
        try:
            return sanitize_name(proc.name())
        except (psutil.Error, OSError):
            return None

    @staticmethod
    def _user(proc: psutil.Process) -> str | None:
        try:
            return sanitize_name(proc.username(), limit=32)
        except (psutil.Error, OSError, KeyError):
            return None
