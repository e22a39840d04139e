"""GET /api/usage: GPU-hours and GiB-hours per user, process, container, GPU or session.

Parameters (all optional; docs/protocol.md):

* ``from``, ``to``: Unix seconds or ISO 8601 times with a zone (default: the last 24 h);
* ``by``: ``user`` (default), ``process``, ``container``, ``gpu`` or ``session``;
* ``limit``: groups at most, 1-10000 (default 1000; ``truncated`` says when more were cut);
* ``format``: ``json`` or ``csv`` (also ``Accept: text/csv``).

A bad parameter is a 400 whose ``detail`` starts with its name, as /api/history.
With HIDE_USERS every user name is replaced by its pseudonym (by=user still keeps
two users apart, their rows are grouped on the real names).
"""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime
from typing import Annotated, get_args

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.responses import Response

from gpulens.api import params
from gpulens.api.deps import HistoryDep, MaskDep
from gpulens.api.history import HistoryState
from gpulens.api.records import GPU_SECONDS_METHOD, UsageBy, UsageResponse, UsageRow
from gpulens.services.history import usage
from gpulens.services.privacy import UserMask

router = APIRouter()

DEFAULT_RANGE_S = 86_400.0
DEFAULT_LIMIT = 1000
BY: tuple[str, ...] = get_args(UsageBy)


def _by(raw: str | None) -> UsageBy:
    value = "user" if raw is None or raw.strip() == "" else raw.strip()
    if value not in BY:
        raise HTTPException(400, f"by: unknown {value[:40]!r} (known: {', '.join(BY)})")
    return value  # type: ignore[return-value]


def _row(group: usage.UsageGroup, by: UsageBy, mask: UserMask | None) -> UsageRow:
    key, label, user = group.key, group.label, group.user
    if mask is not None:
        user = mask.user(user)
        if by == "user":
            key = mask.user(key) or "" if key else ""
            label = key or label
    return UsageRow(
        key=key, label=label, gpu_hours=group.gpu_hours, gib_hours=group.gib_hours,
        held_hours=group.held_hours, sessions=group.sessions,
        peak_memory_mib=group.peak_memory_mib, mean_memory_mib=group.mean_memory_mib,
        mean_sm=group.mean_sm, first_seen=group.first_seen, last_seen=group.last_seen,
        gpu=group.gpu, pid=group.pid, process=group.process, user=user,
        container=group.container, start_time=group.start_time,
    )  # fmt: skip


@router.get(
    "/api/usage",
    response_model=None,
    responses={200: {"model": UsageResponse, "description": "JSON; text/csv when asked"}},
)
async def usage_route(
    request: Request,
    recorder: HistoryDep,
    mask: MaskDep,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    by: str | None = None,
    limit: str | None = None,
    format: str | None = None,
) -> Response:
    """GPU-hours, GiB-hours and time held over a range, grouped, most used first."""
    recorder = params.store_of(recorder)
    start, stop = params.time_range(from_, to, default_s=DEFAULT_RANGE_S, now=time.time())
    group_by = _by(by)
    most = params.whole("limit", limit, default=DEFAULT_LIMIT, most=usage.MAX_LIMIT)
    as_csv = params.wants_csv(request, format)
    result = await params.read(
        lambda: usage.query(recorder.path, start=start, stop=stop, by=group_by, limit=most)
    )
    rows = [_row(g, group_by, mask) for g in result.rows]
    total = _row(result.total, group_by, None) if result.total is not None else None
    if as_csv:
        return _csv(rows, group_by, start, stop)
    status = recorder.status()
    body = UsageResponse.model_validate(
        {
            "from": start,
            "to": stop,
            "by": group_by,
            "method": GPU_SECONDS_METHOD,
            "rows": rows,
            "truncated": result.truncated,
            "total": total,
            "status": HistoryState(state=status.state, reason=status.reason),
        }
    )
    return Response(body.model_dump_json(by_alias=True), media_type="application/json")


CSV_HEADER = [
    "key", "label", "gpu_hours", "gib_hours", "held_hours", "sessions", "peak_memory_mib",
    "mean_memory_mib", "mean_sm_percent", "first_seen_utc", "last_seen_utc",
    "gpu", "pid", "process", "user", "container", "start_time_utc",
]  # fmt: skip


def _iso(when: float | None) -> str:
    if when is None:
        return ""
    return datetime.fromtimestamp(when, UTC).isoformat().replace("+00:00", "Z")


def _csv(rows: list[UsageRow], by: UsageBy, start: float, stop: float) -> Response:
    """One row per group; units in the column names."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for r in rows:
        writer.writerow(
            [
                r.key, r.label, round(r.gpu_hours, 6), round(r.gib_hours, 6),
                round(r.held_hours, 6), r.sessions, r.peak_memory_mib,
                "" if r.mean_memory_mib is None else round(r.mean_memory_mib, 1),
                "" if r.mean_sm is None else round(r.mean_sm, 1),
                _iso(r.first_seen), _iso(r.last_seen), r.gpu or "",
                "" if r.pid is None else r.pid, r.process or "", r.user or "",
                r.container or "", _iso(r.start_time),
            ]
        )  # fmt: skip
    name = f"gpulens-usage-{by}-{int(start)}-{int(stop)}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )
