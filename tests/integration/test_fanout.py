"""Fan-out over real sockets: a real ``gpulens serve`` process and many real WebSocket clients."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from websockets.asyncio.client import connect

from gpulens.core.metrics import recording
from gpulens.core.metrics.schema import GpuInfo, ProcessInfo
from tests.integration.server import gpulens_serve

pytestmark = pytest.mark.integration

CLIENTS = 200
WINDOW = 8  # consecutive samples every client must see


async def collect(address: str, stop_at: asyncio.Future[int]) -> list[int]:
    """Backfill seqs from hello, then live telemetry seqs until ``stop_at``'s seq is seen."""
    seqs: list[int] = []
    async with connect(f"ws://{address}/ws/gpu", max_size=2**22, open_timeout=30) as ws:
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello"
        seqs.extend(frame["seq"] for frame in hello["backfill"])
        while True:
            message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if message["type"] != "telemetry":
                continue
            seqs.append(message["seq"])
            if stop_at.done() and message["seq"] >= stop_at.result():
                return seqs


async def many_clients(address: str, count: int) -> list[list[int]]:
    stop_at: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    tasks = [asyncio.create_task(collect(address, stop_at)) for _ in range(count)]
    # Once every client is connected, ask all of them to reach the same future seq.
    deadline = time.monotonic() + 60
    while True:
        health = httpx.get(f"http://{address}/api/health").json()
        if health["clients"] >= count:
            break
        assert time.monotonic() < deadline, f"only {health['clients']} clients connected"
        await asyncio.sleep(0.2)
    now_seq = await current_seq(address)
    stop_at.set_result(now_seq + WINDOW)
    return await asyncio.wait_for(asyncio.gather(*tasks), 90)


async def current_seq(address: str) -> int:
    async with connect(f"ws://{address}/ws/gpu", max_size=2**22) as ws:
        hello = json.loads(await ws.recv())
        seq: int = hello["backfill"][-1]["seq"]
        return seq


def test_200_clients_receive_the_same_seqs_in_order(tmp_path: Path) -> None:
    env = {"TELEMETRY_PROVIDER": "replay", "POLL_INTERVAL_MS": "250", "WS_MAX_CLIENTS": "400"}
    with gpulens_serve(tmp_path / "serve.log", **env) as (address, proc):
        results = asyncio.run(many_clients(address, CLIENTS))
        server = psutil.Process(proc.pid)
        rss_first = server.memory_info().rss
        asyncio.run(many_clients(address, CLIENTS))
        asyncio.run(many_clients(address, CLIENTS))
        rss_third = server.memory_info().rss
        health = httpx.get(f"http://{address}/api/health").json()
    assert "POLL_INTERVAL_MS=250 is under 1000 ms" in (tmp_path / "serve.log").read_text()
    assert len(results) == CLIENTS
    end = min(max(seqs) for seqs in results)
    start = end - WINDOW
    for seqs in results:
        window = [s for s in seqs if start <= s <= end]
        assert window == list(range(start, end + 1)), seqs
        assert seqs == sorted(seqs)
    # 400 more clients came and went: memory stays flat (no per-client leftovers).
    assert rss_third - rss_first < 16 * 1024 * 1024, (rss_first, rss_third)
    assert health["clients"] == 0


def big_recording(path: Path) -> Path:
    """8 GPUs with 60 processes each: ~100 KB a frame, so a stalled socket fills up fast."""
    frames = []
    for t in range(40):
        gpus = [
            GpuInfo(
                id=i,
                name="NVIDIA H100 80GB HBM3",
                uuid=f"GPU-{i:04d}",
                utilization=(t * 5 + i) % 100,
                processes=[
                    ProcessInfo(
                        pid=1000 + i * 100 + p,
                        name=f"worker-{p:03d}-" + "x" * 40,
                        used_memory_mib=p,
                        user="someone",
                    )
                    for p in range(60)
                ],
            )
            for i in range(8)
        ]
        frames.append((t * 0.25, gpus))
    recording.write(path, {"source": "nvml", "interval": 0.25}, frames)
    return path


def stalled_client(address: str) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads again."""
    host, port = address.split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/gpu HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    assert b" 101 " in sock.recv(256)
    return sock


async def keep_receiving(address: str, stop: asyncio.Event) -> list[int]:
    seqs: list[int] = []
    async with connect(f"ws://{address}/ws/gpu", max_size=2**24) as ws:
        while not stop.is_set():
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if message["type"] == "telemetry":
                seqs.append(message["seq"])
    return seqs


async def stalled_scenario(address: str) -> tuple[list[list[int]], int]:
    stalled = stalled_client(address)
    stop = asyncio.Event()
    readers = [asyncio.create_task(keep_receiving(address, stop)) for _ in range(4)]
    try:
        deadline = time.monotonic() + 40
        while True:  # until the server gave up on the stalled client
            health = httpx.get(f"http://{address}/api/health").json()
            if health["clients"] == 4:
                break
            assert time.monotonic() < deadline, "the stalled client was never closed"
            await asyncio.sleep(0.25)
        await asyncio.sleep(2.0)  # the readers go on receiving after the stalled one is gone
        stop.set()
        seqs = await asyncio.gather(*readers)
        clients_after = httpx.get(f"http://{address}/api/health").json()["clients"]
    finally:
        stalled.close()
    return seqs, clients_after


def test_a_client_that_never_reads_is_closed_and_the_others_keep_up(tmp_path: Path) -> None:
    env = {
        "TELEMETRY_PROVIDER": "replay",
        "REPLAY_FILE": str(big_recording(tmp_path / "big.jsonl.gz")),
        "POLL_INTERVAL_MS": "250",
        "WS_SEND_TIMEOUT_MS": "1000",
        "WS_MAX_LAG_DROPS": "4",
    }
    with gpulens_serve(tmp_path / "serve.log", **env) as (address, _):
        seqs, clients_after = asyncio.run(stalled_scenario(address))
    log = (tmp_path / "serve.log").read_text()
    assert "client too slow" in log or "send took over" in log
    assert clients_after == 0
    for client_seqs in seqs:
        # Every reader kept getting fresh samples with no gaps while the stalled one was stuck.
        assert len(client_seqs) >= 16
        assert client_seqs == list(range(client_seqs[0], client_seqs[0] + len(client_seqs)))
