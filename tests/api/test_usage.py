"""GET /api/usage: every bad parameter a 400 naming it, HISTORY=off a 404, an unreadable
store a 503; the groups as JSON (UsageResponse) or CSV; user names masked with HIDE_USERS."""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gpulens.api.records import GPU_SECONDS_METHOD, UsageResponse
from gpulens.services.accounting import HOUR, UsageDelta
from gpulens.services.history import store, usage
from tests.fakes import make_client

HOUR_NOW = math.floor(time.time() / HOUR) * HOUR
H = HOUR_NOW - 5 * HOUR  # inside the default range (the last 24 h)


def delta(pid: int, user: str | None, gpu_s: float, hour: int = H, **more: Any) -> UsageDelta:
    fields: dict[str, Any] = {
        "gpu": "GPU-a", "gpu_index": 0, "gpu_name": "NVIDIA H200", "pid": pid,
        "started": H - 60.0, "name": "python3", "user": user, "container": None, "hour": hour,
        "first_seen": H - 30.0, "last_seen": H + 3000.0, "held_s": 3600.0, "gpu_s": gpu_s,
        "mib_s": 3600.0 * 2048, "sm_s": 0.0, "sm_known_s": 0.0, "peak_mib": 2048, **more,
    }  # fmt: skip
    return UsageDelta(**fields)


@pytest.fixture(scope="module")
def store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("api-usage") / "history.db"
    conn = store.open_store(path)
    conn.execute("BEGIN IMMEDIATE")
    usage.write(
        conn,
        [
            delta(1, "ana", 3600.0),
            delta(2, "ana", 1800.0, hour=H + HOUR),
            delta(3, "bo", 900.0, name="train", container="c0ffee", gpu="GPU-b", gpu_index=1),
            delta(4, None, 0.0, sm_s=3600.0 * 20, sm_known_s=3600.0),
        ],
    )
    conn.execute("COMMIT")
    conn.close()
    return path


@pytest.fixture
def api(store_file: Path) -> Iterator[TestClient]:
    client = make_client(history_path=str(store_file))
    yield client
    client.close()


def get(api: TestClient, **params: object) -> dict[str, Any]:
    response = api.get("/api/usage", params={k.rstrip("_"): v for k, v in params.items()})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = json.loads(response.text)
    UsageResponse.model_validate(body)
    return body


def test_by_user_by_default_over_the_last_day(api: TestClient) -> None:
    body = get(api)
    assert body["by"] == "user"
    assert body["method"] == GPU_SECONDS_METHOD
    assert body["to"] - body["from"] == pytest.approx(86_400)
    assert body["status"]["state"] in ("starting", "ok", "paused")
    rows = {r["key"]: r for r in body["rows"]}
    assert [r["key"] for r in body["rows"]] == ["ana", "bo", ""]
    assert rows["ana"]["gpuHours"] == pytest.approx(1.5)
    assert rows["ana"]["gibHours"] == pytest.approx(4.0)
    assert rows["ana"]["heldHours"] == pytest.approx(2.0)
    assert rows["ana"]["sessions"] == 2
    assert rows["ana"]["meanMemoryMib"] == pytest.approx(2048)
    assert rows["ana"]["meanSm"] is None
    assert rows[""]["label"] == "unknown"
    assert rows[""]["meanSm"] == pytest.approx(20)
    assert body["total"]["gpuHours"] == pytest.approx(1.75)
    assert body["total"]["sessions"] == 4
    assert body["truncated"] is False


@pytest.mark.parametrize(
    ("by", "keys"),
    [
        ("process", ["python3", "train"]),
        ("container", ["", "c0ffee"]),
        ("gpu", ["GPU-a", "GPU-b"]),
    ],
)
def test_each_grouping(api: TestClient, by: str, keys: list[str]) -> None:
    assert [r["key"] for r in get(api, by=by)["rows"]] == keys


