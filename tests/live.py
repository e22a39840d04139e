"""A real uvicorn server on a loopback port, in a thread, for tests over real sockets."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from websockets.sync.client import ClientConnection

from gpulens.api.app import create_app
from gpulens.config import Settings
from tests.fakes import FakeSystem, selection, steady


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serve_in_thread(app: FastAPI) -> Iterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1:<free port>; yields ``host:port``."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ws_max_size=4096, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def live(**kw: Any) -> Iterator[str]:
    """The app on two steady fake GPUs, served by ``serve_in_thread``; ``kw`` overrides its
    settings. Yields ``host:port``."""
    base: dict[str, Any] = {"ws_backlog": 10, "poll_interval_ms": 250}
    base.update(kw)
    settings = Settings(**base)
    app = create_app(settings, selection=selection(steady(2)), system=FakeSystem())
    with serve_in_thread(app) as address:
        yield address


def receive(ws: ClientConnection) -> dict[str, Any]:
    """The next message from a WebSocket client, parsed."""
    message: dict[str, Any] = json.loads(ws.recv(timeout=10))
    return message
