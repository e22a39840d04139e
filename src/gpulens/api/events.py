"""GET /api/events: the stored events (findings' episodes, GPU and provider changes).

Parameters (all optional; docs/protocol.md):

* ``from``, ``to``: Unix seconds or ISO 8601 times with a zone (default: the last
  24 hours); an event is in the range when it overlaps it (an active finding that
  began before ``from`` is);
* ``limit``: events per page, 1-500 (default 200); ``cursor``: the ``next`` of the
  previous page (older events);
* ``kind``, ``severity``: names, comma-separated; ``gpu``: GPU keys, comma-separated;
* ``format``: ``json`` or ``csv`` (also ``Accept: text/csv``).

A bad parameter is a 400 whose ``detail`` starts with its name, like
``/api/history``. With HIDE_USERS, user names are pseudonyms.
"""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from gpulens.api import params
from gpulens.api.deps import HistoryDep, MaskDep
from gpulens.api.history import HistoryState
from gpulens.api.records import EventsResponse
from gpulens.services.findings.model import EVENT_KINDS, SEVERITIES, Event
from gpulens.services.history import events as event_store
from gpulens.services.privacy import UserMask

router = APIRouter()

DEFAULT_RANGE_S = 86_400.0
CSV_COLUMNS = (
    "id", "kind", "severity", "start", "end", "gpu", "gpuIndex", "gpuName", "pid", "process",
    "user", "container", "value", "summary", "action",
)  # fmt: skip


@router.get(
    "/api/events",
    response_model=None,
    responses={200: {"model": EventsResponse, "description": "JSON; text/csv when asked"}},
)
async def events(
    request: Request,
    recorder: HistoryDep,
    mask: MaskDep,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    limit: str | None = None,
    cursor: str | None = None,
    kind: str | None = None,
    severity: str | None = None,
    gpu: str | None = None,
    format: str | None = None,
) -> Response:
    """Events that overlap a range, newest first, a page at a time."""
    recorder = params.store_of(recorder)
    start, stop = params.time_range(from_, to, default_s=DEFAULT_RANGE_S, now=time.time())
    size = params.whole(
        "limit", limit, default=event_store.DEFAULT_LIMIT, most=event_store.MAX_LIMIT
    )
    kinds = params.names("kind", kind, set(EVENT_KINDS))
    severities = params.names("severity", severity, set(SEVERITIES))
    gpus = params.names("gpu", gpu)
    after = cursor.strip() if cursor is not None and cursor.strip() else None
    as_csv = params.wants_csv(request, format)
    found, next_cursor, total = await params.read(
        lambda: event_store.query(
            recorder.path,
            start=start,
            stop=stop,
            limit=size,
            cursor=after,
            kinds=kinds,
            severities=severities,
            gpu=gpus,
        )
    )
    if mask is not None:
        found = [_hide(mask, e) for e in found]
    if as_csv:
        return _csv(found, start, stop, next_cursor)
    status = recorder.status()
    body = EventsResponse.model_validate(
        {
            "from": start,
            "to": stop,
            "events": found,
            "next": next_cursor,
            "total": total,
            "status": HistoryState(state=status.state, reason=status.reason),
        }
    )
    return Response(body.model_dump_json(by_alias=True), media_type="application/json")


def _hide(mask: UserMask, event: Event) -> Event:
    """The event with its user's name replaced by the pseudonym, in ``user`` and wherever
    the summary or the action names them ("Ask alice to ...")."""
    shown = mask.event(event)
    name, alias = event.user, shown.user
    if not name or alias is None or alias == name:
        return shown
    pattern = re.compile(rf"(?<![\w.-]){re.escape(name)}(?![\w-])")
    summary, action = pattern.sub(alias, shown.summary), pattern.sub(alias, shown.action)
    if (summary, action) == (shown.summary, shown.action):
        return shown
    return shown.model_copy(update={"summary": summary, "action": action})


def _stamp(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat().replace("+00:00", "Z")


def _csv(found: list[Event], start: float, stop: float, next_cursor: str | None) -> Response:
    """One row per event; the next page's cursor, if any, in the ``x-next-cursor`` header."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in found:
        writer.writerow(
            [e.id, e.kind, e.severity, _stamp(e.start), _stamp(e.end), e.gpu or "",
             "" if e.gpu_index is None else e.gpu_index, e.gpu_name or "",
             "" if e.pid is None else e.pid, e.process or "", e.user or "", e.container or "",
             "" if e.value is None else e.value, e.summary, e.action]
        )  # fmt: skip
    name = f"gpulens-events-{int(start)}-{int(stop)}.csv"
    headers = {"content-disposition": f'attachment; filename="{name}"'}
    if next_cursor is not None:
        headers["x-next-cursor"] = next_cursor
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
