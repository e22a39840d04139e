"""Host metrics through psutil."""

from __future__ import annotations

import os

import psutil
import pytest

from gpulens.core.metrics.system import SystemCollector


def test_values_are_in_range() -> None:
    collector = SystemCollector()
    for _ in range(2):  # the first CPU reading is primed in the constructor
        info = collector.sample()
        assert 0.0 <= info.cpu_usage <= 100.0
        assert 0.0 < info.memory_usage <= 100.0
        assert 0.0 <= info.disk_utilization <= 100.0
        assert len(info.load_average) == 3
        assert all(value >= 0.0 for value in info.load_average)
        assert info.uptime >= 0
        assert info.cpu_count == psutil.cpu_count()
        assert info.memory_total is not None
        assert info.memory_used is not None
        assert 0 < info.memory_used <= info.memory_total
        assert info.memory_total == psutil.virtual_memory().total // (1024 * 1024)


def test_load_average_is_the_three_os_values_rounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "getloadavg", lambda: (1.234, 0.9, 0.7049))
    info = SystemCollector().sample()
    assert info.load_average == (1.23, 0.9, 0.7)
    assert SystemCollector().sample().model_dump(by_alias=True)["loadAverage"] == (1.23, 0.9, 0.7)


def test_uptime_uses_the_injected_clock() -> None:
    boot = psutil.boot_time()
    info = SystemCollector(clock=lambda: boot + 86400.9).sample()
    assert info.uptime == 86400
    assert SystemCollector(clock=lambda: boot - 5).sample().uptime == 0  # never negative


def test_wire_names() -> None:
    wire = SystemCollector().sample().model_dump(by_alias=True)
    assert {"cpuUsage", "memoryUsage", "loadAverage", "uptime", "diskUtilization"} <= set(wire)


def test_disk_unreadable_later_keeps_the_last_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    collector = SystemCollector("/")
    before = collector.sample().disk_utilization

    def gone(path: str) -> object:
        raise OSError(2, "No such file or directory")

    monkeypatch.setattr(psutil, "disk_usage", gone)
    assert collector.sample().disk_utilization == before
