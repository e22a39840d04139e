"""The history recorder: an observer of the stream that writes every sample to the store.

``observe`` runs on the event loop and only appends the sample to a bounded queue
(the oldest is dropped, and counted, if the writer ever falls that far behind).
A thread of its own does the rest: buckets (``rollup.py``), a commit every
``FLUSH_S`` seconds, and every ``MAINTAIN_S`` the retention by age and by size, in
small steps. Nothing here can block the sampler or a client.

What goes wrong is told, not fatal (``status``): a directory that cannot be
created or written, a full disk or a database locked by another process pause the
writing (the open blocks and up to ``PENDING_MAX`` finished ones wait in memory)
and it is retried every ``RETRY_S`` seconds; a damaged or foreign file is moved
aside and a new store started. Until the store has opened once, the samples wait
in the queue instead: each series must first read its last stored blocks, or it
would write over them.

Events (findings starting and ending, GPU and provider changes: ``Update.events``)
take the same road: queued by ``observe`` (bounded, the oldest dropped and
counted), kept by the writer until a commit takes them (a paused store keeps up
to ``PENDING_EVENTS_MAX``; an episode that starts and ends meanwhile is one
entry), written with the samples' commit (``events.py``). At its first commit the
writer ends the findings a previous run left open (``events.close_dangling``).
Process usage (``accounting.py``) is counted from every sample on this thread and
written with the same commit (``usage.py``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import shutil
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gpulens.core.metrics.schema import GpuInfo, SystemInfo, Telemetry
from gpulens.core.metrics.text import OnceLog, clean_reason
from gpulens.services.accounting import UsageDelta, UsageTracker
from gpulens.services.findings.model import Event
from gpulens.services.history import events as event_store
from gpulens.services.history import store, usage
from gpulens.services.history.metrics import (
    GPU_METRICS,
    HOST_KEY,
    HOST_METRICS,
    gpu_row,
    host_row,
)
from gpulens.services.history.rollup import Block, OutOfOrder, Row, Series
from gpulens.services.history.store import TIERS
from gpulens.services.stream import Update

log = logging.getLogger("gpulens.history")
_tracker_errors = OnceLog(log)

FLUSH_S = 5.0  # a process killed loses at most this much of the raw tier
# Usage is handed over less often: each hand-over builds one record per active session
# (~4 ms for 512), so every 30 s it costs ~0.15 ms a sample at 1 Hz instead of ~0.8;
# a process killed loses at most this much of the accounting.
USAGE_FLUSH_S = 30.0
MAINTAIN_S = 60.0
RETRY_S = 30.0
QUEUE_MAX = 3_600  # samples waiting for the writer (an hour at 1 Hz)
PENDING_MAX = 20_000  # finished blocks waiting for a store that cannot be written
EVENTS_QUEUE_MAX = 10_000  # events waiting for the writer
PENDING_EVENTS_MAX = 10_000  # events (one per id) waiting for a store that cannot be written
PENDING_USAGE_MAX = 50_000  # usage (one per session and hour) waiting for such a store
USAGE_GAP_S = 3.0  # the longest interval accounting counts: 3 polls at the default 1 s

State = Literal["off", "starting", "ok", "paused"]
Sample = tuple[float, list[GpuInfo], SystemInfo | None]  # when (Unix s), GPUs, host


@dataclass(frozen=True, slots=True)
class HistoryStatus:
    state: State
    path: str | None
    reason: str | None = None
    bytes: int | None = None


@dataclass(frozen=True, slots=True)
class Pending:
    """A finished block, encoded, waiting to be written."""

    key: str
    tier: int
    start: int
    stop: int
    entries: int
    data: bytes


@dataclass(slots=True)
class RecorderStats:
    samples: int = 0
    dropped: int = 0  # the queue was full
    out_of_order: int = 0  # not after the previous sample (clock went back)
    commits: int = 0
    pending_dropped: int = 0
    events: int = 0  # events taken by the writer
    events_dropped: int = 0  # the event queue, or the events waiting for the store, was full
    dangling_closed: int = 0  # findings a previous run left open, ended at start
    usage_dropped: int = 0  # session-hours of usage that waited too long for the store
    tracker_errors: int = 0  # samples accounting failed on (logged once per kind)


class HistoryRecorder:
    """Observer (``create_app``): the history of every sample, written on its own thread."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int,
        throwaway: bool = False,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        usage_gap_s: float = USAGE_GAP_S,
    ) -> None:
        self.path = path
        self.tracker = UsageTracker(usage_gap_s)  # used by the writer thread only
        self._last_usage = 0.0
        self._usage_pending: dict[tuple[str, int, float, int], UsageDelta] = {}
        self.max_bytes = max_bytes
        self.throwaway = throwaway  # a temporary directory of its own, removed at stop
        self.clock = clock
        self.monotonic = monotonic
        self.stats = RecorderStats()
        self._queue: deque[Sample] = deque(maxlen=QUEUE_MAX)
        self._events: deque[Event] = deque(maxlen=EVENTS_QUEUE_MAX)
        self._pending_events: dict[str, Event] = {}  # by id, oldest first
        self._dangling_done = False  # the previous run's open findings have been ended
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._retry_at = 0.0
        self._status = HistoryStatus("starting", str(path))
        self._series: dict[str, Series] = {}
        self._names: dict[str, tuple[str | None, int | None, float]] = {}
        self._pending: deque[Pending] = deque()
        self._clock_back_logged = False
        self._opened = False  # the store has been opened once (the series read from it)
        self._last_flush = 0.0
        self._last_maintain = 0.0
        self.flushed = threading.Event()  # set after each flush attempt (for tests and bench)

    # --- the event loop's side ------------------------------------------------------

    def observe(self, update: Update) -> None:
        """Every sample, repeated ones included (a steady GPU still has a history)."""
        payload: Telemetry = update.sample.payload
        self.record_events(update.events)
        self.record(payload.timestamp.timestamp(), payload.gpus, payload.system)

    def record(self, when: float, gpus: list[GpuInfo], system: SystemInfo | None) -> None:
        """Queue one sample taken at ``when`` (Unix seconds); never blocks."""
        if len(self._queue) == self._queue.maxlen:
            self.stats.dropped += 1
        self._queue.append((when, gpus, system))
        self._wake.set()

    def record_events(self, events: Iterable[Event]) -> None:
        """Queue events (a finding's start or end, a change); never blocks."""
        queued = False
        for event in events:
            if len(self._events) == self._events.maxlen:
                self.stats.events_dropped += 1
            self._events.append(event)
            queued = True
        if queued:
            self._wake.set()

    def status(self) -> HistoryStatus:
        return self._status

    def start(self, prefill: Iterable[Sample] = (), prefill_events: Iterable[Event] = ()) -> None:
        """Start the writer thread; it first writes ``prefill_events`` and ``prefill``
        (older events and samples, in order: the replay demo's past), then what
        ``record`` and ``record_events`` queue."""
        self._thread = threading.Thread(
            target=self._run, args=(prefill, prefill_events), name="history", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is left and close the store."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    # --- the writer thread ------------------------------------------------------------

    def _run(self, prefill: Iterable[Sample] = (), prefill_events: Iterable[Event] = ()) -> None:
        self._open()
        for count, event in enumerate(prefill_events, 1):
            if self._stop.is_set():
                break
            self._take_event(event)
            if count % 1000 == 0:
                self._flush()
        for count, sample in enumerate(prefill, 1):
            if self._stop.is_set():
                break
            self._ingest(*sample)
            if count % 3600 == 0:
                self._flush()
        while not self._stop.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            self.step()
        self._drain()
        self._flush()
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._conn.close()
            self._conn = None
        if self.throwaway:
            shutil.rmtree(self.path.parent, ignore_errors=True)

    def step(self) -> None:
        """One turn of the writer: take the queued samples, flush and maintain when due."""
        now = self.monotonic()
        if self._conn is None and now >= self._retry_at:
            self._open()
        self._drain()
        if now - self._last_flush >= FLUSH_S:
            self._flush(with_usage=now - self._last_usage >= USAGE_FLUSH_S)
        if self._conn is not None and now - self._last_maintain >= MAINTAIN_S:
            self._maintain()

    def _drain(self) -> None:
        while self._events:
            self._take_event(self._events.popleft())
        if not self._opened:
            return  # a series must continue its stored blocks, not overwrite them
        while self._queue:
            self._ingest(*self._queue.popleft())

    def _take_event(self, event: Event) -> None:
        """Keep an event until a commit writes it; a later record of the same id (its
        end) replaces the earlier one."""
        self.stats.events += 1
        pending = self._pending_events
        if event.id in pending:
            pending[event.id] = event
            return
        if len(pending) >= PENDING_EVENTS_MAX:
            del pending[next(iter(pending))]
            self.stats.events_dropped += 1
        pending[event.id] = event

    def _ingest(self, when: float, gpus: list[GpuInfo], system: SystemInfo | None) -> None:
        self.stats.samples += 1
        try:
            self.tracker.add(when, gpus)
        except Exception as exc:  # accounting is an extra: it must not stop the history
            self.stats.tracker_errors += 1
            _tracker_errors.warning(
                type(exc).__name__, "history: accounting failed on a sample: %r", exc
            )
        taken = True
        for gpu in gpus:
            row = gpu_row(gpu)
            if row is not None:
                taken &= self._add(gpu.key, len(GPU_METRICS), when, row, gpu.name, gpu.id)
        if system is not None:
            taken &= self._add(HOST_KEY, len(HOST_METRICS), when, host_row(system), None, None)
        if not taken:
            self.stats.out_of_order += 1  # once per sample, like the other counts

    def _add(
        self, key: str, width: int, when: float, row: Row, name: str | None, index: int | None
    ) -> bool:
        """Take one series' reading; False if it is not after the series' last one."""
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = Series(0, width)
            self._resume(key, series)
        try:
            finished = series.add(when, row)
        except OutOfOrder:
            if not self._clock_back_logged:
                self._clock_back_logged = True
                log.warning(
                    "history: a sample at %.3f is not after the last one (%.3f): the clock "
                    "went back; history resumes when it passes that time",
                    when, series.last_time or 0.0,
                )  # fmt: skip
            return False
        self._clock_back_logged = False
        self._names[key] = (name, index, when)
        for block in finished:
            self._finish(key, block)
        return True

    def _finish(self, key: str, block: Block) -> None:
        row = block.to_row(0)
        if len(self._pending) >= PENDING_MAX:
            self._pending.popleft()
            self.stats.pending_dropped += 1
        self._pending.append(Pending(key, row.tier, row.start, row.stop, row.entries, row.data))

    def _resume(self, key: str, series: Series) -> None:
        """Continue the blocks this key left in the store (a restart within a block)."""
        if self._conn is None:
            return
        try:
            sid = store.series_ids(self._conn).get(key)
            if sid is None:
                return
            stored: list[Block | None] = []
            for tier in TIERS:
                last = store.last_block(self._conn, sid, tier.id)
                stored.append(
                    Block.from_row(tier, last, series.width) if last is not None else None
                )
            series.resume(stored)
        except (sqlite3.Error, ValueError) as exc:
            log.warning("history: could not continue %s's last blocks: %s", key, exc)

    def _open(self) -> None:
        self._retry_at = self.monotonic() + RETRY_S
        try:
            self._conn = store.open_store(self.path)
        except (OSError, sqlite3.Error, store.StoreUnusable) as exc:
            self._pause(f"cannot open the store: {_why(exc)}")  # the path: in the log only
            return
        self._opened = True
        self._status = HistoryStatus("ok", str(self.path), bytes=self._size())
        log.info("history: writing to %s", self.path)

    def _pause(self, reason: str) -> None:
        if self._status.state != "paused" or self._status.reason != reason:
            log.warning(
                "history: paused (%s), %s; retrying every %.0f s", self.path, reason, RETRY_S
            )
        self._status = HistoryStatus("paused", str(self.path), clean_reason(reason))

    def _flush(self, with_usage: bool = True) -> None:
        """Commit what waits: blocks, events and (``with_usage``) the accounting."""
        self._last_flush = self.monotonic()
        conn = self._conn
        if conn is None:
            self.flushed.set()
            return
        written: list[Block] = []
        events = list(self._pending_events.values())
        if with_usage:
            self._last_usage = self._last_flush
        deltas = self._take_usage() if with_usage else list(self._usage_pending.values())
        closed = 0
        try:
            conn.execute("BEGIN IMMEDIATE")
            if not self._dangling_done:  # before this run's own events and samples
                closed = event_store.close_dangling(conn, event_store.last_known(conn))
            event_store.write(conn, events)
            usage.write(conn, deltas)
            ids = store.series_ids(conn)
            for key, (name, index, seen) in self._names.items():
                if key not in ids:
                    ids[key] = store.add_series(conn, key, name, index, seen)
            named = self._names.items()
            store.touch_series(conn, [(ids[k], nm, index, seen) for k, (nm, index, seen) in named])
            rows = [
                store.BlockRow(ids[p.key], p.tier, p.start, p.stop, p.entries, p.data)
                for p in self._pending
                if p.key in ids
            ]
            for key, series in self._series.items():
                for block in series.dirty():
                    rows.append(block.to_row(ids[key], final=False))
                    written.append(block)
            store.put_blocks(conn, rows)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            self._write_failed(exc)
        else:
            self.stats.commits += 1
            self._pending.clear()
            self._pending_events.clear()  # (only this thread adds to it)
            self._usage_pending.clear()
            if not self._dangling_done:
                self._dangling_done = True
                self.stats.dangling_closed = closed
            for block in written:
                block.dirty = False
            if self._status.state != "ok":
                log.info("history: writing again to %s", self.path)
            self._status = HistoryStatus("ok", str(self.path), bytes=self._size())
        finally:
            self.flushed.set()

    def _take_usage(self) -> list[UsageDelta]:
        """The usage counted since the last commit: what a failed one left, merged with
        what the tracker has now (one entry per session and hour, however long the store
        stays unwritable; past ``PENDING_USAGE_MAX`` the oldest hours are dropped)."""
        pending = self._usage_pending
        for delta in self.tracker.take():
            key = (delta.gpu, delta.pid, delta.started, delta.hour)
            before = pending.get(key)
            pending[key] = delta if before is None else _merge(before, delta)
        if len(pending) > PENDING_USAGE_MAX:
            oldest = sorted(pending, key=lambda k: k[3])[: len(pending) - PENDING_USAGE_MAX]
            for key in oldest:
                del pending[key]
            self.stats.usage_dropped += len(oldest)
        return list(pending.values())

    def _write_failed(self, exc: sqlite3.Error) -> None:
        if store.is_content_error(exc):
            self._replace(str(exc))
            return
        self._pause(_why(exc))
        self._retry_at = self.monotonic() + RETRY_S

    def _replace(self, reason: str) -> None:
        """The file turned out damaged: move it aside, start again with what is in memory."""
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        with contextlib.suppress(OSError):
            store.move_aside(self.path, reason)
        self._open()

    def _maintain(self) -> None:
        """Retention by age, then by size; each in small steps (the next turn goes on)."""
        self._last_maintain = self.monotonic()
        conn = self._conn
        if conn is None:
            return
        try:
            store.expire(conn, self.clock())
            for _ in range(16):
                if store.used_bytes(conn) <= self.max_bytes:
                    break
                if not store.drop_oldest(conn):
                    break
            store.release_pages(conn)
        except sqlite3.Error as exc:
            self._write_failed(exc)

    def _size(self) -> int | None:
        if self._conn is None:
            return None
        try:
            return store.used_bytes(self._conn)
        except sqlite3.Error:
            return None


def _merge(a: UsageDelta, b: UsageDelta) -> UsageDelta:
    """Two deltas of one session and hour as one (``b`` the later)."""
    return dataclasses.replace(
        b,
        first_seen=min(a.first_seen, b.first_seen),
        last_seen=max(a.last_seen, b.last_seen),
        held_s=a.held_s + b.held_s,
        gpu_s=a.gpu_s + b.gpu_s,
        mib_s=a.mib_s + b.mib_s,
        sm_s=a.sm_s + b.sm_s,
        sm_known_s=a.sm_known_s + b.sm_known_s,
        peak_mib=max(a.peak_mib, b.peak_mib),
    )


def _why(exc: BaseException) -> str:
    text: str = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return clean_reason(text or type(exc).__name__)
