"""``nvtop -s`` snapshots: the last resort, for machines with nvtop ≥ 3.2.0 but no NVML.

What the versions print (all seen in the wild):

* 3.2.0: eight keys, strings with the unit glued on (``"58C"``, ``"502W"``,
  ``"57%"``, ``"1890MHz"``) or ``null``; no memory sizes, no processes.
* 3.3.0 / 3.3.1: adds ``mem_total``/``mem_used``/``mem_free`` (bytes, as
  strings) but forgets the commas after ``mem_util``, ``mem_total`` and
  ``mem_used``: the JSON is invalid and is repaired here.
* 3.3.2: valid again; adds ``encode``/``decode`` (or ``encode_decode``) and
  ``processes`` (``pid`` as a string, ``cmdline``, ``kind``, ``user``,
  ``gpu_mem_bytes_alloc``, ``gpu_usage``).

nvtop has no UUID, index, driver version or power limit: those stay ``null``
and GPUs are matched by their order. With no GPU it prints
``No GPU to monitor.`` and exits 0. A GPU it lists without a single reading
(what it prints for a GPU that stopped answering), or an entry that is not an
object, is that GPU failed; the others go on. A process entry that cannot be
read costs only itself. The only module that runs ``nvtop``.
"""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any

from gpulens.core.metrics.processes import ProcessResolver, sanitize_name
from gpulens.core.metrics.providers.base import ProviderError
from gpulens.core.metrics.providers.tools import ToolProvider, first_line
from gpulens.core.metrics.schema import GpuInfo, ProcessInfo, ProcessType, failed_gpu
from gpulens.core.metrics.text import OnceLog
from gpulens.core.metrics.units import bytes_to_mib, clamp_percent

log = logging.getLogger("gpulens.nvtop")
# The readings every nvtop -s version prints; a GPU with none of them answered nothing.
_READINGS = ("gpu_clock", "mem_clock", "temp", "power_draw", "gpu_util", "mem_util")
NO_READING = "nvtop lists this GPU but reports no reading for it (lost, or not answering)"

_VALUE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([A-Za-z%]*)\s*$")
# A line that ends a value (string, number, literal, object, array) followed by a line that
# starts a key or an object, with no comma between them: the 3.3.0/3.3.1 defect.
_MISSING_COMMA = re.compile(r'("|\d|null|true|false|\}|\])([ \t]*\r?\n[ \t]*)(["{])')
_KINDS: dict[str, ProcessType] = {
    "compute": "compute",
    "graphic": "graphics",
    "graphic & compute": "compute+graphics",
}


class NvtopError(ProviderError):
    """nvtop failed or printed something that is not a snapshot."""


def _repair(text: str) -> str:
    return _MISSING_COMMA.sub(r"\1,\2\3", text)


def load_snapshot(text: str) -> list[dict[str, Any] | None]:
    """Parse ``nvtop -s`` output into one dict per GPU (``None`` for an entry that is not an
    object), repairing the known comma defect."""
    body = text.strip()
    if not body.startswith("["):
        line = body.splitlines()[0][:200] if body else "empty output"
        raise NvtopError(f"nvtop: {line}")
    # ValueError: JSONDecodeError and over-long integers; RecursionError: absurd nesting.
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        try:
            data = json.loads(_repair(body))
        except (ValueError, RecursionError) as exc:
            raise NvtopError(f"nvtop: output is not valid JSON ({exc})") from exc
    if not isinstance(data, list) or (data and not any(isinstance(i, dict) for i in data)):
        raise NvtopError("nvtop: expected a JSON list of GPU objects")
    return [item if isinstance(item, dict) else None for item in data]  # None: that GPU failed


def _quantity(value: Any) -> tuple[float, str] | None:
    """``"58C"`` → (58.0, "C"); ``"57%"`` → (57.0, "%"); ``null``/garbage → None."""
    if isinstance(value, bool) or value is None:
        return None
    number: float | str
    if isinstance(value, int | float):
        number, unit = value, ""
    elif isinstance(value, str) and (match := _VALUE.match(value)) is not None:
        number, unit = match.group(1), match.group(2)
    else:
        return None
    try:
        parsed = float(number)
    except OverflowError:  # an integer too large for a float
        return None
    return (parsed, unit) if math.isfinite(parsed) else None


def _with_unit(value: Any, *units: str) -> float | None:
    parsed = _quantity(value)
    if parsed is None or parsed[1] not in units or parsed[0] < 0:
        return None
    return parsed[0]


def _int_with_unit(value: Any, *units: str) -> int | None:
    number = _with_unit(value, *units)
    return None if number is None else int(number)


