"""Every finding through the whole service: the real app, served for real, reading the real
NVML provider over the stand-in NVML built from the H200 captures, with a real history file.

Six GPUs, each a copy of the loaded H200 (``tests/fixtures/h200-sxm-141gb/loaded``) with a
UUID and bus id of its own, read through ``NvmlProvider`` exactly as on the machine. The
test then changes the stand-in's readings as the faults would, and causes every finding:

* GPU 0, idleHolding: this test's own process (a real pid: its name and user are really
  resolved) holds the capture's 9194 MiB, then its SM share drops from 44 % to 0 %;
* GPU 1, unownedMemory: the memory used goes to the capture's 11904 MiB while the one listed
  process holds 2696 MiB (left active to the end);
* GPU 2, deadHolder: the driver lists a pid above Linux's PID_MAX_LIMIT, which no
  ``/proc/<pid>`` can ever have (the resolver knows nothing of it either);
* GPU 3, throttling and hot: hw_thermal_slowdown with the SM clock at 1410 of 1980 MHz, and
  87 °C (the GPU's own slowdown temperature, 89 °C, minus 2);
* GPU 4, eccErrors and xid: the volatile uncorrected ECC counter goes from 0 to 2, and the
  driver reports XID 48 (double-bit ECC error) through the stand-in's event API;
* GPU 5, gpuLost: every call on the device raises GPU_IS_LOST, then it answers again.

All but unownedMemory are then cleared (eccErrors and xid are pulses: they end on their
own). For each finding it checks, over HTTP as a client sees it: the ``event`` messages (its
start, and its end where cleared) and a ``findings`` message on a WebSocket client;
``/api/events`` (kind, severity, GPU, who, ``end``); ``gpulens_events_total`` (and
``gpulens_xid_errors_total``) in ``/metrics``; and the process sessions in
``/api/usage?by=session``, once the history writer has committed them (every 5 s).

Baseline: the capture was taken at the power cap (clock event reasons = sw_power_cap), which
is itself an info throttling finding, so the baseline has no clock event reason: every
finding seen here is one the test caused, and ``test_nothing_else_was_found`` says so.
Every wait polls with a deadline; nothing asserts on timing.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

import gpulens.services.findings.detector as detector_module
import gpulens.services.history.recorder as recorder_module
from gpulens.api.app import create_app
from gpulens.config import Settings
from gpulens.core.metrics.processes import PsutilResolver, sanitize_name
from gpulens.core.metrics.providers import Selection
from gpulens.core.metrics.providers.nvml import NvmlProvider
from gpulens.core.metrics.units import MIB
from gpulens.testing.nvml import Readings, RecordedNvml
from tests.conftest import H200
from tests.fakes import FakeSystem
from tests.live import serve_in_thread

pytestmark = pytest.mark.integration

T = TypeVar("T")

WAIT_S = 20.0  # the longest any one thing may take (the ECC counter is read every 5 s)
# Linux's PID_MAX_LIMIT is 2**22: /proc/sys/kernel/pid_max can be at most that, so no
# process can ever have this pid (and ``/proc/<pid>`` never exists).
DEAD_PID = 2**22 + 7
XID_CODE = 48  # double-bit ECC error: fatal, so critical
GPUS = 6
IDLE, UNOWNED, DEAD, HOT, ERRORS, LOST = range(GPUS)

COMPUTE = "nvmlDeviceGetComputeRunningProcesses"
PROCESS_SM = "nvmlDeviceGetProcessUtilization(0)"
MEMORY = "nvmlDeviceGetMemoryInfo_v2"
MEMORY_V1 = "nvmlDeviceGetMemoryInfo"
REASONS = "nvmlDeviceGetCurrentClocksEventReasons"
SM_CLOCK = "nvmlDeviceGetClockInfo(NVML_CLOCK_SM)"
TEMPERATURE = "nvmlDeviceGetTemperature(GPU)"
SLOWDOWN = "nvmlDeviceGetTemperatureThreshold(NVML_TEMPERATURE_THRESHOLD_SLOWDOWN)"
ECC = "nvmlDeviceGetTotalEccErrors(uncorrected,volatile)"
HW_THERMAL_SLOWDOWN = 0x40

# The loaded capture's two processes (query-compute-apps.csv) and their SM shares.
BIG_MIB, SMALL_MIB, BUSY_SM = 9194, 2696, 44
CAPTURE_USED_MIB = 11904  # the capture's memoryUsed (NVML v2): both processes + 14 MiB
SLACK_MIB = CAPTURE_USED_MIB - BIG_MIB - SMALL_MIB
DEAD_MIB = 512  # under IDLE_HOLDING_GIB: the dead holder is only a dead holder


@dataclass(frozen=True)
class Expected:
    kind: str
    gpu: int
    severity: str
    ends: bool  # cleared by the test (or a pulse that ends on its own)
    pid: int | None  # who: the process involved, if any


SELF = os.getpid()
EXPECTED = (
    Expected("idleHolding", IDLE, "warning", True, SELF),
    Expected("unownedMemory", UNOWNED, "warning", False, None),
    Expected("deadHolder", DEAD, "warning", True, DEAD_PID),
    Expected("throttling", HOT, "warning", True, None),
    Expected("hot", HOT, "warning", True, None),
    Expected("eccErrors", ERRORS, "critical", True, None),
    Expected("xid", ERRORS, "critical", True, None),
    Expected("gpuLost", LOST, "critical", True, None),
)
FINDING_KINDS = {e.kind for e in EXPECTED}


def until(what: str, check: Callable[[], T | None], wait: float = WAIT_S) -> T:
    """``check()`` once it is truthy; polled until ``wait`` seconds have passed."""
    deadline = time.monotonic() + wait
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {wait:g} s")
        time.sleep(0.05)


# -- the stand-in's GPUs -------------------------------------------------------------------


class Board:
    """One GPU of the stand-in: the loaded H200's readings, changed as a fault would.

    Each change puts a new entry in the readings (the stand-in caches its conversion of an
    entry by identity, so an entry is never edited in place)."""

    def __init__(self, nv: RecordedNvml, index: int) -> None:
        self.nv = nv
        self.index = index
        self.processes: list[tuple[int, int, int | None]] = []
        self.captured = copy.deepcopy(nv.devices[index])  # as read on the H200

    def put_back(self, key: str) -> None:
        self.readings[key] = copy.deepcopy(self.captured[key])

    @property
    def readings(self) -> Readings:
        return self.nv.devices[self.index]

    @property
    def uuid(self) -> str:
        return str(self.readings["nvmlDeviceGetUUID"]["value"])

    def set(self, key: str, value: Any) -> None:
        self.readings[key] = {"value": value}

    def run(self, *processes: tuple[int, int, int | None], used_mib: int | None = None) -> None:
        """List ``(pid, MiB, SM %)`` processes (SM None: not in NVML's SM samples); the
        memory used is theirs plus the capture's slack unless ``used_mib`` says otherwise."""
        self.processes = list(processes)
        self.set(COMPUTE, [{"pid": pid, "usedGpuMemory": mib * MIB} for pid, mib, _ in processes])
        stamp = 1795665692816564 + int(time.time() * 1e6) % 10**9
        self.set(
            PROCESS_SM,
            [
                {"pid": pid, "timeStamp": stamp, "smUtil": sm, "memUtil": 0, "encUtil": 0,
                 "decUtil": 0}
                for pid, _, sm in processes
                if sm is not None
            ],
        )  # fmt: skip
        used = used_mib if used_mib is not None else sum(m for _, m, _ in processes) + SLACK_MIB
        v2 = dict(self.readings[MEMORY]["value"])
        v2["used"] = used * MIB
        v2["free"] = v2["total"] - v2["reserved"] - v2["used"]
        self.set(MEMORY, v2)
        self.set(MEMORY_V1, {"total": v2["total"], "free": v2["free"], "used": v2["used"]})

    def lose(self) -> None:
        self.readings["lost"] = {"error": "NVMLError_GpuIsLost"}

    def restore(self) -> None:
        del self.readings["lost"]


def h200_nvml() -> RecordedNvml:
    """Six loaded H200s, each with its own UUID and bus id, at no clock event reason."""
    dump = json.loads((H200 / "loaded" / "nvml-dump.json").read_text())
    [loaded] = dump["devices"]
    devices = []
    for index in range(GPUS):
        readings = copy.deepcopy(loaded)
        uuid = str(loaded["nvmlDeviceGetUUID"]["value"])
        readings["nvmlDeviceGetUUID"] = {"value": f"{uuid[:-2]}{index:02x}"}
        pci = dict(loaded["nvmlDeviceGetPciInfo"]["value"])
        pci["busId"] = f"00000000:{0x10 + index:02X}:00.0"
        readings["nvmlDeviceGetPciInfo"] = {"value": pci}
        readings[REASONS] = {"value": 0}
        readings["nvmlDeviceGetCurrentClocksThrottleReasons"] = {"value": 0}
        devices.append(readings)
    system = copy.deepcopy(dump["system"])
    system["nvmlDeviceGetCount"] = {"value": GPUS}
    return RecordedNvml(system, devices)


# -- a WebSocket client that keeps everything it receives ------------------------------------


class Listener:
    """Receives on its own thread, so no frame waits on the test (nor is dropped for it)."""

    def __init__(self, address: str) -> None:
        self._open = contextlib.ExitStack()
        self.ws: ClientConnection = self._open.enter_context(
            connect(f"ws://{address}/ws/gpu", max_size=2**24)
        )
        self.messages: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                frame = self.ws.recv()
            except ConnectionClosed:
                return
            with self.lock:
                self.messages.append(json.loads(frame))

    def close(self) -> None:
        self._open.close()
        self.thread.join(10)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self.messages if m["type"] == kind]

    def telemetry(self) -> list[dict[str, Any]]:
        """Every telemetry frame, the hello's backfill first."""
        with self.lock:
            frames = [f for m in self.messages if m["type"] == "hello" for f in m["backfill"]]
            frames += [m for m in self.messages if m["type"] == "telemetry"]
        return frames

    def events(self) -> list[dict[str, Any]]:
        return [m["event"] for m in self.of_type("event")]

    def event(self, kind: str, uuid: str, ended: bool) -> dict[str, Any] | None:
        for e in self.events():
            if e["kind"] == kind and e["gpu"] == uuid and (e["end"] is not None) == ended:
                return e
        return None

    def wait_event(self, kind: str, uuid: str, ended: bool = False) -> dict[str, Any]:
        what = f"the {'end' if ended else 'start'} of {kind} on {uuid} on the WebSocket"
        return until(what, lambda: self.event(kind, uuid, ended))


