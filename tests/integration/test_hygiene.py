"""Connection hygiene on a real ``gpulens serve``: idle sockets, slowloris, header floods.

Waits are bounded; nothing here asserts how fast anything happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import selectors
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from websockets.asyncio.client import ClientConnection, connect

from gpulens.api.http import HEAD_TIMEOUT_S, MAX_HEAD_BYTES
from tests.integration.server import gpulens_serve

pytestmark = pytest.mark.integration

SERVER_NOFILE = 1024
IDLE_SOCKETS = 1000
ENV = {"TELEMETRY_PROVIDER": "replay", "POLL_INTERVAL_MS": "250"}
# Longest bounded wait for the server to close what it should: the deadline
# twice over (sockets left in the accept queue while the server had no free
# descriptor get their own deadline once accepted) plus slack for a slow box.
CLOSE_WAIT_S = 3 * HEAD_TIMEOUT_S + 10


def split(address: str) -> tuple[str, int]:
    host, port = address.rsplit(":", 1)
    return host, int(port)


@pytest.fixture
def many_files() -> Iterator[None]:
    """Let this test process hold the idle sockets (its soft RLIMIT_NOFILE may be 1024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = IDLE_SOCKETS + 256
    if hard != resource.RLIM_INFINITY and hard < want:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {want}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def closed_by_peer(sock: socket.socket) -> bool:
    """True once the server has closed ``sock`` (EOF or reset); never an HTTP answer."""
    try:
        data = sock.recv(4096)
    except (ConnectionResetError, BrokenPipeError):
        return True
    assert data == b"", f"expected a close, got {data[:80]!r}"
    return True


def read_response(sock: socket.socket) -> bytes:
    """One whole HTTP response (head and Content-Length body) from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, f"closed mid-response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(4096)
        assert chunk, f"closed mid-response: {data!r}"
        body += chunk
    assert len(body) == length, "more than one response"
    return head + b"\r\n\r\n" + body


def wait_closed(sockets: list[socket.socket], timeout: float) -> int:
    """Wait (at most ``timeout``) until the server closes every socket; how many it closed."""
    sel = selectors.DefaultSelector()
    for sock in sockets:
        sel.register(sock, selectors.EVENT_READ)
    closed = 0
    deadline = time.monotonic() + timeout
    while closed < len(sockets) and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            peer = key.fileobj
            assert isinstance(peer, socket.socket)
            sel.unregister(peer)
            closed += closed_by_peer(peer)
    sel.close()
    return closed


def health_answers(address: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://{address}/api/health", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


async def read_telemetry(ws: ClientConnection, seqs: list[int]) -> None:
    """Append every telemetry seq ``ws`` receives to ``seqs``, until cancelled."""
    while True:
        message = json.loads(await ws.recv())
        if message["type"] == "telemetry":
            seqs.append(message["seq"])


async def frames_arrive(seqs: list[int], count: int, reader: asyncio.Task[None]) -> None:
    """Wait (bounded) until ``count`` more telemetry frames than now have arrived."""
    target = len(seqs) + count
    deadline = time.monotonic() + 20
    while len(seqs) < target:
        if reader.done():
            reader.result()  # the WebSocket closed: raise why
        assert time.monotonic() < deadline, f"{len(seqs)} of {target} frames"
        await asyncio.sleep(0.1)


def open_idle(address: str, count: int) -> list[socket.socket]:
    return [socket.create_connection(split(address), timeout=10) for _ in range(count)]


def test_idle_sockets_are_closed_and_the_stream_keeps_flowing(
    tmp_path: Path, many_files: None
) -> None:
    with gpulens_serve(tmp_path / "serve.log", **ENV) as (address, proc):
        # The server runs under a small descriptor limit, as it did under systemd's default.
        resource.prlimit(proc.pid, resource.RLIMIT_NOFILE, (SERVER_NOFILE, SERVER_NOFILE))

        async def scenario() -> tuple[list[int], int, bool]:
            seqs: list[int] = []
            async with connect(f"ws://{address}/ws/gpu", max_size=2**22, open_timeout=10) as ws:
                assert json.loads(await ws.recv())["type"] == "hello"
                reader = asyncio.create_task(read_telemetry(ws, seqs))
                idle = await asyncio.to_thread(open_idle, address, IDLE_SOCKETS)
                try:
                    await frames_arrive(seqs, 4, reader)  # while the idle sockets are open
                    closed = await asyncio.to_thread(wait_closed, idle, CLOSE_WAIT_S)
                finally:
                    for sock in idle:
                        sock.close()
                healthy = await asyncio.to_thread(health_answers, address, 15)
                # The same WebSocket, past the head deadline: the upgrade stopped it.
                await frames_arrive(seqs, 2, reader)
                reader.cancel()
            return seqs, closed, healthy

        seqs, closed, healthy = asyncio.run(scenario())
        assert proc.poll() is None
    assert closed == IDLE_SOCKETS
    assert healthy
    assert seqs == sorted(set(seqs))


def test_a_slowloris_is_closed_at_the_deadline(tmp_path: Path) -> None:
    with gpulens_serve(tmp_path / "serve.log", **ENV) as (address, _):
        fresh = socket.create_connection(split(address), timeout=10)
        fresh.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        # A keep-alive connection that completes one request, then trickles the next head.
        kept = socket.create_connection(split(address), timeout=10)
        kept.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert read_response(kept).startswith(b"HTTP/1.1 200")
        kept.sendall(b"GET /api/health HTTP/1.1\r\nX-Slow: ")

        open_ = {fresh, kept}
        sel = selectors.DefaultSelector()
        for sock in open_:
            sel.register(sock, selectors.EVENT_READ)
        sent = 0
        deadline = time.monotonic() + CLOSE_WAIT_S
        while open_ and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1):
                peer = key.fileobj
                assert isinstance(peer, socket.socket)
                sel.unregister(peer)
                open_.discard(peer)
                closed_by_peer(peer)
            for sock in open_:  # one header byte a second, never the end of the head
                with contextlib.suppress(OSError):  # closed: the select sees it next round
                    sock.sendall(b"a")
            sent += 1
        sel.close()
        fresh.close()
        kept.close()
        assert not open_, "a connection trickling its head stayed open"
        assert sent > 2  # bytes kept arriving and the deadline still held
        assert health_answers(address, 10)


def flood(address: str, size: int) -> bytes:
    """One request whose head is ``size`` bytes of headers; what the server answered."""
    sock = socket.create_connection(split(address), timeout=10)
    try:
        head = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        line = b"X-Flood: " + b"a" * 1000 + b"\r\n"
        with contextlib.suppress(OSError):  # the server stopped reading and closed
            sock.sendall(head + line * (size // len(line)) + b"\r\n")
        try:
            return sock.recv(4096)
        except OSError:
            return b""
    finally:
        sock.close()


def test_a_header_flood_is_refused_and_memory_comes_back(tmp_path: Path) -> None:
    with gpulens_serve(tmp_path / "serve.log", **ENV) as (address, proc):
        server = psutil.Process(proc.pid)
        for _ in range(20):  # warm up the request path before the baseline
            httpx.get(f"http://{address}/api/health", timeout=5)
        baseline = server.memory_info().rss
        answers = [flood(address, 1 << 20) for _ in range(8)]
        # Just over the bound, in one read or two: refused by its size or by h11's buffer.
        answers += [flood(address, MAX_HEAD_BYTES + 4096) for _ in range(4)]
        assert health_answers(address, 10)
        after = server.memory_info().rss
    for answer in answers:
        assert answer == b"" or answer.startswith((b"HTTP/1.1 431 ", b"HTTP/1.1 400 ")), answer
    # Unbounded, each flood grew the server by about its size and it stayed.
    assert after - baseline < 16 * 2**20, (baseline, after)
