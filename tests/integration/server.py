"""Start a real ``gpulens serve`` process on a loopback port, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.live import free_port

GPULENS = Path(sys.executable).with_name("gpulens")


@contextmanager
def gpulens_serve(log: Path, **env: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Yields (``127.0.0.1:<port>``, process); stops the process afterwards."""
    port = free_port()
    full_env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", **env}
    full_env.pop("STATIC_DIR", None) if "STATIC_DIR" not in env else None
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(GPULENS), "serve"], env=full_env, stdout=out, stderr=subprocess.STDOUT
        )
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gpulens serve exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"http://{address}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gpulens serve did not answer: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield address, proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
