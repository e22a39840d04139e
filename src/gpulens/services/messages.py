"""Every message on ``/ws/gpu``; all share the ``type`` field. See docs/protocol.md."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, TypeAdapter

from gpulens.core.metrics.schema import CamelModel, Reason, Telemetry, Timestamp
from gpulens.services.findings.model import Event
from gpulens.services.fleet.model import Fleet

ProviderState = Literal["ok", "degraded", "unavailable"]


class TemperatureThresholds(CamelModel):
    """Where the page starts to show a GPU as warm and as hot, °C (TEMP_WARN_C, TEMP_HOT_C)."""

    warn: int
    hot: int


class ClientConfig(CamelModel):
    """Front-end settings, allow-listed (nothing secret)."""

    poll_interval_ms: int
    ws_backlog: int
    heartbeat_interval_ms: int
    max_rate: float
    hostname: str
    version: str
    temperature_thresholds: TemperatureThresholds
    busy_utilization: int = Field(description="Utilization from which a GPU counts as busy, %.")
    fleet: bool = Field(
        False,
        description="Fleet mode is on (FLEET_PROMETHEUS_URL): the server sends fleet messages.",
    )


class ProviderStatus(CamelModel):
    state: ProviderState
    provider: str | None
    reason: Reason | None = None
    unavailable: dict[str, Reason] = Field(default_factory=dict)


class Hello(CamelModel):
    """First message to each client: settings, provider state and recent samples."""

    type: Literal["hello"] = "hello"
    config: ClientConfig
    status: ProviderStatus
    backfill: list[Telemetry]
    findings: list[Event] = Field(
        default_factory=list, description="Findings active now (see the findings message)."
    )
    events: list[Event] = Field(
        default_factory=list, description="The most recent events, oldest first."
    )


class GpuChange(CamelModel):
    """A GPU appeared (``gpuAdded``) or disappeared (``gpuRemoved``).

    ``uuid`` is the GPU's key: its UUID, or ``index:<id>`` when the source gives none.
    """

    type: Literal["gpuAdded", "gpuRemoved"]
    seq: int
    timestamp: Timestamp
    uuid: str
    id: int
    name: str


class Status(CamelModel):
    """The provider degraded or recovered."""

    type: Literal["status"] = "status"
    timestamp: Timestamp
    status: ProviderStatus


class Heartbeat(CamelModel):
    """Sent when nothing else was sent for a heartbeat period, so a dead link can be told apart."""

    type: Literal["heartbeat"] = "heartbeat"
    timestamp: Timestamp
    seq: int = Field(description="Last telemetry seq sent.")


class ErrorMessage(CamelModel):
    """Sent just before the server closes a connection, saying why."""

    type: Literal["error"] = "error"
    code: str
    message: str


class Findings(CamelModel):
    """The findings active now, sent whenever that set or one of its records changes.

    An empty list means all is well (the page shows no Findings strip).
    """

    type: Literal["findings"] = "findings"
    timestamp: Timestamp
    findings: list[Event]


class EventMessage(CamelModel):
    """A finding started or ended (same ``id``, ``end`` set), or a GPU or provider changed."""

    type: Literal["event"] = "event"
    event: Event


ServerMessage = (
    Telemetry
    | Hello
    | GpuChange
    | Status
    | Heartbeat
    | ErrorMessage
    | Findings
    | EventMessage
    | Fleet
)


def telemetry_json_schema() -> dict[str, Any]:
    return Telemetry.model_json_schema(by_alias=True, mode="serialization")


def protocol_json_schema() -> dict[str, Any]:
    """JSON Schema of every server message: an ``anyOf`` of the models, told apart by ``type``."""
    schema = TypeAdapter(ServerMessage).json_schema(by_alias=True, mode="serialization")
    schema["title"] = "gpulens /ws/gpu server message"
    return schema
