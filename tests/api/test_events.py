"""GET /api/events: every bad parameter a 400 naming it, HISTORY=off a 404, a store that
cannot be read a 503; for the rest the events overlapping the range, newest first, paged
with a cursor (JSON or CSV), user names masked with HIDE_USERS."""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gpulens.services.findings.model import Event
from gpulens.services.history import events, store
from tests.fakes import make_client

NOW = math.floor(time.time() / 60) * 60
MANY = 1_200  # instant changes, one every 10 s over the last [NOW - 12000, NOW)


def event(event_id: str, start: float, end: float | None = None, **fields: Any) -> Event:
    base: dict[str, Any] = {
        "id": event_id, "kind": "idleHolding", "severity": "warning",
        "start": datetime.fromtimestamp(start, UTC),
        "end": None if end is None else datetime.fromtimestamp(end, UTC),
        "gpu": "GPU-a", "gpu_index": 0, "gpu_name": "NVIDIA H200", "pid": 4242,
        "process": "python", "user": "alice", "container": "0123456789ab",
        "summary": "python (alice) holds 40.0 GiB, 0 % SM, for 12 min",
        "action": "Ask alice whether the notebook is still needed.", "value": 40.0,
    }  # fmt: skip
    base.update(fields)
    return Event(**base)


HELD = event("held", NOW - 3 * 86_400)  # began three days ago, still holds
OLD = event("old", NOW - 3 * 86_400, NOW - 2 * 86_400)  # over before the last day
XID = event(
    "xid-1", NOW - 500, NOW - 500, kind="xid", severity="critical", gpu="GPU-b", gpu_index=1,
    pid=None, process=None, user=None, container=None, summary="XID 79 on GPU 1",
    action="Drain the node.", value=79.0,
)  # fmt: skip


@pytest.fixture(scope="module")
def store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("api-events") / "history.db"
    conn = store.open_store(path)
    changes = [
        event(f"chg-{i:04d}", NOW - 12_000 + i * 10, NOW - 12_000 + i * 10, kind="gpuAdded",
              severity="info", pid=None, process=None, user=None, container=None,
              summary=f"GPU {i} added", action="Nothing to do.", value=None)
        for i in range(MANY)
    ]  # fmt: skip
    conn.execute("BEGIN IMMEDIATE")
    events.write(conn, [HELD, OLD, XID, *changes])
    conn.execute("COMMIT")
    conn.close()
    return path


@pytest.fixture
def api(store_file: Path) -> Iterator[TestClient]:
    """The app on that store, its lifespan not started (no writer touches the file)."""
    client = make_client(history_path=str(store_file))
    yield client
    client.close()


def get(api: TestClient, **params: object) -> dict[str, Any]:
    response = api.get("/api/events", params={k.rstrip("_"): v for k, v in params.items()})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = json.loads(response.text)
    return body


