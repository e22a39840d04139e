"""XID errors through NVML's event API, on a thread of its own.

The thread creates an event set, registers each GPU for
``nvmlEventTypeXidCriticalError`` and then blocks in ``nvmlEventSetWait_v2``
(1 s at a time, so that it can be stopped): idle, it costs one wake-up a
second and nothing else. Each XID becomes an ``XidEvent`` in a bounded buffer
(the oldest dropped and counted) that the sampler drains after each read.

What can go wrong, and what is then reported (``XidStatus``), once in the log:

* a GPU refuses registration (not supported, no permission): it is skipped and
  named in the status's reason; when no GPU accepts → ``unsupported`` ("XID
  events need root or the driver does not allow them: …");
* the event set cannot be created → ``unsupported``;
* the wait fails other than by its timeout ``MAX_WAIT_ERRORS`` times in a row →
  ``failed``, and the thread ends.

None of this touches the sampling of the GPUs. The NVML provider owns the
watcher: it stops it (waiting at most one wait period) before it shuts NVML
down, and starts a new one after each initialisation.
"""

from __future__ import annotations

import collections
import ctypes
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pynvml

from gpulens.core.metrics.providers.base import XidEvent, XidState, XidStatus
from gpulens.core.metrics.text import OnceLog, clean_reason

log = logging.getLogger("gpulens.nvml.events")

WAIT_MS = 1000
MAX_WAIT_ERRORS = 5
RETRY_S = 1.0  # pause after a failed wait before the next one
BUFFER_SIZE = 1000
UNSUPPORTED = "XID events need root or the driver does not allow them"


class XidBuffer:
    """What the watcher received and the sampler has not drained yet (bounded, thread-safe)."""

    def __init__(self, size: int = BUFFER_SIZE) -> None:
        self._events: collections.deque[XidEvent] = collections.deque(maxlen=size)
        self._lock = threading.Lock()
        self.dropped = 0  # events pushed out unread because the buffer was full

    def put(self, event: XidEvent) -> None:
        with self._lock:
            if len(self._events) == self._events.maxlen:
                self.dropped += 1
            self._events.append(event)

    def drain(self) -> list[XidEvent]:
        """What arrived since the last call, oldest first; returns at once."""
        with self._lock:
            out = list(self._events)
            self._events.clear()
        return out


def _handle_key(handle: Any) -> object:
    """A key equal for two handles of the same GPU (ctypes pointers compare by identity)."""
    try:
        return ("address", ctypes.cast(handle, ctypes.c_void_p).value)
    except (TypeError, ctypes.ArgumentError):
        return ("object", handle)


def _reason(exc: BaseException) -> str:
    return clean_reason(str(exc).strip() or exc.__class__.__name__)


class XidWatcher:
    """One thread that waits for XID errors of ``devices`` (handle, GPU key) and buffers them."""

    def __init__(
        self,
        nvml: Any,
        devices: Sequence[tuple[Any, str]],
        buffer: XidBuffer,
        problems: OnceLog | None = None,
        wait_ms: int = WAIT_MS,
        retry_s: float | None = None,
        max_errors: int = MAX_WAIT_ERRORS,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._nvml = nvml
        self._devices = list(devices)
        self._buffer = buffer
        self._problems = problems if problems is not None else OnceLog(log)
        self._wait_ms = wait_ms
        # After a failed wait, pause as long as a wait would have lasted (at most RETRY_S).
        self._retry_s = retry_s if retry_s is not None else min(RETRY_S, wait_ms / 1000)
        self._max_errors = max_errors
        self._wall = wall
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.status = XidStatus("starting")
        self.skipped: dict[str, str] = {}  # GPU key → why it is not watched

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="gpulens-xid", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the thread to end and wait for it (at most one wait period, ~1 s)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout if timeout is not None else self._wait_ms / 1000 + 5)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- the thread --------------------------------------------------------

    def _run(self) -> None:
        try:
            event_set = self._create()
            if event_set is None:
                return
            try:
                watched = self._register(event_set)
                if watched:
                    self._wait_loop(event_set, watched)
            finally:
                try:
                    self._nvml.nvmlEventSetFree(event_set)
                except Exception as exc:  # NVML may already be failing: nothing more to do
                    log.debug("freeing the XID event set: %s", exc)
        except Exception as exc:  # a bug here must end this thread only, and say why
            self._set("failed", f"the XID watcher stopped: {_reason(exc)}")
            log.exception("the XID watcher stopped")

    def _create(self) -> Any:
        try:
            return self._nvml.nvmlEventSetCreate()
        except (self._nvml.NVMLError, AttributeError, TypeError) as exc:
            self._set("unsupported", f"{UNSUPPORTED}: {_reason(exc)}")
            return None

    def _register(self, event_set: Any) -> dict[object, str]:
        """Register each GPU; those that refuse are skipped and remembered."""
        nv = self._nvml
        watched: dict[object, str] = {}
        for handle, key in self._devices:
            if self._stop.is_set():
                return {}
            try:
                nv.nvmlDeviceRegisterEvents(handle, pynvml.nvmlEventTypeXidCriticalError, event_set)
            except (nv.NVMLError, AttributeError, TypeError) as exc:
                self.skipped[key] = _reason(exc)
                continue
            watched[_handle_key(handle)] = key
        if not watched:
            why = next(iter(self.skipped.values()), "no GPU to watch")
            self._set("unsupported", f"{UNSUPPORTED}: {why}")
            return {}
        skipped = "; ".join(f"{key}: {why}" for key, why in self.skipped.items())
        self._set("ok", f"not watched: {skipped}" if skipped else None)
        return watched

    def _wait_loop(self, event_set: Any, watched: dict[object, str]) -> None:
        nv = self._nvml
        errors = 0
        only = next(iter(watched.values())) if len(watched) == 1 else None
        while not self._stop.is_set():
            try:
                data = nv.nvmlEventSetWait_v2(event_set, self._wait_ms)
            except nv.NVMLError as exc:
                if getattr(exc, "value", None) == pynvml.NVML_ERROR_TIMEOUT:
                    errors = 0
                    continue
                errors += 1
                if self._failed(errors, exc):
                    return
                continue
            except (AttributeError, TypeError, OSError) as exc:
                errors += 1
                if self._failed(errors, exc):
                    return
                continue
            errors = 0
            if int(getattr(data, "eventType", 0) or 0) & pynvml.nvmlEventTypeXidCriticalError:
                gpu = watched.get(_handle_key(getattr(data, "device", None))) or only or "unknown"
                code = int(getattr(data, "eventData", 0) or 0)
                self._buffer.put(XidEvent(gpu, code, self._wall()))

    def _failed(self, errors: int, exc: BaseException) -> bool:
        """Whether the wait has failed often enough in a row to give up (then say so)."""
        if errors >= self._max_errors:
            self._set(
                "failed", f"the XID event wait failed {errors} times in a row: {_reason(exc)}"
            )
            return True
        self._stop.wait(self._retry_s)
        return False

    def _set(self, state: XidState, reason: str | None) -> None:
        self.status = XidStatus(state, reason)
        if state in ("unsupported", "failed") and reason:
            self._problems.warning(state, "XID events: %s", reason)
