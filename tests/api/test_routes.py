"""The HTTP and WebSocket routes in-process: health (GET and HEAD, with the history
store's state), config, ``/ws/gpu``'s hello and telemetry, and the client cap."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from gpulens.api.app import create_app
from gpulens.config import Settings
from gpulens.services.findings.model import Event
from gpulens.services.history.recorder import HistoryRecorder
from tests.fakes import HOST, FakeSystem, make_client, selection
from tests.live import live, receive


def test_health_reports_provider_clients_and_age(client: TestClient) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["provider"] == "nvml"
    assert body["clients"] == 0
    assert body["lastSampleAgeS"] is not None and body["lastSampleAgeS"] >= 0
    assert set(body) == {
        "status", "provider", "reason", "unavailable", "lastSampleAgeS", "clients", "uptimeS",
        "version", "history", "events", "xid", "fleet",
    }  # fmt: skip
    assert body["fleet"] == {"state": "off", "reason": None}
    assert body["history"]["state"] in ("starting", "ok")
    assert "path" not in body["history"]  # the file's path is in the log, not on the wire


def test_head_health_answers_like_get(client: TestClient) -> None:
    response = client.head("/api/health")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"] == "application/json"


def test_health_is_degraded_when_the_provider_fails() -> None:
    from gpulens.core.metrics.providers.base import ProviderError
    from tests.fakes import FakeProvider

    failing = FakeProvider(lambda n: ProviderError("GPU is lost"))
    settings = Settings(allowed_hosts=[HOST])
    app = create_app(settings, selection=selection(failing), system=FakeSystem())
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
    settings = Settings(allowed_hosts=[HOST])
    app = create_app(settings, selection=selection(None, reasons), system=FakeSystem())
    with TestClient(app) as c:
        body = c.get("/api/health").json()
    assert body["status"] == "degraded"
    assert body["provider"] is None
    assert body["reason"] == "no GPU source found, retrying (see unavailable)"
    assert body["unavailable"] == reasons


def test_config_is_allow_listed(client: TestClient) -> None:
    body = client.get("/api/config").json()
    assert set(body) == {
        "pollIntervalMs", "wsBacklog", "heartbeatIntervalMs", "maxRate", "hostname", "version",
        "temperatureThresholds", "busyUtilization", "fleet",
    }  # fmt: skip
    assert body["fleet"] is False  # fleet mode off; no Prometheus URL or secret ever here
    assert body["pollIntervalMs"] == 250
    assert body["temperatureThresholds"] == {"warn": 70, "hot": 85}
    assert body["busyUtilization"] == 10


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


# -- the history store's state ---------------------------------------------------------


def _recorder(client: TestClient) -> HistoryRecorder:
    assert isinstance(client.app, FastAPI)
    recorder: HistoryRecorder = client.app.state.history
    return recorder


def test_health_says_history_is_ok_after_a_flush(tmp_path: Path) -> None:
    with make_client(history_path=str(tmp_path / "history.db")) as c:
        assert _recorder(c).flushed.wait(10)
        history = c.get("/api/health").json()["history"]
    assert history["state"] == "ok" and history["reason"] is None
    assert history["bytes"] > 0


def test_health_says_history_is_paused_and_why_and_telemetry_goes_on(tmp_path: Path) -> None:
    """The state directory cannot be made (its parent is a file): history pauses with a
    reason that does not give the file's path away; the samples still stream."""
    (tmp_path / "state").write_text("a file where the directory should be")
    with make_client(history_path=str(tmp_path / "state" / "gpulens" / "history.db")) as c:
        assert _recorder(c).flushed.wait(10)
        body = c.get("/api/health").json()
        with c.websocket_connect("/ws/gpu") as ws:
            hello = ws.receive_json()
            message = ws.receive_json()
            while message["type"] != "telemetry":
                message = ws.receive_json()
    history = body["history"]
    assert history["state"] == "paused" and history["bytes"] is None
    assert "directory" in history["reason"].lower()
    assert str(tmp_path) not in history["reason"] and "history.db" not in history["reason"]
    assert body["status"] == "ok" and body["lastSampleAgeS"] is not None
    assert hello["type"] == "hello" and len(message["gpus"]) == 2


def test_health_says_history_is_off() -> None:
    with make_client(history=False) as c:
        assert c.get("/api/health").json()["history"] == {
            "state": "off", "reason": None, "bytes": None
        }  # fmt: skip


# -- findings and XID errors -------------------------------------------------------------


def test_health_counts_the_active_findings_and_says_why_xid_errors_are_not_watched(
    client: TestClient,
) -> None:
    """The fake NVML source has no event watcher: health says so rather than pretend."""
    body = client.get("/api/health").json()
    assert body["events"] == 0
    assert body["xid"]["state"] == "unsupported" and "NVML" in body["xid"]["reason"]
    assert isinstance(client.app, FastAPI)
    stream = client.app.state.stream
    finding = Event.model_validate(
        {"id": "f", "kind": "hot", "severity": "warning", "start": "2026-01-01T00:00:00Z",
         "summary": "GPU 0 at 88 °C", "action": "Check the airflow."}
    )  # fmt: skip
    stream.findings = (finding, finding.model_copy(update={"id": "g"}))
    assert client.get("/api/health").json()["events"] == 2


def test_health_reports_the_xid_watchers_own_state() -> None:
    from gpulens.core.metrics.providers.base import XidEvent, XidStatus
    from tests.fakes import FakeProvider, steady

    class Watching(FakeProvider):
        def drain_events(self) -> list[XidEvent]:
            return []

        def events_status(self) -> XidStatus:
            return XidStatus("failed", "nvmlEventSetWait: Unknown Error")

    provider = Watching(steady(2).script)
    settings = Settings(allowed_hosts=[HOST])
    app = create_app(settings, selection=selection(provider), system=FakeSystem())
    with TestClient(app) as c:
        xid = c.get("/api/health").json()["xid"]
    assert xid == {"state": "failed", "reason": "nvmlEventSetWait: Unknown Error"}
