"""The answers of GET /api/events and GET /api/usage (docs/protocol.md).

Defined apart from the routes so the page's validators (``gpulens schema
--events`` / ``--usage``) are generated from the same models the server sends.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gpulens.api.history import HistoryState
from gpulens.core.metrics.schema import CamelModel
from gpulens.services.findings.model import Event

UsageBy = Literal["user", "process", "container", "gpu", "session"]

GPU_SECONDS_METHOD = (
    "GPU-hours: for each sample interval (at most 3 poll intervals, so a gap is not "
    "counted), the share of the GPU the process used: its own SM % where the source gives "
    "per-process utilization (NVML), else the part of the GPU's utilization the others' SM % "
    "leave, split among the processes without one in proportion to their memory. GiB-hours: "
    "GPU memory held × time. Held hours: time the "
    "process held a context on the GPU, busy or not."
)


class EventsResponse(CamelModel):
    """GET /api/events: events that overlap [from, to), newest first, one page."""

    start: float = Field(alias="from", description="Unix seconds.")
    to: float
    events: list[Event]
    next: str | None = Field(
        description="Cursor for the next (older) page: pass it as ?cursor=; None at the end."
    )
    total: int = Field(ge=0, description="Events in the range that match the filters.")
    status: HistoryState


class UsageRow(CamelModel):
    """One user, process name, container, GPU or (by=session) one process session."""

    key: str = Field(description="What the row groups by ('' when unknown, e.g. no user).")
    label: str = Field(description="How to show the key (a GPU's name and index, …).")
    gpu_hours: float = Field(ge=0)
    gib_hours: float = Field(ge=0)
    held_hours: float = Field(ge=0)
    sessions: int = Field(ge=0, description="Process sessions (pid + start time) counted.")
    peak_memory_mib: int = Field(ge=0)
    mean_memory_mib: float | None = Field(description="Mean over the time held, MiB.")
    mean_sm: float | None = Field(
        description="Mean SM % over the time held, where the source gives it."
    )
    first_seen: float = Field(description="Unix seconds.")
    last_seen: float = Field(description="Unix seconds.")
    # by=session only: the session's identity
    gpu: str | None = None
    pid: int | None = None
    process: str | None = None
    user: str | None = None
    container: str | None = None
    start_time: float | None = Field(None, description="The process's start, Unix seconds.")


class UsageResponse(CamelModel):
    """GET /api/usage: GPU-hours and GiB-hours over [from, to), grouped, most used first."""

    start: float = Field(alias="from", description="Unix seconds.")
    to: float
    by: UsageBy
    method: str = Field(description="How GPU-hours and GiB-hours are counted.")
    rows: list[UsageRow]
    truncated: bool = Field(description="More rows than the limit: the least used were left out.")
    total: UsageRow | None = Field(description="All rows summed (None when there is no usage).")
    status: HistoryState
