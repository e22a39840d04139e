"""Unit conversions and decoders shared by the sources (NVIDIA tools, NVML, the host)."""

from __future__ import annotations

import re

MIB = 1024 * 1024  # bytes in a MiB, the unit of every memory size in the payload

_PCI = re.compile(r"^([0-9A-Fa-f]{1,8}):([0-9A-Fa-f]{1,2}):([0-9A-Fa-f]{1,2})\.([0-7])$")

# nvmlClocksEventReason* bits (the same bits nvidia-smi prints as clocks_event_reasons.active).
CLOCK_EVENT_REASONS: tuple[tuple[int, str], ...] = (
    (0x0000000000000001, "gpu_idle"),
    (0x0000000000000002, "applications_clocks_setting"),
    (0x0000000000000004, "sw_power_cap"),
    (0x0000000000000008, "hw_slowdown"),
    (0x0000000000000010, "sync_boost"),
    (0x0000000000000020, "sw_thermal_slowdown"),
    (0x0000000000000040, "hw_thermal_slowdown"),
    (0x0000000000000080, "hw_power_brake_slowdown"),
    (0x0000000000000100, "display_clock_setting"),
)


def bytes_to_mib(value: int | None) -> int | None:
    """Bytes → MiB, rounded up to a whole MiB (as nvidia-smi prints them)."""
    if value is None:
        return None
    return -(-int(value) // MIB)


def cuda_version(value: int | None) -> str | None:
    """NVML's CUDA driver version integer (13000) → "13.0"; 12020 → "12.2"."""
    if value is None or value <= 0:
        return None
    return f"{value // 1000}.{(value % 1000) // 10}"


def clock_event_reasons(mask: int | None) -> list[str] | None:
    """Decode the active clock-event bitmask into stable names (unknown bits as hex)."""
    if mask is None:
        return None
    names = [name for bit, name in CLOCK_EVENT_REASONS if mask & bit]
    known = 0
    for bit, _ in CLOCK_EVENT_REASONS:
        known |= bit
    if mask & ~known:
        names.append(f"0x{mask & ~known:x}")
    return names


def clamp_percent(value: float | None) -> int | None:
    """A whole percentage; outside 0-100 is a reading error, reported as unknown."""
    if value is None or value != value or value < 0 or value > 100:
        return None
    return int(round(value))


def bus_key(bus_id: str | None) -> tuple[int, int, int, int] | None:
    """``00000000:18:00.0`` and ``0000:18:00.0`` → the same key (domain, bus, device, function)."""
    match = _PCI.match(bus_id.strip()) if bus_id else None
    if match is None:
        return None
    domain, bus, device, function = match.groups()
    return int(domain, 16), int(bus, 16), int(device, 16), int(function)


def canonical_bus_id(bus_id: str) -> str:
    """The form nvidia-smi's ``pci.bus_id`` and NVML use: ``00000000:18:00.0``."""
    key = bus_key(bus_id)
    if key is None:
        return bus_id
    return f"{key[0]:08X}:{key[1]:02X}:{key[2]:02X}.{key[3]:X}"
