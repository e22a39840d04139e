"""The HTTP head bounds (``HeadDeadlineProtocol``) over a fake transport: a deadline for each
request head, a size bound, and what the client gets when it breaks either."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from gpulens.api import http
from gpulens.api.http import MAX_HEAD_BYTES, HeadDeadlineProtocol


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        addresses = {"sockname": ("127.0.0.1", 5000), "peername": ("127.0.0.1", 40000)}
        return addresses.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def ok_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def connect() -> tuple[HeadDeadlineProtocol, FakeTransport]:
    config = uvicorn.Config(ok_app, log_config=None, lifespan="off", http=HeadDeadlineProtocol)
    config.load()
    protocol_class = config.http_protocol_class
    assert issubclass(protocol_class, HeadDeadlineProtocol)
    protocol = protocol_class(config=config, server_state=ServerState(), app_state={})
    transport = FakeTransport()
    protocol.connection_made(transport)
    return protocol, transport


def deadline(protocol: HeadDeadlineProtocol) -> float | None:
    handle = protocol._head_deadline
    return None if handle is None else handle.when()


async def until(condition: Any) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


async def test_partial_data_does_not_move_the_deadline() -> None:
    protocol, transport = connect()
    first = deadline(protocol)
    assert first is not None
    for byte in b"GET / HTTP/1.1\r\nHost: x\r\n":
        protocol.data_received(bytes([byte]))
        assert deadline(protocol) == first
    protocol.head_deadline_expired()
    assert transport.closed
    assert transport.written == b""  # closed without an answer
    protocol.connection_lost(None)


async def test_a_complete_head_stops_it_and_a_response_restarts_it() -> None:
    protocol, transport = connect()
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert deadline(protocol) is None
    await until(lambda: b"ok" in transport.written)
    # Keep-alive: the client now owes the next head, and trickling it does not help.
    restarted = deadline(protocol)
    assert restarted is not None
    protocol.data_received(b"GET / HT")
    assert deadline(protocol) == restarted
    protocol.head_deadline_expired()
    assert transport.closed
    protocol.connection_lost(None)
    assert deadline(protocol) is None


async def test_a_pipelined_request_is_not_cut_off() -> None:
    protocol, transport = connect()
    protocol.data_received(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
    await until(lambda: transport.written.count(b"HTTP/1.1 200") == 2)
    assert not transport.closed
    assert deadline(protocol) is not None  # waiting for a third head
    protocol.connection_lost(None)


async def test_closing_the_connection_cancels_the_deadline() -> None:
    protocol, _ = connect()
    handle = protocol._head_deadline
    assert handle is not None
    protocol.connection_lost(None)
    assert handle.cancelled()


@pytest.mark.parametrize(
    "tail",
    [
        pytest.param(b"", id="incomplete, refused by h11's buffer bound"),
        pytest.param(b"\r\n\r\n", id="complete in one read, refused by its size"),
    ],
)
async def test_a_head_over_the_bound_gets_431(tail: bytes) -> None:
    protocol, transport = connect()
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * MAX_HEAD_BYTES + tail
    protocol.data_received(head)
    assert transport.written.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert b"HTTP/1.1 200" not in transport.written
    assert transport.closed
    protocol.connection_lost(None)


async def test_a_head_just_under_the_bound_is_served() -> None:
    protocol, transport = connect()
    start = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: "
    head = start + b"a" * (MAX_HEAD_BYTES - len(start) - 4) + b"\r\n\r\n"
    assert len(head) == MAX_HEAD_BYTES
    protocol.data_received(head)
    await until(lambda: b"ok" in transport.written)
    assert transport.written.startswith(b"HTTP/1.1 200 ")
    protocol.connection_lost(None)


async def test_a_malformed_head_still_gets_400() -> None:
    protocol, transport = connect()
    protocol.data_received(b"NOT HTTP\r\n\r\n")
    assert transport.written.startswith(b"HTTP/1.1 400 ")
    assert transport.closed
    protocol.connection_lost(None)


def test_the_readme_states_the_bounds() -> None:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert f"| {http.HEAD_TIMEOUT_S:g} s (`HEAD_TIMEOUT_S`" in text
    assert f"| {MAX_HEAD_BYTES // 1024} KiB, request line and headers" in text