# -- the scenario: one server, every finding -------------------------------------------------


@dataclass
class Run:
    address: str
    boards: list[Board]
    stream: Listener
    user: str | None  # this process's user, as the resolver names it

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"http://{self.address}{path}", params=params, timeout=10)
        assert response.status_code == 200, response.text
        return response.json() if "json" in response.headers["content-type"] else response.text

    def uuid(self, expected: Expected) -> str:
        return self.boards[expected.gpu].uuid


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    nv = h200_nvml()
    boards = [Board(nv, i) for i in range(GPUS)]
    for board in boards:  # everyone busy and accounted for: no finding
        board.run((SELF, SMALL_MIB, BUSY_SM))
    boards[IDLE].run((SELF, BIG_MIB, BUSY_SM))
    provider = NvmlProvider(
        nv, resolver=PsutilResolver(), gpus_dir=None, xid_events=True, xid_wait_ms=250
    )
    settings = Settings(
        telemetry_provider="nvml", poll_interval_ms=250, ws_backlog=10, ws_max_rate=50,
        ws_queue_size=1024, history_path=tmp_path_factory.mktemp("history") / "history.db",
        metrics_hostname="test-host", idle_holding_s=1, unowned_memory_s=1, dead_holder_s=1,
        throttling_s=1, finding_clear_s=1, findings=True, history=True, metrics_enabled=True,
        hide_users=False,
    )  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        # The stand-in's pids are this PID namespace's (this process, and one that cannot
        # exist): they are gpulens' to check in /proc even where the tests run in a container.
        mp.setattr(detector_module, "sees_host_pids", lambda: True)
        app = create_app(settings, selection=Selection(provider), system=FakeSystem())
    with pytest.MonkeyPatch.context() as mp, serve_in_thread(app) as address:
        # The accounting is handed to the store with every commit here, not every 30 s.
        mp.setattr(recorder_module, "USAGE_FLUSH_S", recorder_module.FLUSH_S)
        stream = Listener(address)
        try:
            user = sanitize_name(psutil.Process(SELF).username(), limit=32)
            yield scenario(Run(address, boards, stream, user))
        finally:
            stream.close()