def test_by_session_names_each_process(api: TestClient) -> None:
    rows = get(api, by="session", limit=2)
    assert rows["truncated"] is True
    first = rows["rows"][0]
    assert (first["pid"], first["user"], first["process"], first["gpu"]) == (
        1, "ana", "python3", "GPU-a"
    )  # fmt: skip
    assert first["startTime"] == H - 60.0


def test_a_range_with_no_usage_is_empty_not_an_error(api: TestClient) -> None:
    body = get(api, from_=H - 10 * HOUR, to=H - 9 * HOUR)
    assert (body["rows"], body["total"], body["truncated"]) == ([], None, False)


def test_iso_times_and_pro_rating(api: TestClient) -> None:
    from datetime import UTC, datetime

    start = datetime.fromtimestamp(H + 1800, UTC).isoformat().replace("+00:00", "Z")
    body = get(api, from_=start, to=H + HOUR)
    ana = next(r for r in body["rows"] if r["key"] == "ana")
    assert ana["gpuHours"] == pytest.approx(0.5)  # half of hour H's 1 GPU-hour


def test_csv(api: TestClient) -> None:
    response = api.get("/api/usage", params={"format": "csv", "by": "user"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["key"] for r in table] == ["ana", "bo", ""]
    assert float(table[0]["gpu_hours"]) == pytest.approx(1.5)
    assert float(table[0]["gib_hours"]) == pytest.approx(4.0)
    assert table[0]["mean_sm_percent"] == ""
    assert table[0]["first_seen_utc"].endswith("Z")
    accept = api.get("/api/usage", headers={"accept": "text/csv"})
    assert accept.text == response.text


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "2024-01-01T00:00:00"}, "to"),  # no zone
        ({"from": H + 10, "to": H}, "from"),
        ({"to": -1}, "to"),
        ({"by": "team"}, "by"),
        ({"limit": "many"}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": 10_001}, "limit"),
        ({"format": "xml"}, "format"),
    ],
)
def test_bad_parameters_are_400_naming_them(
    api: TestClient, params: dict[str, object], name: str
) -> None:
    response = api.get("/api/usage", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith(f"{name}:")


def test_unknown_by_lists_the_known_ones(api: TestClient) -> None:
    detail = api.get("/api/usage", params={"by": "team"}).json()["detail"]
    assert "user, process, container, gpu, session" in detail


def test_history_off_is_404() -> None:
    with make_client(history=False) as client:
        response = client.get("/api/usage")
    assert response.status_code == 404
    assert "HISTORY=off" in response.json()["detail"]


def test_an_unreadable_store_is_503(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    path.write_bytes(b"not a database at all" * 100)
    client = make_client(history_path=str(path))
    try:
        response = client.get("/api/usage")
    finally:
        client.close()
    assert response.status_code == 503
    assert "cannot be read" in response.json()["detail"]


def test_hide_users_masks_every_user_and_keeps_them_apart(store_file: Path) -> None:
    client = make_client(history_path=str(store_file), hide_users=True)
    try:
        by_user = client.get("/api/usage").json()
        sessions = client.get("/api/usage", params={"by": "session"}).json()
        table = client.get("/api/usage", params={"format": "csv", "by": "session"}).text
    finally:
        client.close()
    keys = [r["key"] for r in by_user["rows"]]
    assert len(keys) == 3
    assert keys[2] == ""  # no user stays no user
    assert all(k.startswith("user-") for k in keys[:2])
    assert keys[0] != keys[1]
    assert [r["label"] for r in by_user["rows"]][:2] == keys[:2]
    shown = {
        r[f] for body in (by_user, sessions) for r in body["rows"] for f in ("key", "label", "user")
    }
    shown |= {r["user"] for r in csv.DictReader(io.StringIO(table))}
    assert not shown & {"ana", "bo"}
    users = {r["user"] for r in sessions["rows"]}
    assert keys[0] in users
