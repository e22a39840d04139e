"""An NVML stand-in that answers from recorded readings.

It exposes the subset of the ``pynvml`` API the NVML provider calls and
answers each call from a table of readings captured on real GPUs (the
``nvml-dump.json`` layout: ``{"nvmlDeviceGetName": {"value": ...}}`` or
``{"error": "NVMLError_NotSupported", "code": 3}``). Errors are the binding's
own ``NVMLError`` classes, so the provider's error mapping is exercised as on
a real machine. Used to build the shipped demo recording from a real trace,
by the benchmarks (provider overhead without a GPU) and by the tests.

The event API (XID errors) is scripted: ``queue_xid(index, code)`` delivers an
XID of that GPU to the event sets it is registered with (a waiting
``nvmlEventSetWait_v2`` wakes at once); ``fail_registration(index, error)``
makes ``nvmlDeviceRegisterEvents`` refuse that GPU; ``fail_wait(error)`` makes
every wait raise until it is called with ``None``.
"""

from __future__ import annotations

import collections
import copy
import threading
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import pynvml

Readings = dict[str, Any]
XID_KEY = "nvmlDeviceRegisterEvents"  # a device's readings: {"error": ...} makes registration fail

_CODES: dict[str, int] = {
    cls.__name__: code for code, cls in pynvml.NVMLError._valClassMapping.items()
}

_CLOCKS = {1: "NVML_CLOCK_SM", 2: "NVML_CLOCK_MEM", 0: "NVML_CLOCK_GRAPHICS", 3: "NVML_CLOCK_VIDEO"}
_THRESHOLDS = {0: "SHUTDOWN", 1: "SLOWDOWN", 2: "MEM_MAX", 3: "GPU_MAX"}


_NAMES: dict[int, str] = {code: name for name, code in _CODES.items()}


def error_code(name: str) -> int:
    """``"NVMLError_NotSupported"`` → 3."""
    return _CODES[name]


def nvml_error(name_or_code: str | int) -> Exception:
    code = name_or_code if isinstance(name_or_code, int) else error_code(name_or_code)
    err: Exception = pynvml.NVMLError(code)
    return err


class EventSet:
    """What ``nvmlEventSetCreate`` returns: the GPUs registered with it."""

    def __init__(self) -> None:
        self.registered: list[int] = []
        self.freed = False


