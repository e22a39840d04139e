"""The small contract every GPU source implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from gpulens.core.metrics.schema import GpuInfo


class ProviderError(Exception):
    """A source failed to produce a sample; the message says why, for people."""


class ProviderUnavailable(ProviderError):
    """A source cannot be used on this machine at all (library or binary missing, no GPU)."""


@runtime_checkable
class Provider(Protocol):
    """A GPU telemetry source.

    ``sample`` blocks (library calls, subprocesses): callers run it off the
    event loop. It returns every GPU the source knows, a GPU that failed
    being marked ``status="failed"``; it raises ``ProviderError`` when the
    source as a whole failed this time.
    """

    name: str

    def sample(self) -> list[GpuInfo]: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class XidEvent:
    """An XID error as the driver's event API reported it (``nvml_events.py``)."""

    gpu: str  # the GPU's key (its UUID)
    code: int  # the XID number (e.g. 79: fallen off the bus; 48: double-bit ECC error)
    when: float  # Unix seconds, when gpulens received it


XidState = Literal["off", "starting", "ok", "unsupported", "failed"]


@dataclass(frozen=True, slots=True)
class XidStatus:
    """Whether XID errors can be watched here, and why not (told once, in /api/health)."""

    state: XidState
    reason: str | None = None


@runtime_checkable
class EventSource(Protocol):
    """A provider that also watches the driver's error events (NVML: XID errors).

    ``drain_events`` is called by the sampler after each read and returns at
    once with what arrived since the last call (a bounded buffer, oldest dropped).
    """

    def drain_events(self) -> list[XidEvent]: ...

    def events_status(self) -> XidStatus: ...