def _temperature(value: Any) -> int | None:
    parsed = _quantity(value)
    if parsed is None:
        return None
    number, unit = parsed
    if unit == "F":
        return int(round((number - 32) * 5 / 9))
    return int(number) if unit in ("C", "") else None


def _percent(value: Any) -> int | None:
    return clamp_percent(_with_unit(value, "%", ""))


def _mib(value: Any) -> int | None:
    number = _with_unit(value, "")
    return bytes_to_mib(int(number)) if number is not None else None


def _process(raw: Any, resolve: ProcessResolver, problems: OnceLog) -> ProcessInfo | None:
    if not isinstance(raw, dict):
        problems.warning(
            "process-not-object", "nvtop -s: skipped a process entry that is not an object"
        )
        return None
    pid = _with_unit(raw.get("pid"), "")
    if pid is None or pid > 2**22:
        problems.warning("process-pid", "nvtop -s: skipped a process entry without a valid pid")
        return None
    cmdline = raw.get("cmdline")
    name = None
    if isinstance(cmdline, str) and cmdline.strip():
        name = sanitize_name(cmdline.strip().split()[0])
    user = raw.get("user")
    ident = resolve(int(pid))  # cached per process: its start time and container, at least
    kind = raw.get("kind")
    return ProcessInfo(
        pid=int(pid),
        name=name or ident.name,
        user=sanitize_name(user, limit=32) if isinstance(user, str) else ident.user,
        used_memory_mib=_mib(raw.get("gpu_mem_bytes_alloc")),
        type=_KINDS.get(kind) if isinstance(kind, str) else None,
        sm_utilization=_percent(raw.get("gpu_usage")),
        start_time=ident.started,
        container=ident.container,
    )


def gpus_from_snapshot(
    items: list[dict[str, Any] | None],
    resolve: ProcessResolver,
    problems: OnceLog | None = None,
) -> list[GpuInfo]:
    """Normalise parsed snapshot objects; unknown keys are ignored.

    ``problems`` logs each kind of unreadable entry once (the provider keeps one for its life).
    """
    problems = problems if problems is not None else OnceLog(log)
    gpus: list[GpuInfo] = []
    for index, item in enumerate(items):
        item = item or {}
        name = item.get("device_name")
        label = (sanitize_name(name, limit=96) if isinstance(name, str) else None) or f"GPU {index}"
        # nvtop prints every key, null when it has no value: all of them null, or an entry
        # that was not an object, is a GPU that did not answer.
        if not item or all(key in item and item[key] is None for key in _READINGS):
            gpus.append(failed_gpu(index, label, NO_READING))
            continue
        shared = _percent(item.get("encode_decode"))
        raw_procs = item.get("processes")
        procs = [
            p
            for p in (
                _process(r, resolve, problems)
                for r in (raw_procs if isinstance(raw_procs, list) else [])
            )
            if p is not None
        ]
        procs.sort(key=lambda p: (-(p.used_memory_mib or 0), p.pid))
        gpus.append(
            GpuInfo(
                id=index,
                name=label,
                sm_clock=_int_with_unit(item.get("gpu_clock"), "MHz"),
                memory_clock=_int_with_unit(item.get("mem_clock"), "MHz"),
                temperature=_temperature(item.get("temp")),
                fan_speed=_percent(item.get("fan_speed")),
                power_usage=_with_unit(item.get("power_draw"), "W"),
                utilization=_percent(item.get("gpu_util")),
                memory_utilization=_percent(item.get("mem_util")),
                encoder_utilization=shared if shared is not None else _percent(item.get("encode")),
                decoder_utilization=shared if shared is not None else _percent(item.get("decode")),
                memory_total=_mib(item.get("mem_total")),
                memory_used=_mib(item.get("mem_used")),
                memory_free=_mib(item.get("mem_free")),
                processes=procs,
            )
        )
    return gpus


class NvtopProvider(ToolProvider):
    """Samples through ``nvtop -s`` (one process per sample, ~75 ms on an H200)."""

    name = "nvtop"
    binary_name = "nvtop"
    error = NvtopError

    def _open(self) -> None:
        self._problems = OnceLog(log)
        self._check_opens(self.sample)

    def sample(self) -> list[GpuInfo]:
        result = self._exec("-s")
        output = result.stdout or ""
        if result.returncode != 0 or not output.lstrip().startswith("["):
            text = output + (result.stderr or "")
            if "invalid option" in text or "unrecognized option" in text:
                raise NvtopError("nvtop: this version has no -s (snapshot) option; 3.2.0 or newer")
            raise NvtopError(f"nvtop: {first_line(result)}")
        return gpus_from_snapshot(load_snapshot(output), self._resolve, self._problems)
