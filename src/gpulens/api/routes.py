"""HTTP and WebSocket routes."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, WebSocket
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from gpulens import __version__
from gpulens.api.access import MINIMAL_HEALTH_KEY, WS_LIMITED, WS_REQUIRED, cookie_header
from gpulens.api.deps import HistoryDep, HubDep, PolicyDep, SamplerDep, StreamDep
from gpulens.api.fleet import FleetDep
from gpulens.api.session import GateDep
from gpulens.core.metrics.providers.base import XidState
from gpulens.core.metrics.schema import CamelModel
from gpulens.services.fleet.poller import FleetPoller
from gpulens.services.history.recorder import HistoryRecorder
from gpulens.services.messages import ClientConfig
from gpulens.services.sampler import Sampler

router = APIRouter()


class HistoryHealth(CamelModel):
    state: Literal["off", "starting", "ok", "paused"]
    reason: str | None = None
    bytes: int | None = Field(None, description="Bytes the history store holds.")


class XidHealth(CamelModel):
    state: XidState
    reason: str | None = Field(
        None, description="Why XID errors are not watched (unsupported, no permission...)."
    )


class FleetHealth(CamelModel):
    state: Literal["off", "ok", "degraded", "unavailable", "starting"]
    reason: str | None = Field(None, description="Which failure (no secrets).")


class Health(CamelModel):
    status: Literal["ok", "degraded"]
    provider: str | None
    reason: str | None
    unavailable: dict[str, str]
    last_sample_age_s: float | None
    clients: int
    uptime_s: float
    version: str
    history: HistoryHealth = Field(description="The history store: its state, and why if paused.")
    events: int = Field(ge=0, description="Findings active now (the findings message).")
    xid: XidHealth = Field(description="Whether the driver's XID errors are watched, and why not.")
    fleet: FleetHealth = Field(
        description="Fleet mode: whether Prometheus answers (never changes `status`)."
    )


@router.get("/api/health", response_model=Health, response_model_by_alias=True)
def health(
    request: Request,
    hub: HubDep,
    stream: StreamDep,
    sampler: SamplerDep,
    recorder: HistoryDep,
    fleet: FleetDep,
) -> BaseModel | Response:
    """Service health: provider state, age of the last sample, connected clients.

    Without credentials, when access is required (and not from METRICS_ALLOW_FROM): only
    ``{"status": ...}``, with the same status code, for probes."""
    now = stream.clock()
    age = None if stream.last_sample_at is None else round(now - stream.last_sample_at, 3)
    stale = age is None or age > max(3 * sampler.interval, sampler.timeout + sampler.interval)
    status = stream.status
    ok = status.state == "ok" and not stale
    if request.scope.get(MINIMAL_HEALTH_KEY):
        return JSONResponse({"status": "ok" if ok else "degraded"})
    return Health(
        status="ok" if ok else "degraded",
        provider=status.provider,
        reason=status.reason
        or ("no sample yet" if age is None else "samples are late" if stale else None),
        unavailable=status.unavailable,
        last_sample_age_s=age,
        clients=len(hub.clients),
        uptime_s=round(sampler.clock() - sampler.started_at, 1),
        version=__version__,
        history=_history(recorder),
        events=len(stream.findings),
        xid=_xid(sampler),
        fleet=_fleet(fleet),
    )


def _history(recorder: HistoryRecorder | None) -> HistoryHealth:
    """The history store's state, without its file path (the log has it)."""
    if recorder is None:
        return HistoryHealth(state="off")
    status = recorder.status()
    return HistoryHealth(state=status.state, reason=status.reason, bytes=status.bytes)


def _fleet(fleet: FleetPoller | None) -> FleetHealth:
    if fleet is None:
        return FleetHealth(state="off")
    status = fleet.state
    if status is None:
        return FleetHealth(state="starting")
    return FleetHealth(state=status.state, reason=status.reason)


def _xid(sampler: Sampler) -> XidHealth:
    status = sampler.events_status()
    return XidHealth(state=status.state, reason=status.reason)


# Probes (load balancers, uptime checkers) often ask with HEAD.
router.add_api_route(
    "/api/health", health, methods=["HEAD"], response_model=Health, include_in_schema=False
)


@router.get("/api/config", response_model=ClientConfig, response_model_by_alias=True)
def config(stream: StreamDep) -> BaseModel:
    """Front-end settings (an allow-listed set of keys, nothing secret)."""
    return stream.config


@router.websocket("/ws/gpu")
async def gpu_stream(
    websocket: WebSocket, hub: HubDep, stream: StreamDep, policy: PolicyDep, gate: GateDep
) -> None:
    """Live telemetry: a hello with backfill, then telemetry, status, hot-plug and heartbeats."""
    if not policy.origin_ok(websocket.headers.get("origin"), websocket.headers.get("host")):
        await websocket.close(code=1008, reason="origin not allowed")  # before accept → HTTP 403
        return
    verdict = gate.check(websocket.scope)  # once, at the handshake
    if not verdict.ok:
        # Accepted, then closed with a code of its own: the page can tell "sign in"
        # from a network failure (a refused handshake looks like one to a browser).
        clear = cookie_header("", gate.secure(websocket.scope), clear=True)
        headers = [(b"set-cookie", clear.encode("latin-1"))] if verdict.clear_cookie else []
        await websocket.accept(headers=headers)
        code, reason = WS_LIMITED if verdict.retry_after is not None else WS_REQUIRED
        await websocket.close(code=code, reason=reason)
        return
    await websocket.accept()
    if hub.full:
        await hub.refuse_full(websocket)
        return
    client = websocket.client
    peer = f"{client.host}:{client.port}" if client else "?"
    await hub.serve(websocket, stream.hello, peer)
