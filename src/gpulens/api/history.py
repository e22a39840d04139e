"""GET /api/history: the past, as buckets of min/mean/max (JSON, or CSV).

Parameters (all optional; docs/protocol.md):

* ``gpu``: ``all`` (every GPU and the host), ``gpus`` (every GPU), ``host``, or GPU keys
  (UUIDs), comma-separated;
* ``from``, ``to``: Unix seconds or ISO 8601 times with a zone (default: the last hour);
* ``step``: seconds per bucket wanted; the server may choose a longer one;
* ``metrics``: names, comma-separated (default: all);
* ``format``: ``json`` or ``csv`` (also ``Accept: text/csv``).

A bad parameter is a 400 whose ``detail`` starts with its name. A range with no
data gives buckets of ``null``, never an error.
"""

from __future__ import annotations

import csv
import io
import math
import time
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import Field
from starlette.responses import Response

from gpulens.api import params
from gpulens.api.deps import HistoryDep
from gpulens.core.metrics.schema import CamelModel
from gpulens.services.history import query
from gpulens.services.history.metrics import GPU_METRICS, HOST_METRICS

router = APIRouter()


class Stats(CamelModel):
    """One metric of one series: a value per point (``None``: no sample there, a gap)."""

    min: list[float | None]
    mean: list[float | None]
    max: list[float | None]


class HistorySeries(CamelModel):
    key: str = Field(description="The GPU's UUID (GpuInfo.key), or 'host'.")
    kind: Literal["gpu", "host"]
    name: str | None
    index: int | None = Field(description="The GPU's last index; None for the host.")
    first_seen: float = Field(description="Unix seconds.")
    last_seen: float = Field(description="Unix seconds.")
    values: dict[str, Stats] = Field(description="By metric name (see units).")


class HistoryState(CamelModel):
    state: Literal["off", "starting", "ok", "paused"]
    reason: str | None


class HistoryResponse(CamelModel):
    """GET /api/history (docs/protocol.md)."""

    start: float = Field(alias="from", description="The first point's start, Unix seconds.")
    to: float
    step: float = Field(gt=0, description="Seconds per point.")
    tier: Literal["raw", "10s", "1m", "10m", "1h"]
    resolution: int = Field(ge=0, description="The tier's bucket, s (0: each sample).")
    earliest: float | None = Field(description="The first moment the store knows.")
    status: HistoryState
    units: dict[str, str]
    times: list[float] = Field(description="Each point's start, Unix seconds.")
    series: list[HistorySeries]


DEFAULT_RANGE_S = 3600.0
UNITS = {m.name: m.unit for m in GPU_METRICS} | {m.name: m.unit for m in HOST_METRICS}


@router.get(
    "/api/history",
    response_model=None,
    responses={200: {"model": HistoryResponse, "description": "JSON; text/csv when asked"}},
)
async def history(
    request: Request,
    recorder: HistoryDep,
    gpu: str = "all",
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    step: str | None = None,
    metrics: str | None = None,
    format: str | None = None,
) -> Response:
    """Buckets of min, mean and max per GPU (and the host) over a range."""
    recorder = params.store_of(recorder)
    now = time.time()
    start, stop = params.time_range(from_, to, default_s=DEFAULT_RANGE_S, now=now)
    step_s: float | None = None
    if step is not None and step.strip():
        try:
            step_s = float(step)
        except ValueError:
            raise HTTPException(400, f"step: {step[:20]!r} is not a number of seconds") from None
        if not math.isfinite(step_s) or step_s <= 0:
            raise HTTPException(400, "step: must be a positive number of seconds")
    wanted = params.names("metrics", metrics, set(UNITS))
    keys: list[str] | None = None
    gpus_only = gpu.strip() == "gpus"
    if gpu.strip() not in ("all", "gpus"):
        keys = params.names("gpu", gpu)
    as_csv = params.wants_csv(request, format)
    result = await params.read(
        lambda: query.run(
            recorder.path,
            start=start,
            stop=stop,
            step=step_s,
            now=now,
            keys=keys,
            metrics=wanted,
            gpus_only=gpus_only,
        )
    )
    if keys is not None:
        found = {s.key for s in result.series}
        missing = [k for k in keys if k not in found]
        if missing:
            raise HTTPException(404, f"gpu: no history for {missing[0][:80]!r}")
    status = recorder.status()
    if as_csv:
        return _csv(result, start, stop)
    series = [
        HistorySeries(
            key=s.key,
            kind="host" if s.kind == "host" else "gpu",
            name=s.name,
            index=s.index,
            first_seen=s.first_seen,
            last_seen=s.last_seen,
            values={name: Stats(**stats) for name, stats in s.values.items()},
        )
        for s in result.series
    ]
    body = HistoryResponse.model_validate(
        {
            "from": result.plan.start,
            "to": result.plan.stop,
            "step": result.plan.step,
            "tier": result.plan.tier.name,
            "resolution": result.plan.tier.resolution,
            "earliest": result.earliest,
            "status": HistoryState(state=status.state, reason=status.reason),
            "units": {name: UNITS[name] for name in (wanted or UNITS)},
            "times": result.times,
            "series": series,
        }
    )
    return Response(body.model_dump_json(by_alias=True), media_type="application/json")


def _csv(result: query.Result, start: float, stop: float) -> Response:
    """Long format: one row per time, series and metric that has data."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["time", "series", "name", "metric", "unit", "min", "mean", "max"])
    stamps = [
        datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z") for t in result.times
    ]
    for series in result.series:
        for metric, stats in series.values.items():
            for i, mean in enumerate(stats["mean"]):
                if mean is None:
                    continue
                writer.writerow(
                    [stamps[i], series.key, series.name or "", metric, UNITS[metric],
                     stats["min"][i], mean, stats["max"][i]]
                )  # fmt: skip
    name = f"gpulens-history-{int(start)}-{int(stop)}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )
