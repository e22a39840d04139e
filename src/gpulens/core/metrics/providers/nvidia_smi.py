"""``nvidia-smi`` CSV query interface: the fallback when NVML cannot be loaded in-process.

Each sample runs two short processes (``--query-gpu`` and
``--query-compute-apps``, ~20-25 ms each on an H200), under a timeout. The
only module that runs ``nvidia-smi``.
"""

from __future__ import annotations

import logging
import math
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field

from gpulens.core.metrics.processes import sanitize_name
from gpulens.core.metrics.providers.base import ProviderError
from gpulens.core.metrics.providers.tools import ToolProvider
from gpulens.core.metrics.schema import GpuInfo, ProcessInfo, failed_gpu
from gpulens.core.metrics.text import OnceLog, clean_reason
from gpulens.core.metrics.units import (
    bus_key,
    canonical_bus_id,
    clamp_percent,
    clock_event_reasons,
)

log = logging.getLogger("gpulens.nvidia_smi")

# The free-text column goes last so that commas inside it can be told apart.
GPU_FIELDS_FULL: tuple[str, ...] = (
    "index", "uuid", "pci.bus_id", "driver_version",
    "utilization.gpu", "utilization.memory", "utilization.encoder", "utilization.decoder",
    "memory.total", "memory.used", "memory.free", "memory.reserved",
    "temperature.gpu", "power.draw", "enforced.power.limit", "fan.speed",
    "clocks.current.sm", "clocks.current.memory", "pstate", "clocks_event_reasons.active",
    "ecc.errors.uncorrected.volatile.total", "clocks.max.sm", "name",
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
# What nvidia-smi prints, in place of a row, for a GPU it cannot open (exit status 15),
# e.g. "Unable to determine the device handle for GPU0000:00:07.0: GPU is lost.  Reboot…".
_NO_HANDLE = re.compile(
    r"Unable to determine the device handle for (?:GPU)?\s*"
    r"(?P<bus>[0-9A-Fa-f]{1,8}:[0-9A-Fa-f]{1,2}:[0-9A-Fa-f]{1,2}\.[0-7])\s*:?\s*(?P<reason>.*)"
)
_GPU_UUID = re.compile(r"^(?:GPU|MIG)-[0-9A-Za-z/-]+$")


class NvidiaSmiError(ProviderError):
    """nvidia-smi failed or printed something that is not its CSV."""


def is_missing(value: str | None) -> bool:
    """``[N/A]``, ``[Not Supported]``, ``[Unknown Error]``, ``N/A``, empty… → missing."""
    if value is None:
        return True
    text = value.strip()
    return not text or text == "N/A" or (text.startswith("[") and text.endswith("]"))


@dataclass(slots=True)
class CsvLines:
    """What one run printed: the rows, GPUs it could not open, and lines it could not use."""

    rows: list[dict[str, str | None]] = field(default_factory=list)
    no_handle: list[tuple[str, str]] = field(default_factory=list)  # (PCI bus id, reason)
    bad: list[str] = field(default_factory=list)  # one short description per unusable line


def _row(line: str, fields: Sequence[str]) -> dict[str, str | None] | None:
    """One CSV line → row; the last field takes any extra commas. ``None``: too few columns."""
    n = len(fields)
    parts = line.split(",")
    if len(parts) < n:
        return None
    values = [p.strip() for p in [*parts[: n - 1], ",".join(parts[n - 1 :])]]
    return {f: (None if is_missing(v) else v) for f, v in zip(fields, values, strict=True)}


def split_lines(text: str, fields: Sequence[str]) -> CsvLines:
    """Read ``--format=csv,noheader[,nounits]`` output line by line; a bad line costs itself only.

    "Unable to determine the device handle for GPU<bus>: <reason>" lines (a lost
    GPU among working ones) are collected apart, with the driver's reason.
    """
    out = CsvLines()
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        lost = no_handle(line)
        if lost:
            out.no_handle.extend(lost)
            continue
        row = _row(line, fields)
        if row is None:
            columns = len(line.split(","))
            out.bad.append(f"line {number} has {columns} of {len(fields)} columns")
        else:
            out.rows.append(row)
    return out


def no_handle(text: str) -> list[tuple[str, str]]:
    """(PCI bus id, driver's reason) for each GPU nvidia-smi says it cannot open."""
    return [
        (m["bus"], clean_reason(m["reason"] or "the GPU cannot be reached"))
        for m in _NO_HANDLE.finditer(text)
    ]


def parse_csv(text: str, fields: Sequence[str]) -> list[dict[str, str | None]]:
    """Parse well-formed CSV output for ``fields``; any unusable line raises ``NvidiaSmiError``."""
    lines = split_lines(text, fields)
    if lines.bad:
        raise NvidiaSmiError(f"nvidia-smi: {lines.bad[0]}")
    if lines.no_handle:
        raise NvidiaSmiError(f"nvidia-smi: GPU {lines.no_handle[0][0]}: {lines.no_handle[0][1]}")
    return lines.rows


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
        raise NvidiaSmiError("nvidia-smi: a row without a GPU index")
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
        sm_clock_max=_int(row.get("clocks.max.sm")),
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
            raise NvidiaSmiError("nvidia-smi: a process row without a pid")
        apps.append(_app(pid, row))
    return apps


def _app(pid: int, row: dict[str, str | None]) -> AppRow:
    return AppRow(
        pid=pid,
        gpu_uuid=row.get("gpu_uuid"),
        used_memory_mib=_int(row.get("used_memory")),
        name=sanitize_name(row.get("process_name")),
    )


def _starts_app(parts: list[str]) -> bool:
    """Whether a line is the start of a ``pid, used_memory, gpu_uuid, name`` record."""
    if len(parts) < len(APP_FIELDS):
        return False
    pid, uuid = parts[0].strip(), parts[2].strip()
    pid_ok = len(pid) <= 10 and pid.isascii() and pid.isdecimal()
    return pid_ok and bool(_GPU_UUID.match(uuid) or is_missing(uuid))


def read_apps(text: str) -> tuple[list[AppRow], list[str]]:
    """``--query-compute-apps=pid,used_memory,gpu_uuid,process_name`` output → apps, problems.

    The name comes last and may hold anything its owner chose, commas and line
    breaks included (CR arrives as a line break too): a line that does not
    start a record (a pid, then a GPU UUID in third place) continues the
    previous record's name. A line that belongs nowhere costs only itself.
    """
    records: list[list[str]] = []
    problems: list[str] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip() or _NO_HANDLE.search(line):
            continue  # a GPU nvidia-smi cannot open has no processes to list
        parts = line.split(",")
        if _starts_app(parts):
            n = len(APP_FIELDS)
            records.append([*parts[: n - 1], ",".join(parts[n - 1 :])])
        elif records:
            records[-1][-1] += "\n" + line  # the name held a line break
        else:
            problems.append(f"process line {number} is not a pid, memory, GPU, name row")
    apps: list[AppRow] = []
    for parts in records:
        values = [p.strip() for p in parts]
        row = {f: (None if is_missing(v) else v) for f, v in zip(APP_FIELDS, values, strict=True)}
        apps.append(_app(int(values[0]), row))
    return apps, problems


def _what_it_said(result: subprocess.CompletedProcess[str], bad: list[str]) -> str:
    """The tool's own message, as a sentence; never a data row (a row starts with a number)."""
    for text in (result.stdout, result.stderr):
        for line in (text or "").split("\n"):
            head = line.split(",", 1)[0].strip()
            if line.strip() and not head[:1].isdigit():
                return clean_reason(line)
    if bad:
        return f"no usable row ({bad[0]})"
    return f"exit status {result.returncode}"


class NvidiaSmiProvider(ToolProvider):
    """Samples through ``nvidia-smi --query-gpu`` and ``--query-compute-apps``."""

    name = "nvidia-smi"
    binary_name = "nvidia-smi"
    error = NvidiaSmiError

    def _open(self) -> None:
        self._fields = GPU_FIELDS_FULL
        self._cuda: str | None = None
        self._problems = OnceLog(log)
        # GPUs seen working, by PCI bus: a GPU that is lost later keeps its index, UUID and name.
        self._seen: dict[tuple[int, int, int, int], GpuInfo] = {}
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
        """Every GPU listed: one row each, or failed with the driver's reason when it has none.

        Only a run that lists no GPU at all fails the sample.
        """
        result = self._exec(
            f"--query-gpu={','.join(self._fields)}", "--format=csv,noheader,nounits"
        )
        if result.returncode != 0 and _INVALID_FIELD in (result.stdout + result.stderr):
            if self._fields is GPU_FIELDS_BASIC:
                raise NvidiaSmiError(f"nvidia-smi: {_what_it_said(result, [])}")
            self._fields = GPU_FIELDS_BASIC  # an older driver: ask only what it knows
            return self._query_gpus()
        lines = split_lines(result.stdout or "", self._fields)
        listed = {bus_key(bus) for bus, _ in lines.no_handle}
        lines.no_handle.extend(
            lost for lost in no_handle(result.stderr or "") if bus_key(lost[0]) not in listed
        )
        gpus: list[GpuInfo] = []
        for row in lines.rows:
            try:
                gpus.append(gpu_from_row(row, self._cuda))
            except NvidiaSmiError:
                lines.bad.append("a row without a GPU index")
        if not gpus and not lines.no_handle:
            if lines.bad or result.returncode != 0:
                raise NvidiaSmiError(f"nvidia-smi: {_what_it_said(result, lines.bad)}")
            return []
        for problem in lines.bad:
            self._problems.warning(f"gpu:{problem}", "nvidia-smi --query-gpu: skipped %s", problem)
        for gpu in gpus:
            key = bus_key(gpu.pci_bus_id)
            if key is not None:
                self._seen[key] = gpu
        return sorted([*gpus, *self._lost(gpus, lines.no_handle)], key=lambda g: g.id)

    def _lost(self, gpus: list[GpuInfo], no_handle: list[tuple[str, str]]) -> list[GpuInfo]:
        """GPUs nvidia-smi could not open, marked failed with the driver's own reason.

        A GPU seen before keeps its index, UUID and name; one never seen gets the
        index the driver gives it, its place in PCI bus order among all GPUs listed.
        """
        if not no_handle:
            return []
        by_bus = {bus_key(g.pci_bus_id): g for g in gpus}
        lost_keys = [bus_key(bus) for bus, _ in no_handle]
        order = sorted(k for k in {*by_bus, *lost_keys} if k is not None)
        used = {g.id for g in gpus}
        failed: list[GpuInfo] = []
        for (bus, reason), key in zip(no_handle, lost_keys, strict=True):
            known = self._seen.get(key) if key is not None else None
            index = known.id if known is not None else (order.index(key) if key else len(order))
            while index in used:
                index += 1
            used.add(index)
            failed.append(
                failed_gpu(
                    index,
                    known.name if known else f"GPU {index}",
                    reason,
                    uuid=known.uuid if known else None,
                    pci_bus_id=known.pci_bus_id if known else canonical_bus_id(bus),
                    driver_version=known.driver_version if known else None,
                    cuda_version=self._cuda,
                    memory_total=known.memory_total if known else None,
                    power_limit=known.power_limit if known else None,
                )
            )
        return failed

    def _query_apps(self) -> list[AppRow]:
        result = self._exec(
            f"--query-compute-apps={','.join(APP_FIELDS)}", "--format=csv,noheader,nounits"
        )
        apps, problems = read_apps(result.stdout or "")
        if result.returncode != 0 and not apps:
            raise NvidiaSmiError(f"nvidia-smi: {_what_it_said(result, problems)}")
        for problem in problems:
            self._problems.warning(
                f"apps:{problem}", "nvidia-smi --query-compute-apps: skipped %s", problem
            )
        return apps

    def sample(self) -> list[GpuInfo]:
        gpus = self._query_gpus()
        if not gpus:
            raise NvidiaSmiError("nvidia-smi: no GPU listed")
        try:
            apps = self._query_apps() if any(g.status == "ok" for g in gpus) else []
        except NvidiaSmiError as exc:
            # GPU readings are still good; processes are simply not shown this time.
            self._problems.warning(f"apps-failed:{exc}", "%s", exc)
            apps = []
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
                    start_time=ident.started,
                    container=ident.container,
                )
            )
        out: list[GpuInfo] = []
        for gpu in gpus:
            procs = sorted(
                by_uuid.get(gpu.uuid, []), key=lambda p: (-(p.used_memory_mib or 0), p.pid)
            )
            out.append(gpu.model_copy(update={"processes": procs}) if procs else gpu)
        return out
