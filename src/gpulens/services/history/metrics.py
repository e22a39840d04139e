"""What the history keeps of each sample, in which unit, at which precision.

Each metric is stored as an integer: the reading times ``scale`` (0.1 % for
utilisations, 0.1 °C, 0.1 W, 1 MiB, 1 MHz, 0.01 for the load average), which is
finer than any source reports. The order of each tuple is the order of the
columns in a stored block: append new metrics at the end (older blocks then
read ``None`` for them), never reorder.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from gpulens.core.metrics.schema import GpuInfo, SystemInfo

T = TypeVar("T")
# Stored values stay within ±2^40 (10^12 MiB, MHz, tenths of a watt: no sensor's), so a
# 1 h bucket's sum of even a million samples, and the codec's differences, fit in 64 bits.
LIMIT = 1 << 40


@dataclass(frozen=True, slots=True)
class Metric(Generic[T]):
    name: str  # as in the API (camelCase, the payload's field name where there is one)
    unit: str
    scale: int
    read: Callable[[T], float | int | None]

    def scaled(self, source: T) -> int | None:
        """The reading in the metric's integer scale; ``None`` if missing, or if it is no
        number a sensor gives (infinite, NaN, beyond ``LIMIT``): a broken source must not
        stop the writer."""
        value = self.read(source)
        if value is None or not math.isfinite(value):
            return None
        scaled = round(value * self.scale)
        return scaled if -LIMIT < scaled < LIMIT else None


GPU_METRICS: tuple[Metric[GpuInfo], ...] = (
    Metric("utilization", "%", 10, lambda g: g.utilization),
    Metric("memoryUsed", "MiB", 1, lambda g: g.memory_used),
    Metric("memoryTotal", "MiB", 1, lambda g: g.memory_total),
    Metric("temperature", "°C", 10, lambda g: g.temperature),
    Metric("powerUsage", "W", 10, lambda g: g.power_usage),
    Metric("powerLimit", "W", 10, lambda g: g.power_limit),
    Metric("smClock", "MHz", 1, lambda g: g.sm_clock),
    Metric("memoryClock", "MHz", 1, lambda g: g.memory_clock),
    Metric("encoderUtilization", "%", 10, lambda g: g.encoder_utilization),
    Metric("decoderUtilization", "%", 10, lambda g: g.decoder_utilization),
    Metric("fanSpeed", "%", 10, lambda g: g.fan_speed),
    Metric("memoryUtilization", "%", 10, lambda g: g.memory_utilization),
)

HOST_METRICS: tuple[Metric[SystemInfo], ...] = (
    Metric("cpuUsage", "%", 10, lambda s: s.cpu_usage),
    Metric("memoryUsage", "%", 10, lambda s: s.memory_usage),
    Metric("memoryUsed", "MiB", 1, lambda s: s.memory_used),
    Metric("loadAverage", "", 100, lambda s: s.load_average[0]),
    Metric("diskUtilization", "%", 10, lambda s: s.disk_utilization),
)

HOST_KEY = "host"  # the host's series; GPUs are keyed by GpuInfo.key (UUID)


def gpu_row(gpu: GpuInfo) -> tuple[int | None, ...] | None:
    """The stored readings of one GPU in one sample; ``None`` for a failed GPU (a gap)."""
    if gpu.status == "failed":
        return None
    row = tuple(m.scaled(gpu) for m in GPU_METRICS)
    return row if any(v is not None for v in row) else None


def host_row(system: SystemInfo) -> tuple[int | None, ...]:
    return tuple(m.scaled(system) for m in HOST_METRICS)
