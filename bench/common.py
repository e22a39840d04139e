"""What the benchmarks share: a free loopback port and a real ``gpulens serve`` to measure."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def gpulens_server(**env: str) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """``gpulens serve`` (replay, 250 ms, warnings only) on a free port, ready when yielded."""
    port = free_port()
    full = {
        **os.environ, "TELEMETRY_PROVIDER": "replay", "POLL_INTERVAL_MS": "250",
        "LOG_LEVEL": "WARNING", **env, "PORT": str(port),
    }  # fmt: skip
    server = subprocess.Popen([str(BIN / "gpulens"), "serve"], env=full, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("gpulens serve did not start") from None
                time.sleep(0.2)
        yield port, server
    finally:
        server.terminate()
        server.wait(10)
