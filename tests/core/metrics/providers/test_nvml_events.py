"""XID errors through NVML's event API: the watcher thread of the NVML provider, and its faults.

The stand-in NVML answers from the real H200 dump; XIDs, refused registrations
and failing waits are scripted on it. In every fault the GPUs are still read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pynvml
import pytest

from gpulens.core.metrics.providers.base import EventSource, ProviderError, XidEvent, XidStatus
from gpulens.core.metrics.providers.nvml import BACKOFF_INITIAL_S, NvmlProvider
from gpulens.core.metrics.providers.nvml_events import (
    MAX_WAIT_ERRORS,
    UNSUPPORTED,
    XidBuffer,
    XidWatcher,
)
from gpulens.testing.nvml import RecordedNvml
from tests.fakes import FakeClock

from ..conftest import H200_UUID, SECOND_UUID, FakeResolver

MakeNvml = Callable[..., RecordedNvml]
SECOND = f"{SECOND_UUID[:-1]}1"  # the copy's UUID (make_nvml)
WAIT_MS = 20  # the tests' wait period: the real one is 1000 ms


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.002)


def xid_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "gpulens-xid" and t.is_alive()]


@pytest.fixture
def providers() -> Iterator[list[NvmlProvider]]:
    """Providers made by a test, closed after it (no watcher thread outlives a test)."""
    made: list[NvmlProvider] = []
    yield made
    for provider in made:
        provider.close()


@pytest.fixture
def open_provider(providers: list[NvmlProvider]) -> Callable[..., NvmlProvider]:
    def build(nv: RecordedNvml, clock: FakeClock | None = None, **kwargs: Any) -> NvmlProvider:
        kwargs.setdefault("xid_events", True)
        kwargs.setdefault("xid_wait_ms", WAIT_MS)
        provider = NvmlProvider(nv, resolver=FakeResolver(), clock=clock or FakeClock(), **kwargs)
        providers.append(provider)
        return provider

    return build


def drain_until(provider: NvmlProvider, count: int) -> list[XidEvent]:
    got: list[XidEvent] = []

    def enough() -> bool:
        got.extend(provider.drain_events())
        return len(got) >= count

    eventually(enough)
    return got


def status_becomes(provider: NvmlProvider, state: str) -> XidStatus:
    eventually(lambda: provider.events_status().state == state)
    return provider.events_status()


def test_xids_arrive_with_the_gpu_uuid_and_code(
    make_nvml: MakeNvml, open_provider: Callable[..., NvmlProvider]
) -> None:
    nv = make_nvml("loaded", gpus=2)
    provider = open_provider(nv)
    assert isinstance(provider, EventSource)
    assert status_becomes(provider, "ok") == XidStatus("ok", None)
    before = time.time()
    nv.queue_xid(0, 79)  # fallen off the bus
    nv.queue_xid(1, 48)  # double-bit ECC error
    nv.queue_xid(0, 13)
    events = drain_until(provider, 3)
    assert sorted((e.gpu, e.code) for e in events) == sorted(
        [(H200_UUID, 79), (SECOND, 48), (H200_UUID, 13)]
    )
    assert [e.code for e in events if e.gpu == H200_UUID] == [79, 13]  # in order per GPU
    assert all(before <= e.when <= time.time() for e in events)
    assert provider.drain_events() == []  # drained: each event is given once
    gpus = provider.sample()
    assert [g.status for g in gpus] == ["ok", "ok"]


def test_off_by_setting(make_nvml: MakeNvml, open_provider: Callable[..., NvmlProvider]) -> None:
    nv = make_nvml("loaded")
    provider = open_provider(nv, xid_events=False)
    assert provider.events_status().state == "off"
    nv.queue_xid(0, 79)
    assert provider.drain_events() == []
    assert nv.event_sets == []  # nothing registered, no thread
    assert xid_threads() == []
    assert provider.sample()[0].status == "ok"


@pytest.mark.parametrize(
    ("error", "said"),
    [("NVMLError_NotSupported", "Not Supported"), ("NVMLError_NoPermission", "Insufficient")],
)
def test_no_gpu_accepts_registration(
    make_nvml: MakeNvml,
    open_provider: Callable[..., NvmlProvider],
    caplog: pytest.LogCaptureFixture,
    error: str,
    said: str,
) -> None:
    caplog.set_level(logging.WARNING)
    nv = make_nvml("loaded", gpus=2)
    nv.fail_registration(0, error)
    nv.fail_registration(1, error)
    provider = open_provider(nv)
    status = status_becomes(provider, "unsupported")
    assert status.reason is not None
    assert status.reason.startswith(f"{UNSUPPORTED}: {said}")
    eventually(lambda: xid_threads() == [])  # the thread ended
    assert nv.event_sets[0].freed
    # The GPUs are still read, and the reason is logged once, not once per sample.
    for _ in range(3):
        assert [g.status for g in provider.sample()] == ["ok", "ok"]
    logged = [r.getMessage() for r in caplog.records if "XID" in r.getMessage()]
    assert len(logged) == 1
    assert said in logged[0]


def test_one_gpu_refuses_the_other_is_watched(
    make_nvml: MakeNvml, open_provider: Callable[..., NvmlProvider]
) -> None:
    nv = make_nvml("loaded", gpus=2)
    nv.fail_registration(0, "NVMLError_NoPermission")
    provider = open_provider(nv)
    status = status_becomes(provider, "ok")
    assert status.reason == f"not watched: {H200_UUID}: Insufficient Permissions"
    nv.queue_xid(0, 79)  # not registered: never seen
    nv.queue_xid(1, 31)
    [event] = drain_until(provider, 1)
    assert (event.gpu, event.code) == (SECOND, 31)


def test_event_set_cannot_be_created(
    make_nvml: MakeNvml, open_provider: Callable[..., NvmlProvider]
) -> None:
    nv = make_nvml("loaded")
    nv.system["nvmlEventSetCreate"] = {"error": "NVMLError_NotSupported"}
    provider = open_provider(nv)
    status = status_becomes(provider, "unsupported")
    assert status.reason == f"{UNSUPPORTED}: Not Supported"
    assert provider.sample()[0].status == "ok"


def test_a_binding_without_the_event_api(
    make_nvml: MakeNvml, open_provider: Callable[..., NvmlProvider]
) -> None:
    nv = make_nvml("loaded")
    nv.nvmlEventSetCreate = None  # type: ignore[assignment,method-assign]  # not callable
    provider = open_provider(nv)
    assert status_becomes(provider, "unsupported").reason is not None
    assert provider.sample()[0].status == "ok"


def test_the_wait_failing_ends_the_thread_and_says_so(
    make_nvml: MakeNvml, open_provider: Callable[..., NvmlProvider]
) -> None:
    nv = make_nvml("loaded")
    provider = open_provider(nv)
    status_becomes(provider, "ok")
    nv.fail_wait("NVMLError_Unknown")
    status = status_becomes(provider, "failed")
    assert status.reason == (
        f"the XID event wait failed {MAX_WAIT_ERRORS} times in a row: Unknown Error"
    )
    eventually(lambda: xid_threads() == [])
    assert nv.event_sets[0].freed
    waits = nv.waits
    time.sleep(5 * WAIT_MS / 1000)
    assert nv.waits == waits  # no retry loop left behind
    assert provider.sample()[0].status == "ok"
    assert provider.drain_events() == []


def test_a_few_failed_waits_then_it_recovers(
    make_nvml: MakeNvml, open_provider: Callable[..., NvmlProvider]
) -> None:
    nv = make_nvml("loaded")
    provider = open_provider(nv)
    status_becomes(provider, "ok")
    start = nv.waits
    nv.fail_wait("NVMLError_Unknown")
    eventually(lambda: nv.waits >= start + 2)
    nv.fail_wait(None)
    nv.queue_xid(0, 94)
    [event] = drain_until(provider, 1)
    assert (event.gpu, event.code) == (H200_UUID, 94)
    assert provider.events_status() == XidStatus("ok", None)


def test_close_stops_the_thread_within_one_wait(
    make_nvml: MakeNvml, open_provider: Callable[..., NvmlProvider]
) -> None:
    nv = make_nvml("loaded")
    provider = open_provider(nv, xid_wait_ms=1000)  # the real wait period
    status_becomes(provider, "ok")
    eventually(lambda: nv.waits >= 1)  # blocked in a wait
    assert len(xid_threads()) == 1
    began = time.monotonic()
    provider.close()
    assert time.monotonic() - began < 2.0
    assert xid_threads() == []
    assert nv.event_sets[0].freed


def test_the_watcher_follows_nvml_going_and_coming_back(
    make_nvml: MakeNvml, open_provider: Callable[..., NvmlProvider]
) -> None:
    nv = make_nvml("loaded")
    clock = FakeClock()
    provider = open_provider(nv, clock=clock)
    status_becomes(provider, "ok")
    nv.fail_all = pynvml.NVML_ERROR_DRIVER_NOT_LOADED  # the driver is unloaded
    with pytest.raises(ProviderError):
        provider.sample()
    status = provider.events_status()
    assert status.state == "failed"
    assert status.reason is not None
    assert "NVML is not available" in status.reason
    nv.fail_all = None  # and loaded again
    clock.advance(BACKOFF_INITIAL_S + 0.1)
    assert provider.sample()[0].status == "ok"
    status_becomes(provider, "ok")
    eventually(lambda: len(xid_threads()) == 1)  # the old watcher is gone, one new one runs
    nv.queue_xid(0, 79)
    [event] = drain_until(provider, 1)
    assert (event.gpu, event.code) == (H200_UUID, 79)
    assert len(nv.event_sets) == 2
    assert nv.event_sets[0].freed


def test_events_wait_in_a_bounded_buffer_the_oldest_dropped() -> None:
    buffer = XidBuffer(size=3)
    for code in range(5):
        buffer.put(XidEvent(H200_UUID, code, 1.0))
    assert [e.code for e in buffer.drain()] == [2, 3, 4]
    assert buffer.dropped == 2
    assert buffer.drain() == []


def test_an_event_of_another_type_is_ignored(make_nvml: MakeNvml) -> None:
    class OtherEvents(RecordedNvml):
        def nvmlEventSetWait_v2(self, event_set: Any, timeout_ms: int) -> Any:
            data = super().nvmlEventSetWait_v2(event_set, timeout_ms)
            if data.eventData == 1:
                data.eventType = pynvml.nvmlEventTypeClock
            return data

    base = make_nvml("loaded")
    nv = OtherEvents(base.system, base.devices)
    nv.nvmlInit()
    buffer = XidBuffer()
    watcher = XidWatcher(nv, [(0, H200_UUID)], buffer, wait_ms=WAIT_MS)
    watcher.start()
    try:
        nv.queue_xid(0, 1)
        nv.queue_xid(0, 79)
        got: list[XidEvent] = []

        def seen() -> bool:
            got.extend(buffer.drain())
            return bool(got)

        eventually(seen)
        assert [e.code for e in got] == [79]
    finally:
        watcher.stop()
    assert not watcher.alive


def test_binding_handles_are_matched_by_address_not_identity() -> None:
    """The binding gives each event a new pointer object: the GPU is found by its address."""
    import ctypes

    first = ctypes.cast(0x1000, pynvml.c_nvmlDevice_t)
    second = ctypes.cast(0x2000, pynvml.c_nvmlDevice_t)
    queue = [(0x2000, 79), (0x1000, 48)]

    class Binding:
        NVMLError = pynvml.NVMLError

        def nvmlEventSetCreate(self) -> object:
            return object()

        def nvmlDeviceRegisterEvents(self, handle: Any, types: int, event_set: object) -> None:
            return None

        def nvmlEventSetWait_v2(self, event_set: object, timeout_ms: int) -> Any:
            if not queue:
                time.sleep(timeout_ms / 1000)
                raise pynvml.NVMLError(pynvml.NVML_ERROR_TIMEOUT)
            address, code = queue.pop(0)
            data = pynvml.c_nvmlEventData_t()
            data.device = ctypes.cast(address, pynvml.c_nvmlDevice_t)  # a new object
            data.eventType = pynvml.nvmlEventTypeXidCriticalError
            data.eventData = code
            return data

        def nvmlEventSetFree(self, event_set: object) -> None:
            return None

    buffer = XidBuffer()
    watcher = XidWatcher(Binding(), [(first, "GPU-a"), (second, "GPU-b")], buffer, wait_ms=WAIT_MS)
    watcher.start()
    got: list[XidEvent] = []

    def seen() -> bool:
        got.extend(buffer.drain())
        return len(got) >= 2

    try:
        eventually(seen)
    finally:
        watcher.stop()
    assert [(e.gpu, e.code) for e in got] == [("GPU-b", 79), ("GPU-a", 48)]