def scenario(run: Run) -> Run:
    boards, stream = run.boards, run.stream
    until(
        "telemetry with the six GPUs",
        lambda: any(len(m["gpus"]) == GPUS for m in stream.telemetry()),
    )
    # GPU 5 falls off the bus, and comes back as soon as that was reported (before the
    # provider re-initialises NVML to look for it, which would take it longer to return).
    lost = boards[LOST]
    lost.lose()
    stream.wait_event("gpuLost", lost.uuid)
    lost.restore()

    # Everything else at once, each on its GPU.
    boards[IDLE].run((SELF, BIG_MIB, 0))
    boards[UNOWNED].run((SELF, SMALL_MIB, BUSY_SM), used_mib=CAPTURE_USED_MIB)
    boards[DEAD].run((SELF, SMALL_MIB, BUSY_SM), (DEAD_PID, DEAD_MIB, None))
    hot = boards[HOT]
    hot.set(REASONS, HW_THERMAL_SLOWDOWN)
    hot.set(SM_CLOCK, 1410)
    hot.set(TEMPERATURE, hot.readings[SLOWDOWN]["value"] - 2)  # 87 °C: 89 is the H200's
    errors = boards[ERRORS]
    errors.set(ECC, 2)
    errors.nv.queue_xid(ERRORS, XID_CODE)  # through the event API: the watcher thread wakes
    for e in EXPECTED:
        stream.wait_event(e.kind, run.uuid(e))

    # Clear them (eccErrors and xid end on their own; unownedMemory stays).
    boards[IDLE].run((SELF, BIG_MIB, BUSY_SM))
    boards[DEAD].run((SELF, SMALL_MIB, BUSY_SM))
    hot.set(REASONS, 0)
    hot.put_back(SM_CLOCK)  # 1860 MHz
    hot.put_back(TEMPERATURE)  # 56 °C
    for e in EXPECTED:
        if e.ends:
            stream.wait_event(e.kind, run.uuid(e), ended=True)
    return run


