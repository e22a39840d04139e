"""The Host and Origin checks (DNS rebinding, cross-site WebSocket hijacking) and the security
headers on every response."""

from __future__ import annotations

import socket

import httpx
import pytest
from fastapi.testclient import TestClient
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

from tests.live import live, receive


def test_same_origin_and_listed_origins_are_accepted() -> None:
    with live(allowed_origins=["https://gpu.example.com"]) as address:
        for origin in (f"http://{address}", "https://gpu.example.com"):
            with connect(f"ws://{address}/ws/gpu", origin=Origin(origin)) as ws:
                assert receive(ws)["type"] == "hello"


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://127.0.0.1.evil.com"])
def test_foreign_origin_is_refused_with_403(origin: str) -> None:
    with live() as address:
        with pytest.raises(InvalidStatus) as info:
            connect(f"ws://{address}/ws/gpu", origin=Origin(origin))
        assert info.value.response.status_code == 403


def test_dev_mode_allows_the_vite_origin() -> None:
    with live(dev_mode=True) as address:
        with connect(f"ws://{address}/ws/gpu", origin=Origin("http://localhost:3000")) as ws:
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
