"""What the store's routes (/api/history, /api/events, /api/usage) share: reading their
parameters, answering 400 with the parameter's name first, and reading the store off the
event loop (at most two queries at once; 503 when it cannot be read)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import anyio
from fastapi import HTTPException, Request

from gpulens.services.history.query import QueryError
from gpulens.services.history.recorder import HistoryRecorder
from gpulens.services.history.store import StoreUnusable

T = TypeVar("T")

LATEST_TIME = 253_402_300_799.0  # 9999-12-31T23:59:59Z
_limiter = anyio.CapacityLimiter(2)  # queries at once; more wait (each is CPU-bound)


def moment(name: str, raw: str | None) -> float | None:
    """Unix seconds or an ISO 8601 time with a zone; None when not given."""
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip()
    try:
        value = float(text)
    except ValueError:
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise HTTPException(
                400, f"{name}: {raw[:40]!r} is neither Unix seconds nor an ISO 8601 time"
            ) from None
        if when.tzinfo is None:
            raise HTTPException(400, f"{name}: give the time zone (e.g. {text}Z)") from None
        value = when.timestamp()
    if not math.isfinite(value) or not 0 <= value <= LATEST_TIME:
        raise HTTPException(400, f"{name}: {raw[:40]!r} is not a time between 1970 and 9999")
    return value


def time_range(
    from_: str | None, to: str | None, *, default_s: float, now: float
) -> tuple[float, float]:
    """``[from, to)``: ``to`` defaults to now, ``from`` to ``default_s`` before ``to``."""
    stop = moment("to", to)
    start = moment("from", from_)
    stop = now if stop is None else stop
    start = stop - default_s if start is None else start
    if stop <= start:
        raise HTTPException(400, "from: must be before to")
    return start, stop


def names(name: str, raw: str | None, known: set[str] | None = None) -> list[str] | None:
    """A comma-separated list (at most 64), each one of ``known`` when given."""
    if raw is None or raw.strip() == "":
        return None
    found = [n.strip() for n in raw.split(",") if n.strip()]
    if len(found) > 64:
        raise HTTPException(400, f"{name}: at most 64 names")
    if known is not None:
        unknown = [n for n in found if n not in known]
        if unknown:
            listed = ", ".join(sorted(known))
            raise HTTPException(400, f"{name}: unknown {unknown[0][:40]!r} (known: {listed})")
    return found


def whole(name: str, raw: str | None, *, default: int, most: int) -> int:
    """A whole number from 1 to ``most``."""
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise HTTPException(400, f"{name}: {raw[:20]!r} is not a whole number") from None
    if not 1 <= value <= most:
        raise HTTPException(400, f"{name}: must be between 1 and {most}")
    return value


def wants_csv(request: Request, fmt: str | None) -> bool:
    """``format=csv`` (or ``json``), else an ``Accept: text/csv`` that does not also take JSON."""
    if fmt is not None:
        if fmt not in ("json", "csv"):
            raise HTTPException(400, f"format: {fmt[:20]!r} is not json or csv")
        return fmt == "csv"
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


def store_of(recorder: HistoryRecorder | None) -> HistoryRecorder:
    """The recorder, or 404 with HISTORY=off."""
    if recorder is None:
        raise HTTPException(404, "history is off (HISTORY=off)")
    return recorder


async def read(query: Callable[[], T]) -> T:
    """Run a store query on a worker thread: its ``QueryError`` is a 400, an unreadable
    store a 503."""
    try:
        return await anyio.to_thread.run_sync(query, limiter=_limiter)
    except QueryError as exc:
        raise HTTPException(400, str(exc)) from None
    except StoreUnusable as exc:
        raise HTTPException(503, f"the history store cannot be read: {exc}") from None