# -- what a client sees -----------------------------------------------------------------------


def ids(e: Expected) -> str:
    return e.kind


@pytest.mark.parametrize("expected", EXPECTED, ids=ids)
def test_the_stream_tells_each_finding(run: Run, expected: Expected) -> None:
    uuid = run.uuid(expected)
    start = run.stream.event(expected.kind, uuid, ended=False)
    assert start is not None
    assert start["severity"] == expected.severity
    assert start["gpuIndex"] == expected.gpu
    assert start["pid"] == expected.pid
    assert start["summary"] and start["action"]

    def listed(message: dict[str, Any]) -> bool:
        return start["id"] in {f["id"] for f in message["findings"]}

    # A findings message follows the event messages of the same sample: waited for, briefly.
    until(
        f"{expected.kind} in a findings message",
        lambda: any(listed(m) for m in run.stream.of_type("findings")),
    )
    end = run.stream.event(expected.kind, uuid, ended=True)
    if expected.ends:
        assert end is not None and end["id"] == start["id"]
        assert end["end"] >= end["start"]
        until(
            f"a findings message without {expected.kind}, once it ended",
            lambda: not listed(run.stream.of_type("findings")[-1]),
        )
    else:
        assert end is None
        assert listed(run.stream.of_type("findings")[-1])


@pytest.mark.parametrize("expected", EXPECTED, ids=ids)
def test_api_events_lists_each_finding(run: Run, expected: Expected) -> None:
    uuid = run.uuid(expected)

    def stored() -> dict[str, Any] | None:
        events = run.get("/api/events", kind=expected.kind, gpu=uuid)["events"]
        done = [e for e in events if (e["end"] is not None) == expected.ends]
        return done[0] if len(done) == len(events) == 1 else None

    event = until(f"{expected.kind} in /api/events", stored)
    assert event["kind"] == expected.kind
    assert event["severity"] == expected.severity
    assert event["gpu"] == uuid
    assert event["gpuIndex"] == expected.gpu
    assert event["gpuName"] == "NVIDIA H200"
    assert event["pid"] == expected.pid
    if expected.pid == SELF:
        assert event["user"] == run.user
        assert event["process"] == sanitize_name(psutil.Process(SELF).name())
    else:
        assert event["user"] is None  # nobody's (a GPU's finding), or unknown (the dead pid)
    streamed = run.stream.event(expected.kind, uuid, ended=expected.ends)
    assert streamed is not None and event["id"] == streamed["id"]
    if expected.kind == "xid":
        assert event["value"] == XID_CODE
    if expected.kind == "eccErrors":
        assert event["value"] == 2


