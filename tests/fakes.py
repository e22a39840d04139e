"""Test doubles shared by the service, API and integration tests, and the app built on them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from gpulens.api.app import create_app
from gpulens.config import Settings
from gpulens.core.metrics.providers import Selection
from gpulens.core.metrics.providers.base import ProviderError
from gpulens.core.metrics.schema import GpuInfo, ProcessInfo, SystemInfo


def gpu(index: int, util: int = 50, uuid: str | None = None, **extra: object) -> GpuInfo:
    return GpuInfo.model_validate(
        {
            "id": index,
            "name": "NVIDIA H200",
            "uuid": uuid if uuid is not None else f"GPU-{index:08d}",
            "utilization": util,
            "memoryUsed": 1000 + index,
            "memoryTotal": 143771,
            "temperature": 50,
            "powerUsage": 300.0,
            "powerLimit": 700.0,
            "processes": [ProcessInfo(pid=100 + index, name="python3", used_memory_mib=900)],
            **extra,
        }
    )


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeSystem:
    def sample(self) -> SystemInfo:
        return SystemInfo(
            cpu_usage=10.0, memory_usage=20.0, load_average=(0.1, 0.2, 0.3), uptime=100,
            disk_utilization=30.0,
        )  # fmt: skip


class FakeProvider:
    """Returns ``script(n)`` for the n-th call: a GPU list, or an exception to raise."""

    def __init__(self, script: Callable[[int], list[GpuInfo] | BaseException], name: str = "nvml"):
        self.name = name
        self.script = script
        self.calls = 0
        self.closed = False
        self.release = threading.Event()

    def sample(self) -> list[GpuInfo]:
        n = self.calls
        self.calls += 1
        result = self.script(n)
        if isinstance(result, BaseException):
            raise result
        return result

    def close(self) -> None:
        self.closed = True
        self.release.set()


def steady(count: int = 2) -> FakeProvider:
    """GPUs whose utilization changes every call (so no sample is de-duplicated)."""
    return FakeProvider(lambda n: [gpu(i, util=(n * 7 + i * 13) % 100) for i in range(count)])


def hanging(after: int = 1) -> FakeProvider:
    """Answers ``after`` times, then blocks until closed (a hung driver call)."""

    def script(n: int) -> list[GpuInfo] | BaseException:
        if n >= after:
            provider.release.wait(30)
            return ProviderError("released")
        return [gpu(0, util=n % 100), gpu(1, util=(n + 5) % 100)]

    provider = FakeProvider(script)
    return provider


def selection(
    provider: FakeProvider | None, unavailable: dict[str, str] | None = None
) -> Selection:
    return Selection(provider, unavailable or {})


HOST = "testserver"  # the Host header TestClient sends


def make_client(**kw: Any) -> TestClient:
    """The app on two steady fake GPUs, in-process; ``kw`` overrides its settings."""
    base: dict[str, Any] = {"allowed_hosts": [HOST], "ws_backlog": 10, "poll_interval_ms": 250}
    base.update(kw)
    settings = Settings(**base)
    app = create_app(settings, selection=selection(steady(2)), system=FakeSystem())
    return TestClient(app)
