"""``nvidia-smi`` CSV query interface: the fallback when NVML cannot be loaded in-process.

Each sample runs two short processes (``--query-gpu`` and
``--query-compute-apps``, ~20-25 ms each on an H200), under a timeout. The
only module that runs ``nvidia-smi``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from gpulens.core.metrics.processes import sanitize_name
from gpulens.core.metrics.providers.base import ProviderError
from gpulens.core.metrics.providers.tools import ToolProvider, first_line
from gpulens.core.metrics.schema import GpuInfo, ProcessInfo
from gpulens.core.metrics.units import clamp_percent, clock_event_reasons

# The free-text column goes last so that commas inside it can be told apart.
GPU_FIELDS_FULL: tuple[str, ...] = (
    "index", "uuid", "pci.bus_id", "driver_version",
    "utilization.gpu", "utilization.memory", "utilization.encoder", "utilization.decoder",
    "memory.total", "memory.used", "memory.free", "memory.reserved",
    "temperature.gpu", "power.draw", "enforced.power.limit", "fan.speed",
    "clocks.current.sm", "clocks.current.memory", "pstate", "clocks_event_reasons.active",
    "ecc.errors.uncorrected.volatile.total", "name",
)  # fmt: skip
# Fields every driver since R390 knows, for drivers that reject one of the above.
GPU_FIELDS_BASIC: tuple[str, ...] = (
    "index", "uuid", "pci.bus_id", "driver_version", "utilization.gpu", "utilization.memory",
    "memory.total", "memory.used", "memory.free", "temperature.gpu", "power.draw",
    "power.limit", "fan.speed", "name",
)  # fmt: skip
APP_FIELDS: tuple[str, ...] = ("pid", "used_memory", "gpu_uuid", "process_name")

_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?)")
_CUDA = re.compile(r"CUDA Version:\s*([0-9]+(?:\.[0-9]+)*)")
_INVALID_FIELD = "is not a valid field to query"


class NvidiaSmiError(ProviderError):
    """nvidia-smi failed or printed something that is not its CSV."""


def is_missing(value: str | None) -> bool:
    """``[N/A]``, ``[Not Supported]``, ``[Unknown Error]``, ``N/A``, empty… → missing."""
    if value is None:
        return True
    text = value.strip()
    return not text or text == "N/A" or (text.startswith("[") and text.endswith("]"))


def parse_csv(text: str, fields: Sequence[str]) -> list[dict[str, str | None]]:
    """Parse ``--format=csv,noheader[,nounits]`` output for ``fields``.

    The last field may contain commas (GPU and process names): any extra
    columns are joined back into it. A line with too few columns means the
    output was cut short and raises ``NvidiaSmiError``.
    """
    rows: list[dict[str, str | None]] = []
    n = len(fields)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(",")
        if len(parts) < n:
            raise NvidiaSmiError(
                f"nvidia-smi: line {number} has {len(parts)} of {n} columns: {line[:120]!r}"
            )
        head = parts[: n - 1]
        tail = ",".join(parts[n - 1 :])
        values = [p.strip() for p in [*head, tail]]
        rows.append(
            {f: (None if is_missing(v) else v) for f, v in zip(fields, values, strict=True)}
        )
    return rows


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    match = _NUMBER.match(value)
    if match is None:
        return None
    number = float(match.group(1))
    return number if math.isfinite(number) else None  # 400 digits overflow to inf


def _int(value: str | None) -> int | None:
    number = _number(value)
    return None if number is None or number < 0 else int(number)


def _pstate(value: str | None) -> int | None:
    if value and value.upper().startswith("P") and value[1:].isdecimal():
        state = int(value[1:])
        return state if state <= 15 else None
    return None


def _mask(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value, 16) if value.lower().startswith("0x") else int(value)
    except ValueError:
        return None


def gpu_from_row(row: dict[str, str | None], cuda: str | None = None) -> GpuInfo:
    """One ``--query-gpu`` row → ``GpuInfo``; raises ``NvidiaSmiError`` when it has no index."""
    index = _int(row.get("index"))
    if index is None:
        raise NvidiaSmiError(f"nvidia-smi: row without a GPU index: {row!r:.200}")
    power = _number(row.get("power.draw"))
    limit = _number(row.get("enforced.power.limit") or row.get("power.limit"))
    return GpuInfo(
        id=index,
        name=sanitize_name(row.get("name"), limit=96) or f"GPU {index}",
        uuid=row.get("uuid"),
        pci_bus_id=row.get("pci.bus_id"),
        driver_version=row.get("driver_version"),
        cuda_version=cuda,
        utilization=clamp_percent(_number(row.get("utilization.gpu"))),
        memory_utilization=clamp_percent(_number(row.get("utilization.memory"))),
        memory_used=_int(row.get("memory.used")),
        memory_total=_int(row.get("memory.total")),
        memory_free=_int(row.get("memory.free")),
        memory_reserved=_int(row.get("memory.reserved")),
        temperature=_temperature(row.get("temperature.gpu")),
        power_usage=power if power is not None and power >= 0 else None,
        power_limit=limit if limit is not None and limit >= 0 else None,
        fan_speed=clamp_percent(_number(row.get("fan.speed"))),
        encoder_utilization=clamp_percent(_number(row.get("utilization.encoder"))),
        decoder_utilization=clamp_percent(_number(row.get("utilization.decoder"))),
        sm_clock=_int(row.get("clocks.current.sm")),
        memory_clock=_int(row.get("clocks.current.memory")),
        pstate=_pstate(row.get("pstate")),
        clock_event_reasons=clock_event_reasons(_mask(row.get("clocks_event_reasons.active"))),
        ecc_errors_uncorrected=_int(row.get("ecc.errors.uncorrected.volatile.total")),
    )


def _temperature(value: str | None) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


@dataclass(frozen=True, slots=True)
class AppRow:
    pid: int
    gpu_uuid: str | None
    used_memory_mib: int | None
    name: str | None


def apps_from_rows(rows: list[dict[str, str | None]]) -> list[AppRow]:
    apps: list[AppRow] = []
    for row in rows:
        pid = _int(row.get("pid"))
        if pid is None:
            raise NvidiaSmiError(f"nvidia-smi: process row without a pid: {row!r:.200}")
        apps.append(
            AppRow(
                pid=pid,
                gpu_uuid=row.get("gpu_uuid"),
                used_memory_mib=_int(row.get("used_memory")),
                name=sanitize_name(row.get("process_name")),
            )
        )
    return apps


class NvidiaSmiProvider(ToolProvider):
    """Samples through ``nvidia-smi --query-gpu`` and ``--query-compute-apps``."""

    name = "nvidia-smi"
    binary_name = "nvidia-smi"
    error = NvidiaSmiError

    def _open(self) -> None:
        self._fields = GPU_FIELDS_FULL
        self._cuda: str | None = None
        self._check_opens(self._query_gpus)
        self._cuda = self._read_cuda()

    def _read_cuda(self) -> str | None:
        try:
            result = self._exec()
        except NvidiaSmiError:
            return None
        match = _CUDA.search(result.stdout or "")
        return match.group(1) if match else None

    def _query_gpus(self) -> list[GpuInfo]:
        result = self._exec(
            f"--query-gpu={','.join(self._fields)}", "--format=csv,noheader,nounits"
        )
        if result.returncode != 0 and _INVALID_FIELD in (result.stdout + result.stderr):
            if self._fields is GPU_FIELDS_BASIC:
                raise NvidiaSmiError(f"nvidia-smi: {first_line(result)}")
            self._fields = GPU_FIELDS_BASIC  # an older driver: ask only what it knows
            return self._query_gpus()
        if result.returncode != 0:
            raise NvidiaSmiError(f"nvidia-smi: {first_line(result)}")
        return [gpu_from_row(row, self._cuda) for row in parse_csv(result.stdout, self._fields)]

    def _query_apps(self) -> list[AppRow]:
        result = self._exec(
            f"--query-compute-apps={','.join(APP_FIELDS)}", "--format=csv,noheader,nounits"
        )
        if result.returncode != 0:
            raise NvidiaSmiError(f"nvidia-smi: {first_line(result)}")
        return apps_from_rows(parse_csv(result.stdout, APP_FIELDS))

    def sample(self) -> list[GpuInfo]:
        gpus = self._query_gpus()
        if not gpus:
            raise NvidiaSmiError("nvidia-smi: no GPU listed")
        try:
            apps = self._query_apps()
        except NvidiaSmiError:
            apps = []  # GPU readings are still good; processes are simply not shown this time
        by_uuid: dict[str | None, list[ProcessInfo]] = {}
        for app in apps:
            ident = self._resolve(app.pid)
            by_uuid.setdefault(app.gpu_uuid, []).append(
                ProcessInfo(
                    pid=app.pid,
                    name=app.name or ident.name,
                    user=ident.user,
                    used_memory_mib=app.used_memory_mib,
                    type="compute",
                )
            )
        out: list[GpuInfo] = []
        for gpu in gpus:
            procs = sorted(
                by_uuid.get(gpu.uuid, []), key=lambda p: (-(p.used_memory_mib or 0), p.pid)
            )
            out.append(gpu.model_copy(update={"processes": procs}) if procs else gpu)
        return out
