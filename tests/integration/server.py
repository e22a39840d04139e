"""Start a real ``gpulens serve`` process on a loopback port, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.live import free_port

GPULENS = Path(sys.executable).with_name("gpulens")


@contextmanager
def gpulens_serve(log: Path, **env: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """This venv's ``gpulens serve`` with this process's environment plus ``env``
    (STATIC_DIR only if given). Yields (``127.0.0.1:<port>``, process)."""
    inherited = {k: v for k, v in os.environ.items() if k != "STATIC_DIR"}
    with serve_process(log, GPULENS, {**inherited, **env}) as running:
        yield running


@contextmanager
def serve_process(
    log: Path, executable: Path, env: Mapping[str, str], cwd: Path | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``executable serve`` with exactly ``env`` (plus HOST and PORT) in ``cwd``, until it
    answers /api/health. Yields (``127.0.0.1:<port>``, process); stops it afterwards."""
    port = free_port()
    full_env = {**env, "PORT": str(port), "HOST": "127.0.0.1"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(executable), "serve"], env=full_env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT
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
