"""The NVML stand-in's event API and max clocks behave as the binding does (errors included)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pynvml
import pytest

from gpulens.testing.nvml import RecordedNvml
from tests.conftest import Capture


@pytest.fixture
def nv(h200_loaded: Capture) -> RecordedNvml:
    stand_in = RecordedNvml.from_dump(h200_loaded.json("nvml-dump.json"))
    stand_in.nvmlInit()
    return stand_in


def _code(call: Callable[[], Any]) -> int:
    with pytest.raises(pynvml.NVMLError) as raised:
        call()
    value: int = raised.value.value
    return value


def test_max_clocks_come_from_the_dump(nv: RecordedNvml) -> None:
    assert nv.nvmlDeviceGetMaxClockInfo(0, pynvml.NVML_CLOCK_SM) == 1980
    assert nv.nvmlDeviceGetMaxClockInfo(0, pynvml.NVML_CLOCK_MEM) == 3201


def test_a_wait_without_events_times_out_as_nvml_does(nv: RecordedNvml) -> None:
    event_set = nv.nvmlEventSetCreate()
    nv.nvmlDeviceRegisterEvents(0, pynvml.nvmlEventTypeXidCriticalError, event_set)
    began = time.monotonic()
    assert _code(lambda: nv.nvmlEventSetWait_v2(event_set, 30)) == pynvml.NVML_ERROR_TIMEOUT
    assert time.monotonic() - began >= 0.025


def test_a_queued_xid_wakes_a_waiting_wait(nv: RecordedNvml) -> None:
    event_set = nv.nvmlEventSetCreate()
    nv.nvmlDeviceRegisterEvents(0, pynvml.nvmlEventTypeXidCriticalError, event_set)
    threading.Timer(0.05, nv.queue_xid, (0, 79)).start()
    began = time.monotonic()
    data = nv.nvmlEventSetWait_v2(event_set, 5000)
    assert time.monotonic() - began < 2.0
    assert (data.device, data.eventType, data.eventData) == (
        0,
        pynvml.nvmlEventTypeXidCriticalError,
        79,
    )


def test_xids_of_an_unregistered_gpu_are_not_delivered(nv: RecordedNvml) -> None:
    event_set = nv.nvmlEventSetCreate()
    nv.queue_xid(0, 79)
    assert _code(lambda: nv.nvmlEventSetWait_v2(event_set, 10)) == pynvml.NVML_ERROR_TIMEOUT


@pytest.mark.parametrize(
    ("error", "code"),
    [
        ("NVMLError_NoPermission", pynvml.NVML_ERROR_NO_PERMISSION),
        ("NVMLError_NotSupported", pynvml.NVML_ERROR_NOT_SUPPORTED),
    ],
)
def test_registration_can_be_refused(nv: RecordedNvml, error: str, code: int) -> None:
    nv.fail_registration(0, error)
    event_set = nv.nvmlEventSetCreate()
    refused = _code(
        lambda: nv.nvmlDeviceRegisterEvents(0, pynvml.nvmlEventTypeXidCriticalError, event_set)
    )
    assert refused == code
    assert event_set.registered == []


def test_the_wait_can_be_made_to_fail_and_recover(nv: RecordedNvml) -> None:
    event_set = nv.nvmlEventSetCreate()
    nv.nvmlDeviceRegisterEvents(0, pynvml.nvmlEventTypeXidCriticalError, event_set)
    nv.fail_wait("NVMLError_Unknown")
    assert _code(lambda: nv.nvmlEventSetWait_v2(event_set, 1000)) == pynvml.NVML_ERROR_UNKNOWN
    nv.fail_wait(None)
    nv.queue_xid(0, 48)
    assert nv.nvmlEventSetWait_v2(event_set, 1000).eventData == 48


def test_events_after_shutdown_are_uninitialised(nv: RecordedNvml) -> None:
    event_set = nv.nvmlEventSetCreate()
    nv.nvmlShutdown()
    code = _code(lambda: nv.nvmlEventSetWait_v2(event_set, 10))
    assert code == pynvml.NVML_ERROR_UNINITIALIZED
    assert _code(nv.nvmlEventSetCreate) == pynvml.NVML_ERROR_UNINITIALIZED


def test_a_freed_set_is_marked(nv: RecordedNvml) -> None:
    event_set = nv.nvmlEventSetCreate()
    nv.nvmlEventSetFree(event_set)
    assert event_set.freed
    assert nv.event_sets == [event_set]