@pytest.mark.parametrize("expected", EXPECTED, ids=ids)
def test_metrics_count_each_finding(run: Run, expected: Expected) -> None:
    samples = [
        s
        for family in text_string_to_metric_families(run.get("/metrics"))
        if family.name == "gpulens_events"
        for s in family.samples
        if s.name == "gpulens_events_total" and s.labels["kind"] == expected.kind
    ]
    assert samples, f"no gpulens_events_total{{kind={expected.kind!r}}}"
    [sample] = samples
    assert sample.value >= 1
    assert sample.labels["UUID"] == run.uuid(expected)
    assert sample.labels["gpu"] == str(expected.gpu)
    assert sample.labels["severity"] == expected.severity


def test_metrics_count_the_xid(run: Run) -> None:
    xids = [
        s
        for family in text_string_to_metric_families(run.get("/metrics"))
        if family.name == "gpulens_xid_errors"
        for s in family.samples
        if s.name == "gpulens_xid_errors_total"
    ]
    assert [(s.labels["gpu"], s.labels["UUID"], s.labels["xid"], s.value) for s in xids] == [
        (str(ERRORS), run.boards[ERRORS].uuid, str(XID_CODE), 1.0)
    ]


def test_usage_has_the_sessions_of_the_processes_involved(run: Run) -> None:
    """Every process listed had a session stored, with its user, and GiB-hours counted."""
    wanted = {(b.uuid, pid) for b in run.boards for pid, _, _ in b.processes}
    wanted.add((run.boards[IDLE].uuid, SELF))
    wanted.add((run.boards[DEAD].uuid, DEAD_PID))

    def stored() -> dict[tuple[str, int], dict[str, Any]] | None:
        rows = run.get("/api/usage", by="session")["rows"]
        found = {(r["gpu"], r["pid"]): r for r in rows if r["gibHours"] > 0}
        return found if wanted <= set(found) else None

    sessions = until("the sessions in /api/usage?by=session", stored)
    for (_, pid), row in sessions.items():
        assert row["sessions"] == 1
        assert row["user"] == (run.user if pid == SELF else None)
    holder = sessions[(run.boards[IDLE].uuid, SELF)]
    assert holder["peakMemoryMib"] == BIG_MIB
    assert sessions[(run.boards[DEAD].uuid, DEAD_PID)]["peakMemoryMib"] == DEAD_MIB


def test_nothing_else_was_found(run: Run) -> None:
    """Every finding told is one the test caused, once (no flapping, nothing spurious)."""
    started = [
        (e["kind"], e["gpu"])
        for e in run.stream.events()
        if e["kind"] in FINDING_KINDS and e["end"] is None
    ]
    caused = sorted((e.kind, run.uuid(e)) for e in EXPECTED)
    assert sorted(started) == caused

    def stored() -> list[tuple[str, str]] | None:
        events = run.get("/api/events", kind=",".join(sorted(FINDING_KINDS)))["events"]
        found = sorted((e["kind"], e["gpu"]) for e in events)
        return found if len(found) >= len(caused) else None  # the writer commits every 5 s

    assert until("the findings in /api/events", stored) == caused


def test_health_after_it_all(run: Run) -> None:
    """XIDs are watched (the stand-in's event API), the one active finding is counted, the
    GPU that was lost reads again, and the history store writes."""
    health = run.get("/api/health")
    assert health["xid"] == {"state": "ok", "reason": None}
    assert health["events"] == 1  # unownedMemory
    assert health["history"]["state"] == "ok"
    latest = run.stream.telemetry()[-1]
    assert [g["status"] for g in latest["gpus"]] == ["ok"] * GPUS
