"""The app factory: the client config from the settings, no API docs page that needs a CDN."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.fakes import make_client


def test_thresholds_come_from_the_settings() -> None:
    with make_client(temp_warn_c=60, temp_hot_c=75, busy_utilization_pct=5) as client:
        body = client.get("/api/config").json()
    assert body["temperatureThresholds"] == {"warn": 60, "hot": 75}
    assert body["busyUtilization"] == 5


def test_no_api_docs_page_that_needs_a_cdn(client: TestClient) -> None:
    assert client.get("/api/docs").status_code == 404
    assert client.get("/api/openapi.json").json()["info"]["title"] == "gpulens"
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert "/api/docs" not in readme
