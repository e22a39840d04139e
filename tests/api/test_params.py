"""The store routes' shared parameters: each bad value is a 400 that names it first."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import HTTPException
from starlette.requests import Request

from gpulens.api import params
from gpulens.services.history.query import QueryError
from gpulens.services.history.store import StoreUnusable


def status_and_detail(call: object) -> tuple[int, str]:
    with pytest.raises(HTTPException) as caught:
        call()  # type: ignore[operator]
    return caught.value.status_code, str(caught.value.detail)


def test_times_are_unix_seconds_or_iso_with_a_zone() -> None:
    assert params.moment("from", "1764720000") == 1764720000.0
    assert params.moment("from", "2026-12-02T22:00:00Z") == 1796248800.0
    assert params.moment("from", " ") is None
    assert status_and_detail(lambda: params.moment("to", "2026-12-02T22:00:00"))[1].startswith(
        "to: give the time zone"
    )
    for bad in ("yesterday", "nan", "-1", "1e20"):
        code, detail = status_and_detail(lambda bad=bad: params.moment("from", bad))
        assert code == 400 and detail.startswith("from: ")


def test_a_range_defaults_to_the_last_span_and_must_not_be_empty() -> None:
    assert params.time_range(None, None, default_s=3600, now=10_000) == (6400, 10_000)
    assert params.time_range("100", None, default_s=3600, now=10_000) == (100, 10_000)
    assert params.time_range(None, "500", default_s=100, now=10_000) == (400, 500)
    assert status_and_detail(lambda: params.time_range("5", "5", default_s=1, now=9)) == (
        400,
        "from: must be before to",
    )


def test_names_limits_and_formats() -> None:
    assert params.names("kind", "xid, hot,,", {"xid", "hot"}) == ["xid", "hot"]
    assert params.names("kind", None) is None
    code, detail = status_and_detail(lambda: params.names("kind", "xid,bogus", {"xid"}))
    assert (code, detail) == (400, "kind: unknown 'bogus' (known: xid)")
    assert status_and_detail(lambda: params.names("gpu", ",".join(["g"] * 65)))[1] == (
        "gpu: at most 64 names"
    )
    assert params.whole("limit", None, default=200, most=500) == 200
    assert params.whole("limit", " 7 ", default=200, most=500) == 7
    for bad in ("0", "501", "-3"):
        assert status_and_detail(
            lambda bad=bad: params.whole("limit", bad, default=1, most=500)
        ) == (
            400,
            "limit: must be between 1 and 500",
        )
    assert status_and_detail(lambda: params.whole("limit", "ten", default=1, most=5))[1] == (
        "limit: 'ten' is not a whole number"
    )
    request = Request({"type": "http", "headers": [(b"accept", b"text/csv")]})
    assert params.wants_csv(request, None) is True
    assert params.wants_csv(request, "json") is False
    assert status_and_detail(lambda: params.wants_csv(request, "xml"))[1].startswith("format:")


def test_history_off_is_404_and_store_errors_are_400_or_503() -> None:
    assert status_and_detail(lambda: params.store_of(None)) == (404, "history is off (HISTORY=off)")

    def bad_query() -> int:
        raise QueryError("cursor: not a cursor this server gave")

    def broken_store() -> int:
        raise StoreUnusable("file is not a database")

    assert status_and_detail(lambda: asyncio.run(params.read(bad_query))) == (
        400,
        "cursor: not a cursor this server gave",
    )
    code, detail = status_and_detail(lambda: asyncio.run(params.read(broken_store)))
    assert code == 503 and detail.endswith("file is not a database")
    assert asyncio.run(params.read(lambda: 42)) == 42
