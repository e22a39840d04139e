"""Fleet mode in the app: settings, /api/fleet, /api/fleet/history, the fleet frame after
the hello, /api/health; secrets never in config, health, answers or the log; the
single-host view unaffected when Prometheus fails."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from gpulens.api.app import create_app
from gpulens.config import ConfigError, Settings, load_settings
from gpulens.services.fleet.model import FleetHistoryResponse
from tests.fakes import HOST, FakeSystem, selection, steady
from tests.services.fleet.fakeprom import FakePrometheus, Target, dcgm_metrics, serve

SECRET = "pa55-w0rd-XYZ"


@pytest.fixture
def prom() -> Iterator[FakePrometheus]:
    fake = FakePrometheus()
    fake.targets = [Target("dgx-1:9400", job="dcgm", series=dcgm_metrics("dgx-1", gpus=2))]
    with serve(fake) as running:
        yield running


def app_client(**kw: Any) -> TestClient:
    base: dict[str, Any] = {"allowed_hosts": [HOST], "poll_interval_ms": 250, "history": False}
    settings = Settings(**{**base, **kw})
    return TestClient(create_app(settings, selection=selection(steady(2)), system=FakeSystem()))


def wait_for_fleet(client: TestClient) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        response = client.get("/api/fleet")
        if response.status_code == 200:
            body: dict[str, Any] = response.json()
            return body
        time.sleep(0.05)
    raise AssertionError("no fleet refresh")


def test_fleet_mode_off_is_404_and_said_in_config_and_health() -> None:
    with app_client() as client:
        assert client.get("/api/fleet").status_code == 404
        assert client.get("/api/fleet/history").status_code == 404
        assert client.get("/api/config").json()["fleet"] is False
        assert client.get("/api/health").json()["fleet"] == {"state": "off", "reason": None}


def test_fleet_json_config_health_and_the_frame_after_the_hello(
    prom: FakePrometheus, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password = tmp_path / "password"
    password.write_text(SECRET + "\n")
    import base64

    prom.want_auth = "Basic " + base64.b64encode(f"lab:{SECRET}".encode()).decode()
    with app_client(
        fleet_prometheus_url=prom.url, fleet_username="lab", fleet_password_file=password
    ) as client:
        fleet = wait_for_fleet(client)
        assert fleet["type"] == "fleet" and fleet["status"]["state"] == "ok"
        assert [h["host"] for h in fleet["hosts"]] == ["dgx-1"]
        config = client.get("/api/config")
        assert config.json()["fleet"] is True
        health = client.get("/api/health").json()
        assert health["fleet"] == {"state": "ok", "reason": None}
        assert health["status"] == "ok"
        with client.websocket_connect("/ws/gpu", headers={"origin": f"http://{HOST}"}) as ws:
            assert json.loads(ws.receive_text())["type"] == "hello"
            assert json.loads(ws.receive_text())["type"] == "fleet"
        history = client.get("/api/fleet/history", params={"from": "1000000", "to": "1000600"})
        assert history.status_code == 200
        parsed = FleetHistoryResponse.model_validate_json(history.text)
        assert parsed.step == 3 and len(parsed.series) == 2  # 600 s / 240 points → 3 s
        for text in (config.text, json.dumps(health), json.dumps(fleet), history.text):
            assert SECRET not in text and "lab:" not in text
    assert SECRET not in caplog.text


def test_wrong_credentials_are_said_and_the_single_host_view_keeps_working(
    prom: FakePrometheus, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = tmp_path / "token"
    token.write_text(SECRET)
    prom.want_auth = "Bearer something-else"
    with app_client(fleet_prometheus_url=prom.url, fleet_bearer_token_file=token) as client:
        fleet = wait_for_fleet(client)
        assert fleet["status"] == {
            **fleet["status"],
            "state": "unavailable",
            "reason": "401 Unauthorized: check FLEET_BEARER_TOKEN_FILE",
        }
        health = client.get("/api/health").json()
        assert health["fleet"]["state"] == "unavailable" and health["status"] == "ok"
        with client.websocket_connect("/ws/gpu", headers={"origin": f"http://{HOST}"}) as ws:
            kinds = [json.loads(ws.receive_text())["type"] for _ in range(3)]
        assert kinds[:2] == ["hello", "fleet"] and kinds[2] == "telemetry"
    assert SECRET not in caplog.text
    assert "401 Unauthorized" in caplog.text  # the log says which failure, once


def test_history_parameters_are_checked(prom: FakePrometheus) -> None:
    with app_client(fleet_prometheus_url=prom.url) as client:
        bad = client.get("/api/fleet/history", params={"step": "0"})
        assert bad.status_code == 400 and bad.json()["detail"].startswith("step:")
        bad = client.get("/api/fleet/history", params={"from": "10", "to": "5"})
        assert bad.status_code == 400 and bad.json()["detail"].startswith("from:")
        bad = client.get("/api/fleet/history", params={"from": "0", "to": "200000", "step": "1"})
        assert bad.status_code == 400 and bad.json()["detail"].startswith("step:")


# -- settings ---------------------------------------------------------------------------


def config_error(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    return str(caught.value)


def test_a_missing_password_file_stops_start_up_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    text = config_error(
        monkeypatch,
        FLEET_PROMETHEUS_URL="http://prom:9090",
        FLEET_USERNAME="lab",
        FLEET_PASSWORD_FILE=str(tmp_path / "nope"),
    )
    assert "FLEET_PASSWORD_FILE=" in text and "cannot be read" in text


def test_an_empty_token_file_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = tmp_path / "token"
    empty.write_text("  \n")
    text = config_error(monkeypatch, FLEET_BEARER_TOKEN_FILE=str(empty))
    assert "FLEET_BEARER_TOKEN_FILE=" in text and "is empty" in text


def test_a_ca_file_that_is_no_certificate_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate")
    assert "FLEET_CA_FILE=" in config_error(monkeypatch, FLEET_CA_FILE=str(ca))


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("prom:9090", "not an http:// or https:// URL"),
        ("ftp://prom", "not an http:// or https:// URL"),
        (f"http://lab:{SECRET}@prom:9090", "credentials do not belong in the URL"),
        ("http://prom:9090/?x=1", "without ? or #"),
    ],
)
def test_the_url_is_checked(url: str, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(fleet_prometheus_url=url)
    assert words in str(caught.value)


def test_a_password_needs_a_user_and_basic_auth_excludes_a_token(tmp_path: Path) -> None:
    secret = tmp_path / "s"
    secret.write_text(SECRET)
    with pytest.raises(ValidationError, match="give FLEET_USERNAME too"):
        Settings(fleet_password_file=secret)
    with pytest.raises(ValidationError, match="give the password's file too"):
        Settings(fleet_username="lab")
    with pytest.raises(ValidationError, match="either"):
        Settings(fleet_username="lab", fleet_password_file=secret, fleet_bearer_token_file=secret)


def test_defaults_and_the_url_is_normalised() -> None:
    s = Settings(fleet_prometheus_url="https://prom.example.com:9090/")
    assert s.fleet_prometheus_url == "https://prom.example.com:9090"
    assert (s.fleet_refresh_s, s.fleet_timeout_s, s.fleet_stale_s) == (5, 3, 45)
    assert s.fleet_link_label == "gpulens_url"
    assert Settings().fleet_prometheus_url is None
