"""The FastAPI app in-process: routes, Origin/Host checks, client cap, headers, static files."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from gpulens import logs
from gpulens.api.app import create_app
from gpulens.config import ConfigError, Settings, load_settings
from tests.fakes import FakeSystem, selection, steady
from tests.live import serve_in_thread

HOST = "testserver"


def make_client(**kw: object) -> TestClient:
    base: dict[str, object] = {"allowed_hosts": [HOST], "ws_backlog": 10, "poll_interval_ms": 250}
    base.update(kw)
    settings = Settings(**base)  # type: ignore[arg-type]
    app = create_app(settings, selection=selection(steady(2)), system=FakeSystem())  # type: ignore[arg-type]
    return TestClient(app)


@pytest.fixture
def client() -> Iterator[TestClient]:
    with make_client() as c:
        yield c


def test_health_reports_provider_clients_and_age(client: TestClient) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["provider"] == "nvml"
    assert body["clients"] == 0
    assert body["lastSampleAgeS"] is not None and body["lastSampleAgeS"] >= 0
    assert set(body) == {
        "status", "provider", "reason", "unavailable", "lastSampleAgeS", "clients", "uptimeS",
        "version",
    }  # fmt: skip


def test_config_is_allow_listed(client: TestClient) -> None:
    body = client.get("/api/config").json()
    assert set(body) == {
        "pollIntervalMs", "wsBacklog", "heartbeatIntervalMs", "maxRate", "hostname", "version",
        "temperatureThresholds", "busyUtilization",
    }  # fmt: skip
    assert body["pollIntervalMs"] == 250
    assert body["temperatureThresholds"] == {"warn": 70, "hot": 85}
    assert body["busyUtilization"] == 10


def test_thresholds_come_from_the_settings() -> None:
    with make_client(temp_warn_c=60, temp_hot_c=75, busy_utilization_pct=5) as client:
        body = client.get("/api/config").json()
    assert body["temperatureThresholds"] == {"warn": 60, "hot": 75}
    assert body["busyUtilization"] == 5


@contextmanager
def live(**kw: object) -> Iterator[str]:
    base: dict[str, object] = {"ws_backlog": 10, "poll_interval_ms": 250}
    base.update(kw)
    settings = Settings(**base)  # type: ignore[arg-type]
    app = create_app(settings, selection=selection(steady(2)), system=FakeSystem())  # type: ignore[arg-type]
    with serve_in_thread(app) as address:
        yield address


def receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=10))
    return message


def test_websocket_hello_then_telemetry() -> None:
    with live() as address, connect(f"ws://{address}/ws/gpu") as ws:
        hello = receive(ws)
        assert hello["type"] == "hello"
        assert len(hello["backfill"]) >= 1  # the first sample is taken before clients arrive
        assert hello["status"]["provider"] == "nvml"
        message = receive(ws)
        while message["type"] != "telemetry":
            message = receive(ws)
        assert message["source"] == "nvml"
        assert len(message["gpus"]) == 2
        assert message["timestamp"].endswith("Z")
        assert message["seq"] > hello["backfill"][-1]["seq"]


def test_same_origin_and_listed_origins_are_accepted() -> None:
    with live(allowed_origins=["https://gpu.example.com"]) as address:
        for origin in (f"http://{address}", "https://gpu.example.com"):
            with connect(f"ws://{address}/ws/gpu", origin=origin) as ws:  # type: ignore[arg-type]
                assert receive(ws)["type"] == "hello"


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://127.0.0.1.evil.com"])
def test_foreign_origin_is_refused_with_403(origin: str) -> None:
    with live() as address:
        with pytest.raises(InvalidStatus) as info:
            connect(f"ws://{address}/ws/gpu", origin=origin)  # type: ignore[arg-type]
        assert info.value.response.status_code == 403


def test_dev_mode_allows_the_vite_origin() -> None:
    with live(dev_mode=True) as address:
        with connect(f"ws://{address}/ws/gpu", origin="http://localhost:3000") as ws:  # type: ignore[arg-type]
            assert receive(ws)["type"] == "hello"


def test_rebinding_host_is_refused_with_403() -> None:
    with live() as address:
        response = httpx.get(f"http://{address}/api/health", headers={"host": "attacker.example"})
        assert response.status_code == 403
        host, port = address.split(":")
        sock = socket.create_connection((host, int(port)))
        with pytest.raises(InvalidStatus) as info:  # Host: attacker.example:<port>
            connect(f"ws://attacker.example:{port}/ws/gpu", sock=sock)
        assert info.value.response.status_code == 403


def test_client_cap_refuses_cleanly_and_health_still_answers() -> None:
    with live(ws_max_clients=1) as address, connect(f"ws://{address}/ws/gpu") as first:
        assert receive(first)["type"] == "hello"
        with connect(f"ws://{address}/ws/gpu") as second:
            assert receive(second) == {
                "type": "error",
                "code": "server_full",
                "message": "Too many dashboards are connected.",
            }
            with pytest.raises(ConnectionClosed) as info:
                receive(second)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1013
        assert httpx.get(f"http://{address}/api/health").status_code == 200


def test_security_headers_on_every_response(client: TestClient) -> None:
    for path in ("/api/health", "/api/config", "/nope"):
        headers = client.get(path).headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert (
            "'unsafe-inline'"
            not in headers["content-security-policy"].split("script-src")[1].split(";")[0]
        )
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"


def test_serves_the_built_dashboard(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>gpulens</title>")
    (tmp_path / "assets" / "app-1234.js").write_text("console.log('hi')")
    with make_client(static_dir=tmp_path) as c:
        index = c.get("/")
        assert index.status_code == 200 and "gpulens" in index.text
        assert index.headers["cache-control"] == "no-cache"
        asset = c.get("/assets/app-1234.js")
        assert "immutable" in asset.headers["cache-control"]
        assert c.get("/gpu/3").text == index.text  # client-side route → index.html
        assert c.get("/assets/missing.js").status_code == 404
        assert c.get("/api/health").json()["provider"] == "nvml"  # API wins over the SPA mount


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("POLL_INTERVAL_MS", "abc", "250-60000 ms"),
        ("POLL_INTERVAL_MS", "10", "greater than or equal to 250"),
        ("POLL_INTERVAL_MS", "-5", "greater than or equal to 250"),
        ("WS_BACKLOG", "many", "0-1200"),
        ("TELEMETRY_PROVIDER", "gpu-z", "auto, nvml, nvidia-smi, nvtop or replay"),
        ("ALLOWED_ORIGINS", "evil.com", "is not an origin"),
        ("PORT", "70000", "1-65535"),
        ("DISK_PATH", "/no/such/dir", "is not a directory"),
        ("STATIC_DIR", "/nonexistent", "has no index.html"),
        ("ALLOWED_ORIGINS", "http://a.example/path", "no path"),
        ("ALLOWED_ORIGINS", "https://", "is not an origin"),
        ("FORWARDED_ALLOW_IPS", "garbage", "is not an IP address or network"),
        ("FORWARDED_ALLOW_IPS", "127.0.0.1,10.0.0.1/8", "is not an IP address or network"),
        ("HOST", "not_an_ip", "is not an IP address"),
        ("HOST", "gpu.example.com", "is not an IP address"),
        ("TEMP_HOT_C", "60", "must be below TEMP_HOT_C"),
    ],
)
def test_bad_environment_values_stop_start_up(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value.code)
    assert f"{name}={value!r}" in message
    assert expected in message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HOST", "0.0.0.0"),
        ("HOST", "::"),
        ("HOST", "localhost"),
        ("HOST", "[::1]"),
        ("FORWARDED_ALLOW_IPS", "*"),
        ("FORWARDED_ALLOW_IPS", "127.0.0.1, 10.0.0.0/8, ::1"),
        ("ALLOWED_ORIGINS", "https://gpu.example.com:8443,http://10.0.0.5/"),
    ],
)
def test_good_environment_values_start(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    load_settings()


def test_logs_are_one_json_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("INFO")
    logging.getLogger("gpulens.test").info("hello %s", "world")
    logging.getLogger("uvicorn.access").info("GET / 200")
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]
    assert records[0]["message"] == "hello world" and records[0]["level"] == "INFO"
    assert records[1]["logger"] == "uvicorn.access"
    logging.getLogger("gpulens").handlers.clear()


def test_health_is_degraded_when_the_provider_fails() -> None:
    from gpulens.core.metrics.providers.base import ProviderError
    from tests.fakes import FakeProvider

    failing = FakeProvider(lambda n: ProviderError("GPU is lost"))
    settings = Settings(allowed_hosts=[HOST])  # type: ignore[call-arg]
    app = create_app(settings, selection=selection(failing), system=FakeSystem())  # type: ignore[arg-type]
    with TestClient(app) as c:
        body = c.get("/api/health").json()
    assert body["status"] == "degraded"
    assert body["reason"] == "GPU is lost"
    assert body["provider"] == "nvml"


def test_health_without_any_gpu_source_lists_the_reasons() -> None:
    reasons = {
        "nvml": "NVML Shared Library Not Found",
        "nvidia-smi": "nvidia-smi: not found on PATH",
    }
    settings = Settings(allowed_hosts=[HOST])  # type: ignore[call-arg]
    app = create_app(settings, selection=selection(None, reasons), system=FakeSystem())  # type: ignore[arg-type]
    with TestClient(app) as c:
        body = c.get("/api/health").json()
    assert body["status"] == "degraded"
    assert body["provider"] is None
    assert body["reason"] == "no GPU source found, retrying (see unavailable)"
    assert body["unavailable"] == reasons


def test_head_health_answers_like_get(client: TestClient) -> None:
    response = client.head("/api/health")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"] == "application/json"


def test_no_api_docs_page_that_needs_a_cdn(client: TestClient) -> None:
    assert client.get("/api/docs").status_code == 404
    assert client.get("/api/openapi.json").json()["info"]["title"] == "gpulens"
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert "/api/docs" not in readme


def test_binary_frame_is_closed_with_1003(client: TestClient) -> None:
    with client.websocket_connect("/ws/gpu", headers={"host": HOST}) as ws:
        assert ws.receive_json()["type"] == "hello"
        ws.send_bytes(b"\x00\xff")
        for _ in range(50):  # frames already queued may come first
            message = ws.receive()
            if message["type"] == "websocket.close":
                break
        assert message == {
            "type": "websocket.close",
            "code": 1003,
            "reason": "binary frames are not accepted",
        }
