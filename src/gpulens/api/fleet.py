"""Fleet mode (FLEET_PROMETHEUS_URL): the fleet as JSON, and its history from Prometheus.

* ``GET /api/fleet``: the latest fleet message (as sent on /ws/gpu); 404 when fleet mode
  is off, 503 before the first refresh ended.
* ``GET /api/fleet/history?from=&to=&step=``: every GPU's utilization, memory,
  temperature and power over [from, to] (default: the last hour), one point per ``step``
  seconds (default: about 240 points), from one Prometheus range query. ``from``/``to`` as
  /api/history (Unix seconds or ISO 8601 with a zone); a bad parameter is a 400 whose
  ``detail`` starts with its name. When Prometheus cannot be asked, the answer's
  ``status`` says why and ``series`` is empty.
"""

from __future__ import annotations

import math
import time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from starlette.requests import HTTPConnection
from starlette.responses import Response

from gpulens.api import params
from gpulens.services.fleet.model import Fleet, FleetHistoryResponse
from gpulens.services.fleet.poller import FleetPoller

router = APIRouter()

DEFAULT_RANGE_S = 3600.0
DEFAULT_POINTS = 240
MAX_POINTS = 11_000  # Prometheus refuses more points per series
MAX_STEP_S = 86_400


def get_fleet(conn: HTTPConnection) -> FleetPoller | None:
    fleet: FleetPoller | None = getattr(conn.app.state, "fleet", None)
    return fleet


FleetDep = Annotated[FleetPoller | None, Depends(get_fleet)]


def _on(fleet: FleetPoller | None) -> FleetPoller:
    if fleet is None:
        raise HTTPException(404, "fleet mode is off (set FLEET_PROMETHEUS_URL)")
    return fleet


@router.get(
    "/api/fleet",
    response_model=None,
    responses={200: {"model": Fleet, "description": "The latest fleet message."}},
)
def fleet_now(fleet: FleetDep) -> Response:
    """Every host and GPU Prometheus knows, as last refreshed (serialised once per refresh)."""
    poller = _on(fleet)
    if poller.frame is None:
        raise HTTPException(503, "no fleet refresh has ended yet")
    return Response(poller.frame, media_type="application/json")


@router.get(
    "/api/fleet/history",
    response_model=None,
    responses={200: {"model": FleetHistoryResponse, "description": "JSON"}},
)
async def fleet_history(
    fleet: FleetDep,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    step: str | None = None,
) -> Response:
    """The fleet's GPUs over a range, from Prometheus (the same range control as /api/history)."""
    poller = _on(fleet)
    start, stop = params.time_range(from_, to, default_s=DEFAULT_RANGE_S, now=time.time())
    default_step = max(1, math.ceil((stop - start) / DEFAULT_POINTS))
    every = params.whole("step", step, default=default_step, most=MAX_STEP_S)
    if (stop - start) / every >= MAX_POINTS:
        raise HTTPException(400, f"step: too small for this range (at most {MAX_POINTS} points)")
    body = await poller.history(start, stop, float(every))
    return Response(body.model_dump_json(by_alias=True), media_type="application/json")
