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
def gpulens_serve(
    log: Path,
    *,
    executable: Path = GPULENS,
    base_env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    **env: str,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Yields (``127.0.0.1:<port>``, process); stops the process afterwards.

    ``executable`` is this venv's ``gpulens`` unless given; the process gets
    ``base_env`` (this process's environment by default) plus ``env``.
    """
    port = free_port()
    inherited = os.environ if base_env is None else base_env
    full_env = {**inherited, "PORT": str(port), "HOST": "127.0.0.1", **env}
    full_env.pop("STATIC_DIR", None) if "STATIC_DIR" not in env else None
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