def _struct(value: Any) -> Any:
    if isinstance(value, Mapping):
        return SimpleNamespace(**{k: _struct(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_struct(v) for v in value]
    return value


class RecordedNvml:
    """Answers NVML calls from readings; every device is a ``Readings`` table."""

    NVMLError = pynvml.NVMLError
    NVMLLibraryMismatchError = pynvml.NVMLLibraryMismatchError
    nvmlMemory_v2 = pynvml.nvmlMemory_v2  # noqa: N815

    def __init__(self, system: Readings, devices: list[Readings]) -> None:
        self.system = system
        self.devices = devices
        self.init_error: int | None = None
        self.fail_all: int | None = None
        self.initialised = False
        # Real NVML enumerates GPUs at nvmlInit: with this set, devices added to or removed
        # from ``devices`` are seen only after the next nvmlInit (hot-plug tests).
        self.enumerate_at_init = False
        self._enumerated: list[Readings] = []
        self.inits = 0
        self.calls = 0
        self._converted: dict[int, tuple[Any, Any]] = {}
        # The event API: XIDs waiting per GPU index, the sets made, a scripted wait failure.
        self.xids: dict[int, collections.deque[int]] = collections.defaultdict(collections.deque)
        self.event_sets: list[EventSet] = []
        self.wait_error: str | int | None = None
        self.waits = 0
        self._events = threading.Condition()

    @classmethod
    def from_dump(cls, dump: Mapping[str, Any]) -> RecordedNvml:
        return cls(copy.deepcopy(dict(dump["system"])), copy.deepcopy(list(dump["devices"])))

    # -- plumbing ----------------------------------------------------------

    def _answer(self, entry: Any) -> Any:
        self.calls += 1
        if self.fail_all is not None:
            raise pynvml.NVMLError(self.fail_all)
        if not self.initialised:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_UNINITIALIZED)
        if entry is None:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
        if isinstance(entry, BaseException):
            raise entry
        if isinstance(entry, Mapping) and "error" in entry:
            name = entry["error"]
            if name in _CODES:
                raise pynvml.NVMLError(_CODES[name])
            raise TypeError(entry.get("message", name))
        cached = self._converted.get(id(entry))
        if cached is not None and cached[0] is entry:  # the entry is kept alive: its id is stable
            return cached[1]
        raw = entry["value"] if isinstance(entry, Mapping) and "value" in entry else entry
        value = _struct(raw)
        self._converted[id(entry)] = (entry, value)
        return value

    def _visible(self) -> list[Readings]:
        return self._enumerated if self.enumerate_at_init else self.devices

    def _device(self, handle: Any, key: str) -> Any:
        readings = self._visible()[int(handle)]
        if "lost" in readings:
            return self._answer(readings["lost"])
        return self._answer(readings.get(key))

    # -- system ------------------------------------------------------------

    def nvmlInit(self) -> None:  # noqa: N802
        if self.init_error is not None:
            raise pynvml.NVMLError(self.init_error)
        self.initialised = True
        self.inits += 1
        self._enumerated = list(self.devices)

    def nvmlShutdown(self) -> None:  # noqa: N802
        self.initialised = False

    def nvmlSystemGetDriverVersion(self) -> Any:  # noqa: N802
        return self._answer(self.system.get("nvmlSystemGetDriverVersion"))

    def nvmlSystemGetCudaDriverVersion(self) -> Any:  # noqa: N802
        return self._answer(self.system.get("nvmlSystemGetCudaDriverVersion"))

    def nvmlSystemGetCudaDriverVersion_v2(self) -> Any:  # noqa: N802
        return self._answer(self.system.get("nvmlSystemGetCudaDriverVersion_v2"))

    def nvmlDeviceGetCount(self) -> Any:  # noqa: N802
        self._answer({"value": None})
        return len(self._visible())

    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any:  # noqa: N802
        self._answer({"value": None})
        if index >= len(self._visible()):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        readings = self._visible()[index]
        if "lost" in readings:
            return self._answer(readings["lost"])
        return index

    # -- device ------------------------------------------------------------

    def nvmlDeviceGetName(self, h: Any) -> Any:  # noqa: N802
        return self._device(h, "nvmlDeviceGetName")

    def nvmlDeviceGetUUID(self, h: Any) -> Any:  # noqa: N802
        return self._device(h, "nvmlDeviceGetUUID")

    def nvmlDeviceGetPciInfo(self, h: Any) -> Any:  # noqa: N802
        return self._device(h, "nvmlDeviceGetPciInfo")

    def nvmlDeviceGetNumFans(self, h: Any) -> Any:  # noqa: N802
        return self._device(h, "nvmlDeviceGetNumFans")

    def nvmlDeviceGetTemperatureThreshold(self, h: Any, threshold: int) -> Any:  # noqa: N802
        name = _THRESHOLDS[threshold]
        return self._device(
            h, f"nvmlDeviceGetTemperatureThreshold(NVML_TEMPERATURE_THRESHOLD_{name})"
        )

    def nvmlDeviceGetUtilizationRates(self, h: Any) -> Any:  # noqa: N802
        return self._device(h, "nvmlDeviceGetUtilizationRates")

    def nvmlDeviceGetMemoryInfo(self, h: Any, version: int | None = None) -> Any:  # noqa: N802
        if version is not None:
            return self._device(h, "nvmlDeviceGetMemoryInfo_v2")
        return self._device(h, "nvmlDeviceGetMemoryInfo")

    def nvmlDeviceGetTemperature(self, h: Any, sensor: int) -> Any:  # noqa: N802
        return self._device(h, "nvmlDeviceGetTemperature(GPU)")

    def nvmlDeviceGetPowerUsage(self, h: Any) -> Any:  # noqa: N802
        return self._device(h, "nvmlDeviceGetPowerUsage")

    def nvmlDeviceGetEnforcedPowerLimit(self, h: Any) -> Any:  # noqa: N802
        return self._device(h, "nvmlDeviceGetEnforcedPowerLimit")

    def nvmlDeviceGetTotalEnergyConsumption(self, h: Any) -> Any:  # noqa: N802
        return self._device(h, "nvmlDeviceGetTotalEnergyConsumption")

    def nvmlDeviceGetFanSpeed(self, h: Any) -> Any:  # noqa: N802
        return self._device(h, "nvmlDeviceGetFanSpeed")

    def nvmlDeviceGetEncoderUtilization(self, h: Any) -> Any:  # noqa: N802
        return self._device(h, "nvmlDeviceGetEncoderUtilization")

    def nvmlDeviceGetDecoderUtilization(self, h: Any) -> Any:  # noqa: N802
        return self._device(h, "nvmlDeviceGetDecoderUtilization")

    def nvmlDeviceGetClockInfo(self, h: Any, clock: int) -> Any:  # noqa: N802
        return self._device(h, f"nvmlDeviceGetClockInfo({_CLOCKS[clock]})")

    def nvmlDeviceGetPerformanceState(self, h: Any) -> Any:  # noqa: N802
        return self._device(h, "nvmlDeviceGetPerformanceState")

    def nvmlDeviceGetCurrentClocksEventReasons(self, h: Any) -> Any:  # noqa: N802
        return self._device(h, "nvmlDeviceGetCurrentClocksEventReasons")

    def nvmlDeviceGetTotalEccErrors(self, h: Any, error_type: int, counter: int) -> Any:  # noqa: N802
        return self._device(h, "nvmlDeviceGetTotalEccErrors(uncorrected,volatile)")

    def nvmlDeviceGetComputeRunningProcesses(self, h: Any) -> Any:  # noqa: N802
        return self._device(h, "nvmlDeviceGetComputeRunningProcesses")

    def nvmlDeviceGetComputeRunningProcesses_v2(self, h: Any) -> Any:  # noqa: N802
        return self._device(h, "nvmlDeviceGetComputeRunningProcesses_v2")

    def nvmlDeviceGetGraphicsRunningProcesses(self, h: Any) -> Any:  # noqa: N802
        return self._device(h, "nvmlDeviceGetGraphicsRunningProcesses")

    def nvmlDeviceGetGraphicsRunningProcesses_v2(self, h: Any) -> Any:  # noqa: N802
        return self._device(h, "nvmlDeviceGetGraphicsRunningProcesses_v2")

    def nvmlDeviceGetProcessUtilization(self, h: Any, last_seen: int) -> Any:  # noqa: N802
        return self._device(h, "nvmlDeviceGetProcessUtilization(0)")

    def nvmlDeviceGetMaxClockInfo(self, h: Any, clock: int) -> Any:  # noqa: N802
        return self._device(h, f"nvmlDeviceGetMaxClockInfo({_CLOCKS[clock]})")

    # -- events (XID errors) -------------------------------------------------

    def queue_xid(self, index: int, code: int) -> None:
        """An XID error on GPU ``index``: the next wait of a set it is registered with gets it."""
        with self._events:
            self.xids[index].append(code)
            self._events.notify_all()

    def fail_registration(self, index: int, error: str | int = "NVMLError_NoPermission") -> None:
        """``nvmlDeviceRegisterEvents`` refuses GPU ``index`` with this NVML error."""
        code = error if isinstance(error, int) else error_code(error)
        self.devices[index][XID_KEY] = {"error": _NAMES[code]}

    def fail_wait(self, error: str | int | None = "NVMLError_Unknown") -> None:
        """Every ``nvmlEventSetWait_v2`` raises this NVML error (``None``: waits work again)."""
        with self._events:
            self.wait_error = error
            self._events.notify_all()

    def nvmlEventSetCreate(self) -> Any:  # noqa: N802
        self._answer(self.system.get("nvmlEventSetCreate", {"value": None}))
        event_set = EventSet()
        self.event_sets.append(event_set)
        return event_set

    def nvmlDeviceRegisterEvents(self, h: Any, types: int, event_set: EventSet) -> None:  # noqa: N802
        readings = self._visible()[int(h)]
        self._answer(readings["lost"] if "lost" in readings else readings.get(XID_KEY, {}))
        if event_set.freed:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        event_set.registered.append(int(h))

    def nvmlEventSetWait_v2(self, event_set: EventSet, timeout_ms: int) -> Any:  # noqa: N802
        def ready() -> bool:
            return self.wait_error is not None or any(self.xids[i] for i in event_set.registered)

        with self._events:
            self.waits += 1
            self._events.wait_for(ready, timeout_ms / 1000)
            self._answer({"value": None})  # uninitialised or failing as a whole: raise
            if event_set.freed:
                raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
            if self.wait_error is not None:
                raise nvml_error(self.wait_error)
            for index in event_set.registered:
                if self.xids[index]:
                    return SimpleNamespace(
                        device=index,
                        eventType=pynvml.nvmlEventTypeXidCriticalError,
                        eventData=self.xids[index].popleft(),
                        gpuInstanceId=0xFFFFFFFF,
                        computeInstanceId=0xFFFFFFFF,
                    )
        raise pynvml.NVMLError(pynvml.NVML_ERROR_TIMEOUT)

    def nvmlEventSetFree(self, event_set: EventSet) -> None:  # noqa: N802
        event_set.freed = True


def trace_readings(static: Mapping[str, Any], frame: Mapping[str, Any], index: int) -> Readings:
    """One GPU of a trace frame (raw NVML units) as a ``Readings`` table."""
    gpu = frame["gpus"][index]
    info = static[f"gpu{index}"] if f"gpu{index}" in static else static["gpu0"]

    def v(value: Any) -> Any:
        if isinstance(value, Mapping) and "nvmlError" in value:
            return {"error": value["nvmlError"]}
        return {"value": value}

    mem = gpu["mem"]
    return {
        "nvmlDeviceGetName": v(info["name"]),
        "nvmlDeviceGetUUID": v(info["uuid"]),
        "nvmlDeviceGetPciInfo": v({"busId": info["busId"]}),
        "nvmlDeviceGetNumFans": v(0 if "nvmlError" in str(gpu.get("fanSpeed")) else 1),
        "nvmlDeviceGetUtilizationRates": v(gpu["util"]),
        "nvmlDeviceGetMemoryInfo": v(mem),
        "nvmlDeviceGetMemoryInfo_v2": v(mem),
        "nvmlDeviceGetTemperature(GPU)": v(gpu["temperature"]),
        "nvmlDeviceGetPowerUsage": v(gpu["powerUsage_mW"]),
        "nvmlDeviceGetEnforcedPowerLimit": v(gpu["enforcedPowerLimit_mW"]),
        "nvmlDeviceGetFanSpeed": v(gpu.get("fanSpeed")),
        "nvmlDeviceGetEncoderUtilization": v([gpu["encoder"], 100000]),
        "nvmlDeviceGetDecoderUtilization": v([gpu["decoder"], 100000]),
        "nvmlDeviceGetClockInfo(NVML_CLOCK_SM)": v(gpu["smClock"]),
        "nvmlDeviceGetClockInfo(NVML_CLOCK_MEM)": v(gpu["memClock"]),
        "nvmlDeviceGetPerformanceState": v(gpu["pstate"]),
        "nvmlDeviceGetComputeRunningProcesses": v(
            [
                {"pid": p["pid"], "usedGpuMemory": p["usedGpuMemory"]}
                for p in gpu["processes"]
                if p.get("kind", "compute") == "compute"
            ]
        ),
        "nvmlDeviceGetGraphicsRunningProcesses": v(
            [
                {"pid": p["pid"], "usedGpuMemory": p["usedGpuMemory"]}
                for p in gpu["processes"]
                if p.get("kind") == "graphics"
            ]
        ),
    }
