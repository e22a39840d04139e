"""Findings and events: one record shape for both.

A **finding** is a condition that holds now (a process holding memory while
idle, a GPU throttling, an XID error): an ``Event`` whose ``end`` is ``None``.
When it stops holding, the same record gets its ``end`` and is told again.
GPU changes (added, removed) and provider changes are **instant** events
(``end == start``). Every event is stored (``/api/events``), streamed (the
``event`` message), counted in ``/metrics`` (``gpulens_events_total``) and
drawn on the history charts; the findings active now are the ``findings``
message and the page's Findings strip.

Privacy: who is involved is only pid, process name, user and container id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from gpulens.core.metrics.schema import CamelModel, Timestamp

Severity = Literal["info", "warning", "critical"]

FindingKind = Literal[
    "idleHolding",  # a process holds GPU memory while the GPU does no work
    "unownedMemory",  # memory used that no listed process owns
    "deadHolder",  # a process the driver lists no longer exists
    "throttling",  # thermal or power slowdown active
    "hot",  # within HOT_MARGIN_C of the GPU's own slowdown temperature
    "eccErrors",  # uncorrected ECC error counter increased
    "xid",  # an XID error reported by the driver
    "gpuLost",  # the GPU cannot be read (fell off the bus, GPU_IS_LOST)
]
ChangeKind = Literal["gpuAdded", "gpuRemoved", "provider"]
EventKind = Literal[
    "idleHolding",
    "unownedMemory",
    "deadHolder",
    "throttling",
    "hot",
    "eccErrors",
    "xid",
    "gpuLost",
    "gpuAdded",
    "gpuRemoved",
    "provider",
]
FINDING_KINDS: tuple[FindingKind, ...] = (
    "idleHolding",
    "unownedMemory",
    "deadHolder",
    "throttling",
    "hot",
    "eccErrors",
    "xid",
    "gpuLost",
)
EVENT_KINDS: tuple[EventKind, ...] = (*FINDING_KINDS, "gpuAdded", "gpuRemoved", "provider")
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")


class Event(CamelModel):
    """One finding's episode (``end`` None while it holds) or one instant change."""

    id: str = Field(
        description="Stable for the episode: the start and end of one finding share it."
    )
    kind: EventKind
    severity: Severity
    start: Timestamp
    end: Timestamp | None = Field(
        None, description="When it stopped holding; None while active; == start for a change."
    )
    gpu: str | None = Field(None, description="The GPU's key (UUID, else index:<id>).")
    gpu_index: int | None = None
    gpu_name: str | None = None
    pid: int | None = Field(None, ge=0)
    process: str | None = Field(None, description="Process name (never its command line).")
    user: str | None = None
    container: str | None = Field(None, description="Short container id (12 hex) or pod id.")
    summary: str = Field(description="What happened, one line with its numbers.")
    action: str = Field(description="One sentence: what to do about it.")
    value: float | None = Field(
        None,
        description="The measure behind it: GiB held or unowned, °C, MHz lost, the XID code, "
        "ECC errors added.",
    )

    @property
    def active(self) -> bool:
        return self.end is None


@dataclass(frozen=True, slots=True)
class Detection:
    """What the detector made of one sample (``Detector.step``)."""

    findings: tuple[Event, ...]  # active now, most severe first
    changed: bool  # the active set (or one of its records) differs from the last step's
    events: tuple[Event, ...]  # started, ended or instant since the last step, in order


NO_DETECTION = Detection((), False, ())
