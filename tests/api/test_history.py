"""GET /api/history: every bad parameter a 400 naming it, an unknown GPU a 404, a store
that cannot be read a 503, and for the rest buckets (JSON or CSV) with nulls, never NaN,
where there was no sample."""

from __future__ import annotations

import csv
import io
import json
import math
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.fakes import gpu, make_client
from tests.services.history.common import close, make, system

NOW = math.floor(time.time() / 60) * 60  # the store's samples end a little before now
START = NOW - 2 * 3600
STOP = NOW - 600
GAP = (NOW - 5400, NOW - 4800)  # the service was stopped for 10 minutes


@pytest.fixture(scope="module")
def store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two GPUs and the host, a sample every 5 s over [START, STOP), but for GAP."""
    path = tmp_path_factory.mktemp("api-history") / "history.db"
    rec, _ = make(path)
    rec._open()
    for n, when in enumerate(range(START, STOP, 5), 1):
        if GAP[0] <= when < GAP[1]:
            continue
        util = 90 if when == START + 3000 else 40
        gpus = [gpu(0, util=util, uuid="GPU-a"), gpu(1, util=10, uuid="GPU-b")]
        rec.record(when, gpus, system())
        if n % 500 == 0:
            rec._drain()
    rec.step()
    close(rec)
    return path


@pytest.fixture
def api(store_file: Path) -> Iterator[TestClient]:
    """The app on that store, its lifespan not started: no sampler, no writer thread,
    nothing but the queries touches the file."""
    client = make_client(history_path=str(store_file))
    yield client
    client.close()


def get(api: TestClient, **params: object) -> dict[str, Any]:
    response = api.get("/api/history", params={k.rstrip("_"): v for k, v in params.items()})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = json.loads(response.text)
    return body


def series(body: dict[str, Any], key: str) -> dict[str, dict[str, list[float | None]]]:
    found = [s for s in body["series"] if s["key"] == key]
    assert len(found) == 1, [s["key"] for s in body["series"]]
    values: dict[str, dict[str, list[float | None]]] = found[0]["values"]
    return values


# --- bad parameters ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"from": STOP, "to": START}, "from"),  # reversed
        ({"from": START, "to": START}, "from"),  # empty
        ({"from": "yesterday"}, "from"),
        ({"to": "nan"}, "to"),
        ({"to": "NaN"}, "to"),
        ({"from": "inf"}, "from"),
        ({"from": "-inf"}, "from"),
        ({"to": "1e400"}, "to"),
        ({"from": "-5"}, "from"),
        ({"to": "1e12"}, "to"),  # past the year 9999
        ({"from": "2024-05-01T10:00:00"}, "from"),  # no zone: which 10:00?
        ({"from": "2024-13-01T10:00:00Z"}, "from"),
        ({"from": "0001-01-01T00:00:00+14:00"}, "from"),
        ({"to": "9999-12-31T23:00:00-14:00"}, "to"),
        ({"step": "0"}, "step"),
        ({"step": "-60"}, "step"),
        ({"step": "a minute"}, "step"),
        ({"step": "nan"}, "step"),
        ({"step": "inf"}, "step"),
        ({"metrics": "utilization,bogus"}, "metrics"),
        ({"format": "xml"}, "format"),
        ({"gpu": ",".join(f"GPU-{i}" for i in range(65))}, "gpu"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(
    api: TestClient, params: dict[str, object], name: str
) -> None:
    response = api.get("/api/history", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith(f"{name}:")


def test_an_unknown_metric_lists_the_known_ones(api: TestClient) -> None:
    detail = api.get("/api/history", params={"metrics": "temp"}).json()["detail"]
    assert "'temp'" in detail and "temperature" in detail and "cpuUsage" in detail


def test_an_unknown_gpu_is_a_404(api: TestClient) -> None:
    response = api.get("/api/history", params={"gpu": "GPU-a,GPU-nope"})
    assert response.status_code == 404
    assert response.json()["detail"].startswith("gpu:") and "GPU-nope" in response.text


def test_history_off_is_a_404() -> None:
    client = make_client(history=False)
    response = client.get("/api/history")
    assert response.status_code == 404 and "HISTORY=off" in response.text
    client.close()


def test_a_store_that_cannot_be_read_is_a_503(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    path.write_bytes(b"not a database at all" * 100)
    client = make_client(history_path=str(path))
    response = client.get("/api/history")
    assert response.status_code == 503
    assert response.json()["detail"].startswith("the history store cannot be read")
    client.close()


# --- answers --------------------------------------------------------------------------


def test_the_default_is_the_last_hour_of_every_gpu_and_the_host(api: TestClient) -> None:
    body = get(api)
    assert body["tier"] == "raw"
    assert body["to"] == pytest.approx(time.time(), abs=30)
    assert [s["key"] for s in body["series"]] == ["GPU-a", "GPU-b", "host"]
    assert body["earliest"] is not None and body["earliest"] <= START
    assert body["status"] == {"state": "starting", "reason": None}
    assert body["units"]["utilization"] == "%"


def test_unix_seconds_and_iso_times_with_a_zone_mean_the_same(api: TestClient) -> None:
    iso = datetime.fromtimestamp(START, UTC)
    a = get(api, from_=START, to=STOP)
    b = get(api, from_=iso.isoformat(), to=datetime.fromtimestamp(STOP, UTC).isoformat())
    c = get(api, from_=iso.strftime("%Y-%m-%dT%H:%M:%SZ"), to=f"{STOP}.0")
    plus_two = iso.astimezone(datetime.fromisoformat("2000-01-01T00:00:00+02:00").tzinfo)
    d = get(api, from_=plus_two.isoformat(), to=STOP)
    assert a == b == c == d


def test_a_range_is_answered_on_one_grid_with_the_spike_and_the_gap(api: TestClient) -> None:
    body = get(api, from_=START, to=STOP, step=60)
    times = body["times"]
    assert isinstance(times, list) and body["step"] == 60
    util = series(body, "GPU-a")["utilization"]
    assert all(len(v) == len(times) for v in util.values())
    spike = times.index((START + 3000) // 60 * 60)
    assert util["max"][spike] == 90.0 and util["min"][spike] == 40.0
    for i, t in enumerate(times):
        if GAP[0] <= t and t + 60 <= GAP[1]:
            assert util["min"][i] is util["mean"][i] is util["max"][i] is None
        elif t >= START and t + 60 <= GAP[0]:
            assert util["mean"][i] is not None
    assert series(body, "host")["cpuUsage"]["mean"][0] == 10.0


def test_ten_years_are_a_bounded_answer(api: TestClient) -> None:
    body = get(api, from_=NOW - 3650 * 86_400, to=NOW)
    assert body["tier"] == "1h"
    assert len(body["times"]) <= 1001


def test_a_huge_step_is_one_point(api: TestClient) -> None:
    body = get(api, from_=START, to=STOP, step="1e308")
    assert len(body["times"]) == 1


def test_a_future_range_is_nulls_not_an_error(api: TestClient) -> None:
    body = get(api, from_=NOW + 86_400, to=NOW + 2 * 86_400)
    assert len(body["times"]) > 0
    for key in ("GPU-a", "GPU-b", "host"):
        for stats in series(body, key).values():
            assert {v for lst in stats.values() for v in lst} == {None}


def test_gpu_host_several_gpus_and_metrics(api: TestClient) -> None:
    host = get(api, gpu="host", from_=START, to=STOP)
    assert [s["key"] for s in host["series"]] == ["host"]
    both = get(api, gpu="GPU-b, GPU-a", from_=START, to=STOP, metrics="utilization,memoryUsed")
    assert [s["key"] for s in both["series"]] == ["GPU-a", "GPU-b"]
    assert set(series(both, "GPU-b")) == {"utilization", "memoryUsed"}
    assert both["units"] == {"utilization": "%", "memoryUsed": "MiB"}


def test_the_json_never_holds_nan(api: TestClient) -> None:
    for params in ({}, {"from": START, "to": STOP}, {"from": NOW + 60, "to": NOW + 3600}):
        text = api.get("/api/history", params=params).text
        assert "NaN" not in text and "Infinity" not in text
        json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))


def test_csv_by_format_or_accept(api: TestClient) -> None:
    by_format = api.get("/api/history", params={"from": START, "to": STOP, "format": "csv"})
    by_accept = api.get(
        "/api/history", params={"from": START, "to": STOP}, headers={"accept": "text/csv"}
    )
    for response in (by_format, by_accept):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert response.headers["content-disposition"] == (
            f'attachment; filename="gpulens-history-{START}-{STOP}.csv"'
        )
    assert by_format.text == by_accept.text
    rows = list(csv.reader(io.StringIO(by_format.text)))
    assert rows[0] == ["time", "series", "name", "metric", "unit", "min", "mean", "max"]
    data = rows[1:]
    assert data and all(r[6] != "" for r in data)  # only rows where there is data
    assert {r[1] for r in data} == {"GPU-a", "GPU-b", "host"}
    for r in data[:50]:
        moment = datetime.fromisoformat(r[0].replace("Z", "+00:00"))
        assert r[0].endswith("Z") and START - 60 <= moment.timestamp() < STOP
        assert not GAP[0] + 60 <= moment.timestamp() < GAP[1] - 60
    json_wins = api.get(
        "/api/history", params={"from": START, "to": STOP},
        headers={"accept": "text/csv, application/json"},
    )  # fmt: skip
    assert json_wins.headers["content-type"] == "application/json"


def test_an_empty_store_answers_empty(tmp_path: Path) -> None:
    client = make_client(history_path=str(tmp_path / "none-yet.db"))
    body = json.loads(client.get("/api/history").text)
    assert body["series"] == [] and body["earliest"] is None and len(body["times"]) > 0
    assert client.get("/api/history", params={"gpu": "host"}).status_code == 404
    client.close()


def test_queries_from_several_threads_while_the_service_records(tmp_path: Path) -> None:
    """The whole app running (sampler, stream, writer thread) and four clients asking at
    once: every answer is a 200."""
    codes: list[int] = []
    with make_client(history_path=str(tmp_path / "history.db")) as client:
        assert isinstance(client.app, FastAPI)
        recorder = client.app.state.history
        assert recorder.flushed.wait(10)

        def ask() -> None:
            for _ in range(5):
                codes.append(client.get("/api/history", params={"step": 1}).status_code)

        threads = [threading.Thread(target=ask) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        body = json.loads(client.get("/api/history").text)
    assert codes == [200] * 20
    assert {s["key"] for s in body["series"]} == {"GPU-00000000", "GPU-00000001", "host"}


def test_gpus_means_every_gpu_and_not_the_host(api: TestClient) -> None:
    """The page asks for gpu=gpus: a metric both keep (memoryUsed) brings no host series."""
    every = get(api, gpu="all", metrics="memoryUsed", from_=START, to=STOP)
    gpus = get(api, gpu="gpus", metrics="memoryUsed", from_=START, to=STOP)
    assert sorted(s["key"] for s in every["series"]) == ["GPU-a", "GPU-b", "host"]
    assert sorted(s["key"] for s in gpus["series"]) == ["GPU-a", "GPU-b"]
