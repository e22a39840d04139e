"""The fleet's messages: every host and GPU the Prometheus server knows (FLEET_PROMETHEUS_URL).

Values come from PromQL answers; a value Prometheus does not have, or has as NaN or
±Inf, is ``None`` (``null``), never ``0``. Units are those of ``/ws/gpu``: % , MiB, °C, W.
Label values are data: control characters are stripped, the rest (HTML included) is
text for the page to show as text.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gpulens.core.metrics.schema import CamelModel, Reason, Timestamp

FleetGpuState = Literal["busy", "idle", "hot", "stale", "down"]
FleetHostState = Literal["up", "down", "stale"]
FleetState = Literal["off", "ok", "degraded", "unavailable"]
Exporter = Literal["gpulens", "dcgm-exporter", "unknown"]


class FleetGpu(CamelModel):
    """One GPU of a host, as its exporter's latest samples in Prometheus say."""

    gpu: str = Field(description="The GPU's index (the `gpu` label), as a string.")
    uuid: str | None = Field(description="The `UUID` label; None when missing.")
    name: str | None = Field(description="The `modelName` label; None when missing.")
    utilization: float | None = Field(description="DCGM_FI_DEV_GPU_UTIL, %.")
    memory_used: float | None = Field(description="DCGM_FI_DEV_FB_USED, MiB.")
    memory_total: float | None = Field(
        description="DCGM_FI_DEV_FB_TOTAL when exported (gpulens does), else FB_USED + "
        "FB_FREE (+ FB_RESERVED when exported), MiB."
    )
    temperature: float | None = Field(description="DCGM_FI_DEV_GPU_TEMP, °C.")
    power_usage: float | None = Field(description="DCGM_FI_DEV_POWER_USAGE, W.")
    state: FleetGpuState = Field(
        description="busy (utilization ≥ BUSY_UTILIZATION_PCT), idle, hot (temperature ≥ "
        "TEMP_HOT_C), stale (no recent sample) or down (its target is down, or gpulens "
        "marks the GPU failed). A stale or down GPU keeps its last-known values."
    )
    history: list[float | None] = Field(
        default_factory=list,
        description="Utilization sparkline, oldest first, one point per step (None: no sample).",
    )


class FleetHost(CamelModel):
    """One scrape target (an instance) and its GPUs."""

    key: str = Field(description="What tells hosts apart: the target's instance.")
    host: str = Field(description="The `Hostname` label, else the host part of the instance.")
    label: str = Field(
        description="How to show the host: its name, 'name (instance)' when two instances "
        "share a name."
    )
    instance: str
    job: str
    exporter: Exporter = Field(
        description="gpulens (the target exposes gpulens_* series), dcgm-exporter, or unknown "
        "(no GPU series at all)."
    )
    state: FleetHostState = Field(
        description="up; down (`up` is 0, or the target is gone from Prometheus); stale (no "
        "sample newer than FLEET_STALE_S)."
    )
    last_sample: float | None = Field(
        description="The newest sample of this target, Unix seconds; None when unknown."
    )
    url: str | None = Field(
        description="The host's own gpulens page, from the FLEET_LINK_LABEL target label "
        "(http or https only); None when not set."
    )
    reason: Reason | None = Field(None, description="Why the host is down or stale.")
    gpus: list[FleetGpu]


class FleetStatus(CamelModel):
    """Whether the last refresh worked, and if not, which failure."""

    state: FleetState = Field(
        description="off (no FLEET_PROMETHEUS_URL), ok, degraded (an answer came but part of "
        "it failed) or unavailable (Prometheus could not be queried; hosts are the last known)."
    )
    reason: Reason | None = Field(None, description="Which failure, in one line (no secrets).")
    last_refresh: float | None = Field(
        None, description="When the last refresh ended, Unix seconds."
    )
    last_success: float | None = Field(
        None, description="When a refresh last worked, Unix seconds."
    )
    queries: int = Field(0, ge=0, description="PromQL queries made by the last refresh.")
    duration_ms: float | None = Field(None, description="How long the last refresh took.")


class FleetTotals(CamelModel):
    hosts: int = Field(ge=0)
    hosts_down: int = Field(ge=0, description="Hosts down or stale.")
    gpus: int = Field(ge=0)
    busy: int = Field(ge=0)
    idle: int = Field(ge=0)
    hot: int = Field(ge=0)


class Fleet(CamelModel):
    """Every host and GPU Prometheus knows; sent after the hello and whenever it changes."""

    type: Literal["fleet"] = "fleet"
    timestamp: Timestamp
    status: FleetStatus
    hosts: list[FleetHost] = Field(description="Sorted by label, then instance.")
    totals: FleetTotals


class FleetHistorySeries(CamelModel):
    """One GPU of one host over the range: ``times`` and each value series, aligned."""

    key: str = Field(description="The host's key (its instance), as in the fleet message.")
    host: str
    instance: str
    gpu: str
    uuid: str | None
    name: str | None
    times: list[float] = Field(description="Unix seconds, one per step.")
    utilization: list[float | None]
    memory_used: list[float | None]
    temperature: list[float | None]
    power_usage: list[float | None]


class FleetHistoryResponse(CamelModel):
    """GET /api/fleet/history: the fleet's GPUs over [from, to], from Prometheus range queries."""

    start: float = Field(alias="from", description="Unix seconds.")
    to: float
    step: float = Field(gt=0, description="Seconds between points.")
    series: list[FleetHistorySeries]
    status: FleetStatus
