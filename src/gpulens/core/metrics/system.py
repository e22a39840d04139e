"""Host metrics through psutil: CPU, memory, load, uptime, disk."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from typing import Protocol

import psutil

from gpulens.core.metrics.schema import SystemInfo
from gpulens.core.metrics.units import MIB


class SystemSource(Protocol):
    """Where host metrics come from: ``SystemCollector``, or a stand-in in tests and benchmarks."""

    def sample(self) -> SystemInfo: ...


class SystemCollector:
    """Non-blocking reads: CPU usage is measured between two calls, not by sleeping."""

    def __init__(self, disk_path: str = "/", clock: Callable[[], float] = time.time) -> None:
        self._disk_path = disk_path
        self._clock = clock
        self._boot = psutil.boot_time()
        self._cpu_count = psutil.cpu_count() or None
        self._disk = psutil.disk_usage(disk_path).percent  # DISK_PATH is checked at start-up
        psutil.cpu_percent(interval=None)  # prime: the first reading is meaningless

    def sample(self) -> SystemInfo:
        memory = psutil.virtual_memory()
        # Unmounted since start-up: keep the last reading rather than invent a 0.
        with contextlib.suppress(OSError):
            self._disk = psutil.disk_usage(self._disk_path).percent
        disk = self._disk
        try:
            one, five, fifteen = os.getloadavg()
        except OSError:  # pragma: no cover - not on Linux
            one = five = fifteen = 0.0
        return SystemInfo(
            cpu_usage=round(min(max(psutil.cpu_percent(interval=None), 0.0), 100.0), 1),
            memory_usage=round(memory.percent, 1),
            load_average=(round(one, 2), round(five, 2), round(fifteen, 2)),
            uptime=max(int(self._clock() - self._boot), 0),
            disk_utilization=round(disk, 1),
            cpu_count=self._cpu_count,
            memory_used=int((memory.total - memory.available) / MIB),
            memory_total=int(memory.total / MIB),
        )