# --- bad parameters ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"from": NOW, "to": NOW - 60}, "from"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2024-05-01T10:00:00"}, "from"),  # no zone
        ({"to": "nan"}, "to"),
        ({"to": "1e12"}, "to"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "2.5"}, "limit"),
        ({"cursor": "garbage!"}, "cursor"),
        ({"cursor": "WzEsMl0"}, "cursor"),  # base64 of [1,2]: not one of ours
        ({"kind": "hot,bogus"}, "kind"),
        ({"severity": "fatal"}, "severity"),
        ({"format": "xml"}, "format"),
        ({"gpu": ",".join(f"GPU-{i}" for i in range(65))}, "gpu"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(
    api: TestClient, params: dict[str, object], name: str
) -> None:
    response = api.get("/api/events", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith(f"{name}:")


def test_an_unknown_kind_lists_the_known_ones(api: TestClient) -> None:
    detail = api.get("/api/events", params={"kind": "xidd"}).json()["detail"]
    assert "'xidd'" in detail and "idleHolding" in detail and "gpuAdded" in detail


def test_history_off_is_a_404() -> None:
    client = make_client(history=False)
    response = client.get("/api/events")
    assert response.status_code == 404 and "HISTORY=off" in response.text
    client.close()


def test_a_store_that_cannot_be_read_is_a_503(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    path.write_bytes(b"not a database at all" * 100)
    client = make_client(history_path=str(path))
    response = client.get("/api/events")
    assert response.status_code == 503
    assert response.json()["detail"].startswith("the history store cannot be read")
    client.close()


def test_an_empty_or_missing_store_answers_empty(tmp_path: Path) -> None:
    client = make_client(history_path=str(tmp_path / "none-yet.db"))
    body = get(client)
    assert body["events"] == [] and body["next"] is None and body["total"] == 0
    client.close()


# --- answers --------------------------------------------------------------------------


def test_the_default_is_the_last_day_newest_first_with_active_findings(api: TestClient) -> None:
    body = get(api)
    assert set(body) == {"from", "to", "events", "next", "total", "status"}
    assert body["to"] - body["from"] == 86_400
    assert body["total"] == MANY + 2  # the changes, the XID, the finding that still holds
    assert len(body["events"]) == 200 and body["next"] is not None
    starts = [e["start"] for e in body["events"]]
    assert starts == sorted(starts, reverse=True)
    assert body["events"][0]["id"] == "chg-1199" and body["status"]["state"] in ("starting", "ok")
    first = body["events"][0]
    assert first["end"] == first["start"] and first["start"].endswith("Z")


def test_paging_through_a_range_loses_and_repeats_nothing(api: TestClient) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"from": NOW - 86_400, "to": NOW, "limit": 500}
        if cursor is not None:
            params["cursor"] = cursor
        body = get(api, **params)
        assert len(body["events"]) <= 500 and body["total"] == MANY + 2
        seen.extend(e["id"] for e in body["events"])
        cursor = body["next"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == MANY + 2
    assert seen[-1] == "held" and "old" not in seen


def test_filters_by_kind_severity_and_gpu(api: TestClient) -> None:
    xid = get(api, kind="xid")
    assert [e["id"] for e in xid["events"]] == ["xid-1"] and xid["total"] == 1
    assert xid["events"][0] == json.loads(XID.model_dump_json(by_alias=True))
    assert get(api, severity="critical,warning")["total"] == 2
    assert [e["id"] for e in get(api, gpu="GPU-b")["events"]] == ["xid-1"]
    assert get(api, kind="idleHolding", from_=NOW - 4 * 86_400)["total"] == 2
    assert get(api, kind="hot")["events"] == []


def test_iso_times_with_a_zone_work_like_unix_seconds(api: TestClient) -> None:
    iso = datetime.fromtimestamp(NOW - 600, UTC).isoformat().replace("+00:00", "Z")
    assert get(api, from_=iso, to=NOW) == get(api, from_=NOW - 600, to=NOW)


def test_csv_has_one_row_per_event(api: TestClient) -> None:
    response = api.get("/api/events", params={"format": "csv", "kind": "idleHolding,xid"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["id"] for r in rows] == ["xid-1", "held"]
    held = rows[1]
    assert held["user"] == "alice" and held["end"] == "" and held["pid"] == "4242"
    assert held["start"].endswith("Z") and held["summary"] == HELD.summary
    by_accept = api.get("/api/events", params={"limit": 3}, headers={"accept": "text/csv"})
    assert len(by_accept.text.strip().splitlines()) == 4  # the header and a page of three
    assert by_accept.headers["x-next-cursor"]


def test_hide_users_masks_the_user_in_json_and_csv(store_file: Path) -> None:
    client = make_client(history_path=str(store_file), hide_users=True)
    body = get(client, kind="idleHolding")
    (held,) = body["events"]
    alias = held["user"]
    assert alias.startswith("user-") and "alice" not in json.dumps(body)
    assert held["summary"] == HELD.summary.replace("alice", alias)  # named there too
    assert held["action"] == f"Ask {alias} whether the notebook is still needed."
    text = client.get("/api/events", params={"kind": "idleHolding", "format": "csv"}).text
    assert held["user"] in text and ",alice," not in text
    client.close()


def test_the_app_stores_the_events_it_detects_and_serves_them(tmp_path: Path) -> None:
    """The whole app running: the events the stream's detector reports (the provider
    coming up, at least) and one queued by hand are in the answer once a flush has
    written them."""

    def ids() -> list[str]:
        return [e["id"] for e in get(client)["events"]]

    with make_client(history_path=str(tmp_path / "history.db")) as client:
        recorder = client.app.state.history  # type: ignore[attr-defined]
        recorder.record_events([XID])
        deadline = time.monotonic() + 15
        while "xid-1" not in ids() and time.monotonic() < deadline:
            recorder.flushed.clear()
            recorder.flushed.wait(1)
        found = get(client)["events"]
    assert "xid-1" in [e["id"] for e in found]
    assert any(e["kind"] == "provider" for e in found), found
