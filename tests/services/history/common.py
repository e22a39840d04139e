"""What the history tests share: a recorder driven by hand on a real file, samples, and the
store read back entry by entry."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from gpulens.core.metrics.schema import GpuInfo, SystemInfo
from gpulens.services.history import store
from gpulens.services.history.metrics import GPU_METRICS, HOST_KEY, HOST_METRICS
from gpulens.services.history.recorder import HistoryRecorder
from gpulens.services.history.rollup import Block
from gpulens.services.history.store import TIERS
from tests.fakes import FakeClock, FakeSystem, gpu

T0 = 216_000 * 8_000  # 2024-10-09T00:00:00Z: a boundary of every tier's blocks and buckets
MAX_BYTES = 64 * 1024 * 1024
Entries = dict[int, list[int | None]]  # absolute ms -> the stored row


def make(
    path: Path, *, max_bytes: int = MAX_BYTES, now: float = T0 + 86_400
) -> tuple[HistoryRecorder, FakeClock]:
    """A recorder on ``path`` whose monotonic clock the test moves and whose wall clock
    (for retention) says ``now``. Not started: the test drives ``_open``, ``record``,
    ``step``, ``_flush`` and ``_maintain`` itself."""
    monotonic = FakeClock(1000.0)
    rec = HistoryRecorder(path, max_bytes=max_bytes, clock=lambda: now, monotonic=monotonic)
    return rec, monotonic


def close(rec: HistoryRecorder) -> None:
    """End the recorder as a killed process would: whatever was not flushed is lost."""
    if rec._conn is not None:
        rec._conn.close()
        rec._conn = None


def gpus(i: int, count: int = 2) -> list[GpuInfo]:
    return [gpu(g, util=(i * 7 + g * 13) % 100) for g in range(count)]


def system() -> SystemInfo:
    return FakeSystem().sample()


def record(rec: HistoryRecorder, times: Iterable[float], count: int = 2) -> None:
    """Queue a sample at each time; every 1000 the writer takes them, as its thread would
    long before the queue (an hour of samples) fills."""
    for n, when in enumerate(times, 1):
        rec.record(when, gpus(int(when), count), system())
        if n % 1000 == 0:
            rec._drain()


def entries(path: Path, key: str, tier: int = 0) -> Entries:
    """Every stored entry of ``key`` in ``tier``; an entry stored twice fails the test."""
    conn = sqlite3.connect(path)
    try:
        sid = store.series_ids(conn)[key]
        width = len(HOST_METRICS if key == HOST_KEY else GPU_METRICS)
        found: Entries = {}
        rows = conn.execute(
            "SELECT series, tier, start, stop, entries, data FROM blocks"
            " WHERE series = ? AND tier = ? ORDER BY start",
            (sid, tier),
        )
        for row in rows:
            block = Block.from_row(TIERS[tier], store.BlockRow(*row), width)
            assert block.times == sorted(block.times), "a block's entries out of order"
            for offset, entry in zip(block.times, block.rows, strict=True):
                at = block.start * 1000 + offset
                assert at not in found, f"an entry stored twice at {at}"
                found[at] = entry
        return found
    finally:
        conn.close()


def times(path: Path, key: str = "GPU-00000000") -> list[float]:
    """The raw samples' times (Unix seconds) stored for ``key``."""
    return [at / 1000 for at in sorted(entries(path, key))]
