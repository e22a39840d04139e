"""NVML through ``nvidia-ml-py`` (module ``pynvml``): the fast, complete source.

The only module that talks to NVML. NVML is initialised once; handles and
static facts are cached per GPU and keyed by UUID; per-field errors are
mapped the same way everywhere (``_GPU_FAILED_CODES``, ``_LIFECYCLE_CODES``):

* uninitialised / driver not loaded / library not found / library-driver
  mismatch → the whole provider fails this sample and re-initialises with
  exponential backoff;
* GPU is lost / not found / reset required / unknown error (and the other
  faults of the card itself: insufficient power, IRQ issue, corrupted
  InfoROM, operating-system error) → that GPU is marked failed, the others
  go on;
* any other NVML error (not supported, no permission, not found, a function
  missing from an older driver or binding…) → that field is ``None``.

NVML enumerates GPUs when it is initialised, so hot-plug needs a new
initialisation. Every few seconds (not every sample) the provider lists
``/proc/driver/nvidia/gpus/``, one entry per PCI bus id the driver knows, and
re-initialises when that set changed; it also re-initialises, with backoff,
while any GPU is failed (a GPU reset or a driver reload). A GPU NVML no longer
opens but the driver still lists stays visible as failed, with its reason.

With ``xid_events`` on, XID errors are watched on a thread of its own
(``nvml_events.py``): the provider is then an ``EventSource``. The watcher is
stopped before each shutdown of NVML and started again after each
initialisation (NVML counts its initialisations: a watcher holding one would
keep the provider from seeing GPUs added or removed).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pynvml

from gpulens.core.metrics.processes import ProcessResolver, PsutilResolver
from gpulens.core.metrics.providers.base import (
    ProviderError,
    ProviderUnavailable,
    XidEvent,
    XidStatus,
)
from gpulens.core.metrics.providers.nvml_events import WAIT_MS, XidBuffer, XidWatcher
from gpulens.core.metrics.schema import GpuInfo, ProcessInfo, ProcessType, failed_gpu
from gpulens.core.metrics.text import OnceLog
from gpulens.core.metrics.units import (
    bus_key,
    bytes_to_mib,
    clamp_percent,
    clock_event_reasons,
    cuda_version,
)

# NVML return codes that fail one GPU, and those that fail the library as a whole; every
# other code means the field is not available (see the module docstring).
_GPU_FAILED_CODES = frozenset({
    pynvml.NVML_ERROR_INSUFFICIENT_POWER,
    pynvml.NVML_ERROR_IRQ_ISSUE,
    pynvml.NVML_ERROR_CORRUPTED_INFOROM,
    pynvml.NVML_ERROR_GPU_IS_LOST,
    pynvml.NVML_ERROR_RESET_REQUIRED,
    pynvml.NVML_ERROR_OPERATING_SYSTEM,
    pynvml.NVML_ERROR_GPU_NOT_FOUND,
    pynvml.NVML_ERROR_UNKNOWN,
})  # fmt: skip
_LIFECYCLE_CODES = frozenset({
    pynvml.NVML_ERROR_UNINITIALIZED,
    pynvml.NVML_ERROR_DRIVER_NOT_LOADED,
    pynvml.NVML_ERROR_LIBRARY_NOT_FOUND,
    pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH,
})  # fmt: skip

# Each kind of process list and the binding calls that give it: the plain name (the _v3
# struct) first, _v2 for drivers too old for it.
_PROCESS_LISTS: tuple[tuple[ProcessType, tuple[str, ...]], ...] = (
    (
        "compute",
        ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetComputeRunningProcesses_v2"),
    ),
    (
        "graphics",
        ("nvmlDeviceGetGraphicsRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses_v2"),
    ),
)

RESCAN_INTERVAL_S = 5.0
REINIT_FIRST_S = 5.0  # while a GPU is failed: re-initialise after 5 s, then 10, 20… up to 60
REINIT_MAX_S = 60.0
GPUS_DIR = Path("/proc/driver/nvidia/gpus")
LISTED_NOT_OPENED = "the driver lists this GPU but NVML cannot open it"
SLOW_FIELDS_INTERVAL_S = 5.0
BACKOFF_INITIAL_S = 1.0
BACKOFF_MAX_S = 30.0

log = logging.getLogger("gpulens.nvml")


class _GpuFailed(Exception):
    pass


class _Lifecycle(Exception):
    pass


def device_set(gpus_dir: Path | None) -> frozenset[str] | None:
    """The PCI bus ids the driver lists (one entry each under ``gpus_dir``); ``None`` if unknown.

    One directory listing: the cheap signal that the set of GPUs changed.
    """
    if gpus_dir is None:
        return None
    try:
        return frozenset(os.listdir(gpus_dir))
    except OSError:  # no NVIDIA driver, or a container without /proc/driver/nvidia
        return None


def load_pynvml() -> Any:
    """The official binding (``nvidia-ml-py``); importing it loads no library, ``nvmlInit`` does.

    A seam: tests put a stand-in that answers from recorded readings in its place.
    """
    return pynvml


@dataclass(slots=True)
class _Device:
    index: int
    handle: Any
    uuid: str | None
    name: str
    pci_bus_id: str | None
    slowdown: int | None
    num_fans: int | None
    sm_clock_max: int | None = None
    error: str | None = None
    last_process_ts: int = 0
    pids_seen: set[int] = field(default_factory=set)
    slow_at: float = float("-inf")  # when the slow-moving counters were last read
    ecc: int | None = None
    energy_mj: int | None = None
    # Fixed sizes from the last good read: a failed GPU keeps them (see failed_gpu).
    memory_total: int | None = None
    power_limit: float | None = None


class NvmlProvider:
    """Reads every GPU through NVML."""

    name = "nvml"

    def __init__(
        self,
        nvml: Any | None = None,
        resolver: ProcessResolver | None = None,
        clock: Callable[[], float] = time.monotonic,
        gpus_dir: Path | None = GPUS_DIR,
        xid_events: bool = False,
        xid_wait_ms: int = WAIT_MS,
    ) -> None:
        self._nvml = nvml if nvml is not None else load_pynvml()
        self._xid_enabled = xid_events
        self._xid_wait_ms = xid_wait_ms
        self._xid: XidWatcher | None = None
        self._xid_buffer = XidBuffer()
        self._xid_problems = OnceLog(log)
        self._gpus_dir = gpus_dir
        self._listed: frozenset[str] | None = None
        self._count = 0  # what NVML counted at the last scan
        self._reinit_wait = REINIT_FIRST_S
        self._reinit_at = float("inf")
        self._resolve = resolver if resolver is not None else PsutilResolver()
        self._clock = clock
        self._devices: list[_Device] = []
        self._driver: str | None = None
        self._cuda: str | None = None
        self._memory_v2 = True
        self._broken: str | None = None
        self._backoff = BACKOFF_INITIAL_S
        self._retry_at = 0.0
        self._rescan_at = 0.0
        try:
            self._start()
        except _Lifecycle as exc:
            raise ProviderUnavailable(str(exc)) from exc
        except _GpuFailed as exc:
            raise ProviderUnavailable(f"NVML: {exc}") from exc

    # -- lifecycle ---------------------------------------------------------

    def _start(self, previous: list[_Device] | None = None) -> None:
        """Initialise NVML and enumerate; ``previous`` devices lend their cached facts."""
        nv = self._nvml
        try:
            nv.nvmlInit()
        except nv.NVMLError as exc:
            raise _Lifecycle(_message(exc)) from exc
        except OSError as exc:  # a broken libnvidia-ml.so that the loader rejects
            raise _Lifecycle(f"NVML could not be loaded: {exc}") from exc
        self._driver = _text(self._call(nv.nvmlSystemGetDriverVersion))
        cuda = self._call(nv.nvmlSystemGetCudaDriverVersion_v2)
        if cuda is None:
            cuda = self._call(nv.nvmlSystemGetCudaDriverVersion)
        self._cuda = cuda_version(cuda)
        self._listed = device_set(self._gpus_dir)
        self._devices = list(previous or [])
        self._scan()
        if not self._devices:
            self._shutdown()
            raise _Lifecycle("NVML: no NVIDIA GPU found")
        self._start_watcher()

    def _shutdown(self) -> None:
        self._stop_watcher()
        with contextlib.suppress(Exception):  # shutting down a broken library
            self._nvml.nvmlShutdown()

    def close(self) -> None:
        self._shutdown()

    # -- XID events (EventSource) --------------------------------------------

    def _start_watcher(self) -> None:
        self._stop_watcher()  # never two watchers
        if not self._xid_enabled:
            return
        devices = [
            (d.handle, d.uuid or f"index:{d.index}") for d in self._devices if d.handle is not None
        ]
        self._xid = XidWatcher(
            self._nvml, devices, self._xid_buffer, self._xid_problems, wait_ms=self._xid_wait_ms
        )
        self._xid.start()

    def _stop_watcher(self) -> None:
        watcher, self._xid = self._xid, None
        if watcher is not None:
            watcher.stop()

    def drain_events(self) -> list[XidEvent]:
        """The XID errors received since the last call (never blocks)."""
        return self._xid_buffer.drain()

    def events_status(self) -> XidStatus:
        """Whether XID errors are watched, and why not."""
        if not self._xid_enabled:
            return XidStatus("off", "XID_EVENTS is off")
        if self._broken is not None:
            return XidStatus("failed", f"NVML is not available: {self._broken}")
        watcher = self._xid
        if watcher is None:
            return XidStatus("starting")
        return watcher.status

    def _reinit(self, now: float) -> None:
        """Shut NVML down and initialise it again: the only way it sees GPUs added or removed."""
        previous = self._devices
        self._shutdown()
        self._start(previous)
        if any(d.error is not None for d in self._devices):  # still failed: wait longer
            self._reinit_wait = min(self._reinit_wait * 2, REINIT_MAX_S)
        self._reinit_at = float("inf")

    def _scan(self) -> None:
        """Enumerate GPUs; reuse cached static facts for UUIDs already known."""
        nv = self._nvml
        count = self._call(nv.nvmlDeviceGetCount) or 0
        self._count = count
        known = {d.uuid: d for d in self._devices if d.uuid}
        devices: list[_Device] = []
        for index in range(count):
            uuid: str | None = None
            try:
                handle = self._call(nv.nvmlDeviceGetHandleByIndex, index)
                uuid = _text(self._call(nv.nvmlDeviceGetUUID, handle))
                cached = known.get(uuid) if uuid else None
                if cached is not None:
                    cached.index, cached.handle, cached.error = index, handle, None
                    devices.append(cached)
                    continue
                pci = self._call(nv.nvmlDeviceGetPciInfo, handle)
                devices.append(
                    _Device(
                        index=index,
                        handle=handle,
                        uuid=uuid,
                        name=_text(self._call(nv.nvmlDeviceGetName, handle)) or f"GPU {index}",
                        pci_bus_id=_text(getattr(pci, "busId", None)) if pci is not None else None,
                        slowdown=_int(
                            self._call(
                                nv.nvmlDeviceGetTemperatureThreshold,
                                handle,
                                pynvml.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN,
                            )
                        ),
                        num_fans=self._call(nv.nvmlDeviceGetNumFans, handle),
                        sm_clock_max=_int(
                            self._call(nv.nvmlDeviceGetMaxClockInfo, handle, pynvml.NVML_CLOCK_SM)
                        ),
                    )
                )
            except _GpuFailed as exc:
                # Any static read can find the GPU lost: mark this one failed, keep the others.
                previous = (known.get(uuid) if uuid else None) or next(
                    (d for d in self._devices if d.index == index), None
                )
                devices.append(
                    _Device(
                        index=index,
                        handle=None,
                        uuid=uuid or (previous.uuid if previous else None),
                        name=previous.name if previous else f"GPU {index}",
                        pci_bus_id=previous.pci_bus_id if previous else None,
                        slowdown=None,
                        num_fans=None,
                        error=str(exc),
                        memory_total=previous.memory_total if previous else None,
                        power_limit=previous.power_limit if previous else None,
                    )
                )
        self._devices = self._still_listed(devices, known)
        self._rescan_at = self._clock() + RESCAN_INTERVAL_S

    def _still_listed(self, devices: list[_Device], known: dict[str, _Device]) -> list[_Device]:
        """Add GPUs NVML no longer enumerates but the driver still lists, as failed."""
        listed = {bus_key(entry) for entry in self._listed or ()}
        present = {d.uuid for d in devices}
        used = {d.index for d in devices}
        kept: list[_Device] = []
        for old in known.values():
            if old.uuid in present or bus_key(old.pci_bus_id) not in listed:
                continue
            index = old.index
            while index in used:
                index += 1
            used.add(index)
            kept.append(
                _Device(
                    index=index,
                    handle=None,
                    uuid=old.uuid,
                    name=old.name,
                    pci_bus_id=old.pci_bus_id,
                    slowdown=None,
                    num_fans=None,
                    error=old.error or LISTED_NOT_OPENED,
                    memory_total=old.memory_total,
                    power_limit=old.power_limit,
                )
            )
        return sorted([*devices, *kept], key=lambda d: d.index)

    # -- error mapping -----------------------------------------------------

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call NVML; ``None`` for what this GPU cannot report, raise for failures."""
        nv = self._nvml
        try:
            return fn(*args)
        except nv.NVMLError as exc:
            _raise_if_fatal(exc)
            return None
        except (TypeError, AttributeError, nv.NVMLLibraryMismatchError):
            # A binding or driver older than the call: the field is simply not available.
            return None

    # -- sampling ----------------------------------------------------------

    def sample(self) -> list[GpuInfo]:
        now = self._clock()
        if self._broken is not None:
            if now < self._retry_at:
                raise ProviderError(self._broken)
            try:
                self._shutdown()
                self._start(self._devices)
            except _Lifecycle as exc:
                self._fail(str(exc), now)
                raise ProviderError(str(exc)) from exc
            self._broken = None
            self._backoff = BACKOFF_INITIAL_S
        try:
            self._refresh(now)
            gpus = [self._read(device) for device in self._devices]
        except _Lifecycle as exc:
            self._fail(str(exc), now)
            raise ProviderError(str(exc)) from exc
        if not any(g.status == "failed" for g in gpus):
            self._reinit_wait, self._reinit_at = REINIT_FIRST_S, float("inf")
        elif self._reinit_at == float("inf"):
            self._reinit_at = now + self._reinit_wait
        return gpus

    def _refresh(self, now: float) -> None:
        """Keep the device list true: re-initialise on a new device set, rescan every few s."""
        if now >= self._rescan_at:
            listed = device_set(self._gpus_dir)
            if listed != self._listed or now >= self._reinit_at:
                self._reinit(now)
                return
        count = self._call(self._nvml.nvmlDeviceGetCount)
        # Every few seconds the UUIDs are checked again, so a GPU swapped for another
        # (same count) or one that came back after a failure is noticed.
        if count is not None and (count != self._count or now >= self._rescan_at):
            self._scan()

    def _fail(self, reason: str, now: float) -> None:
        self._broken = reason
        self._retry_at = now + self._backoff
        self._backoff = min(self._backoff * 2, BACKOFF_MAX_S)

    def _failed_gpu(self, device: _Device, reason: str) -> GpuInfo:
        return failed_gpu(
            device.index,
            device.name,
            reason,
            uuid=device.uuid,
            pci_bus_id=device.pci_bus_id,
            driver_version=self._driver,
            cuda_version=self._cuda,
            memory_total=device.memory_total,
            power_limit=device.power_limit,
        )

    def _read(self, device: _Device) -> GpuInfo:
        if device.handle is None:
            return self._failed_gpu(device, device.error or "GPU is not reachable")
        try:
            return self._read_ok(device)
        except _GpuFailed as exc:
            device.error = str(exc)
            self._rescan_at = min(self._rescan_at, self._clock() + RESCAN_INTERVAL_S)
            return self._failed_gpu(device, device.error)

    def _read_ok(self, device: _Device) -> GpuInfo:
        nv, h, call = self._nvml, device.handle, self._call
        util = call(nv.nvmlDeviceGetUtilizationRates, h)
        memory = self._memory(h)
        fan = call(nv.nvmlDeviceGetFanSpeed, h) if device.num_fans != 0 else None
        encoder = call(nv.nvmlDeviceGetEncoderUtilization, h)
        decoder = call(nv.nvmlDeviceGetDecoderUtilization, h)
        power = call(nv.nvmlDeviceGetPowerUsage, h)
        limit = call(nv.nvmlDeviceGetEnforcedPowerLimit, h)
        now = self._clock()
        if now - device.slow_at >= SLOW_FIELDS_INTERVAL_S:
            # Counters that move slowly are read every few seconds, not every sample.
            device.energy_mj = call(nv.nvmlDeviceGetTotalEnergyConsumption, h)
            device.ecc = call(
                nv.nvmlDeviceGetTotalEccErrors,
                h,
                pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED,
                pynvml.NVML_VOLATILE_ECC,
            )
            device.slow_at = now
        device.error = None
        device.memory_total = bytes_to_mib(getattr(memory, "total", None))
        device.power_limit = round(limit / 1000, 2) if limit is not None else None
        return GpuInfo(
            id=device.index,
            name=device.name,
            uuid=device.uuid,
            pci_bus_id=device.pci_bus_id,
            driver_version=self._driver,
            cuda_version=self._cuda,
            utilization=clamp_percent(_float(getattr(util, "gpu", None))),
            memory_utilization=clamp_percent(_float(getattr(util, "memory", None))),
            memory_used=bytes_to_mib(getattr(memory, "used", None)),
            memory_total=device.memory_total,
            memory_free=bytes_to_mib(getattr(memory, "free", None)),
            memory_reserved=bytes_to_mib(getattr(memory, "reserved", None)),
            temperature=_int(call(nv.nvmlDeviceGetTemperature, h, pynvml.NVML_TEMPERATURE_GPU)),
            temperature_slowdown=device.slowdown,
            power_usage=round(power / 1000, 2) if power is not None else None,
            power_limit=device.power_limit,
            fan_speed=clamp_percent(_float(fan)),
            encoder_utilization=clamp_percent(_first(encoder)),
            decoder_utilization=clamp_percent(_first(decoder)),
            sm_clock=call(nv.nvmlDeviceGetClockInfo, h, pynvml.NVML_CLOCK_SM),
            sm_clock_max=device.sm_clock_max,
            memory_clock=call(nv.nvmlDeviceGetClockInfo, h, pynvml.NVML_CLOCK_MEM),
            pstate=_pstate(call(nv.nvmlDeviceGetPerformanceState, h)),
            clock_event_reasons=clock_event_reasons(
                call(nv.nvmlDeviceGetCurrentClocksEventReasons, h)
            ),
            ecc_errors_uncorrected=device.ecc,
            energy_consumed=round(device.energy_mj / 1000, 3)
            if device.energy_mj is not None
            else None,
            processes=self._processes(device),
        )

    def _memory(self, handle: Any) -> Any:
        nv = self._nvml
        if self._memory_v2:
            info = self._call(nv.nvmlDeviceGetMemoryInfo, handle, nv.nvmlMemory_v2)
            if info is not None:
                return info
            self._memory_v2 = False  # driver < 515 or binding without v2: use v1 from now on
        return self._call(nv.nvmlDeviceGetMemoryInfo, handle)

    def _processes(self, device: _Device) -> list[ProcessInfo]:
        h = device.handle
        seen: dict[int, tuple[ProcessType, int | None]] = {}
        for kind, names in _PROCESS_LISTS:
            for proc in self._list_processes(h, names):
                pid = int(proc.pid)
                used = getattr(proc, "usedGpuMemory", None)
                mib = bytes_to_mib(used) if isinstance(used, int) else None
                if pid in seen:
                    prev_kind, prev_mib = seen[pid]
                    merged: ProcessType = "compute+graphics" if prev_kind != kind else prev_kind
                    seen[pid] = (merged, _max_opt(prev_mib, mib))
                else:
                    seen[pid] = (kind, mib)
        if not seen:
            device.last_process_ts = 0
            return []
        sm = self._process_sm(device)
        out: list[ProcessInfo] = []
        for pid, (kind, mib) in seen.items():
            ident = self._resolve(pid)
            out.append(
                ProcessInfo(
                    pid=pid,
                    name=ident.name,
                    user=ident.user,
                    used_memory_mib=mib,
                    type=kind,
                    sm_utilization=sm.get(pid),
                    start_time=ident.started,
                    container=ident.container,
                )
            )
        out.sort(key=lambda p: (-(p.used_memory_mib or 0), p.pid))
        return out

    def _list_processes(self, handle: Any, names: tuple[str, ...]) -> list[Any]:
        nv = self._nvml
        for name in names:
            fn = getattr(nv, name, None)
            if fn is None:
                continue
            try:
                result = fn(handle)
            except nv.NVMLLibraryMismatchError:
                continue  # driver too old for the _v3 struct: try the next version
            except nv.NVMLError as exc:
                _raise_if_fatal(exc)
                return []
            return list(result or [])
        return []

    def _process_sm(self, device: _Device) -> dict[int, int]:
        samples = self._call(
            self._nvml.nvmlDeviceGetProcessUtilization, device.handle, device.last_process_ts
        )
        out: dict[int, int] = {}
        for sample in samples or []:
            stamp = int(getattr(sample, "timeStamp", 0) or 0)
            device.last_process_ts = max(device.last_process_ts, stamp)
            value = clamp_percent(_float(getattr(sample, "smUtil", None)))
            if value is not None:
                out[int(sample.pid)] = value
        return out


def _raise_if_fatal(exc: Exception) -> None:
    """Turn GPU-level and library-level NVML errors into their own exceptions."""
    code = getattr(exc, "value", None)
    if code in _LIFECYCLE_CODES:
        raise _Lifecycle(_message(exc)) from exc
    if code in _GPU_FAILED_CODES:
        raise _GpuFailed(_message(exc)) from exc


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or exc.__class__.__name__


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value).strip()
    return text or None


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    number = _float(value)
    return None if number is None else int(number)


def _first(value: Any) -> float | None:
    """Encoder/decoder utilization comes as ``[value, samplingPeriodUs]``."""
    if isinstance(value, list | tuple) and value:
        return _float(value[0])
    return _float(value)


def _pstate(value: Any) -> int | None:
    if isinstance(value, int) and 0 <= value <= 15:
        return value
    return None  # 32 = NVML_PSTATE_UNKNOWN


def _max_opt(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)
