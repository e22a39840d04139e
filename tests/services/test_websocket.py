"""The hub: fan-out, slow and hostile clients, rate caps, heartbeats (fake sockets).

Frames come from a real stream stage with the hub as its observer, as in the app; the last
test sends a binary frame to the real app, through Starlette's WebSocket.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from gpulens.core.metrics.schema import GpuInfo
from gpulens.services.messages import ProviderStatus
from gpulens.services.stream import Stream
from gpulens.services.websocket import (
    CLOSE_TOO_BIG,
    CLOSE_TOO_SLOW,
    CLOSE_UNSUPPORTED,
    Hub,
    run_housekeeping,
)
from tests.fakes import HOST, gpu
from tests.services.common import OK, config, sample


class FakeConn:
    """A WebSocket double: records what was sent; can block sends or feed inbound text."""

    def __init__(self, block_sends: bool = False) -> None:
        self.sent: list[dict[str, Any]] = []
        self.inbound: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        self.closed_with: tuple[int, str | None] | None = None
        self.block = asyncio.Event()
        if not block_sends:
            self.block.set()

    async def send_text(self, data: str) -> None:
        await self.block.wait()
        self.sent.append(json.loads(data))

    async def receive_text(self) -> str:
        """As Starlette's: KeyError for a binary frame, WebSocketDisconnect when the peer left."""
        item = await self.inbound.get()
        if item is None:
            raise WebSocketDisconnect(1000)
        if isinstance(item, bytes):
            raise KeyError("text")
        return item

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed_with = (code, reason)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["type"] == kind]


async def until(predicate: Callable[[], object], limit: float = 5.0) -> None:
    """Wait (bounded) for a condition; the bound only stops a broken test from hanging."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


class Pipeline:
    """A stream stage feeding one hub, as ``create_app`` wires them."""

    def __init__(self, backlog: int = 5, **kw: Any) -> None:
        defaults: dict[str, Any] = {"max_rate": 1000.0, "send_timeout": 0.5}
        defaults.update(kw)
        self.hub = Hub(**defaults)
        self.stream = Stream(config(), [self.hub], backlog=backlog, clock=self.hub.clock)

    def publish(self, gpus: list[GpuInfo], status: ProviderStatus = OK) -> bool:
        return self.stream.publish(sample(gpus, status)).telemetry is not None

    def serve(self, conn: FakeConn) -> asyncio.Task[None]:
        return asyncio.create_task(self.hub.serve(conn, self.stream.hello))


async def test_every_client_gets_the_same_frames_in_order() -> None:
    line = Pipeline()
    hub = line.hub
    conns = [FakeConn() for _ in range(20)]
    tasks = [line.serve(c) for c in conns]
    await until(lambda: len(hub.clients) == 20)
    for seq in range(6):
        line.publish([gpu(0, util=seq), gpu(1)])
        await asyncio.sleep(0)
    await until(lambda: all(len(c.of_type("telemetry")) == 6 for c in conns))
    for conn in conns:
        assert conn.sent[0]["type"] == "hello"
        assert [m["seq"] for m in conn.of_type("telemetry")] == list(range(6))
    for t in tasks:
        t.cancel()


async def test_hello_carries_config_status_and_backlog() -> None:
    line = Pipeline(backlog=3)
    for seq in range(5):
        line.publish([gpu(0, util=seq)])
    conn = FakeConn()
    task = line.serve(conn)
    await until(lambda: conn.sent)
    hello = conn.sent[0]
    assert hello["type"] == "hello"
    assert [f["seq"] for f in hello["backfill"]] == [2, 3, 4]
    assert hello["config"]["pollIntervalMs"] == 250
    assert hello["status"]["state"] == "ok"
    task.cancel()


async def test_a_client_gets_no_frame_twice_and_misses_none_after_its_backfill() -> None:
    line = Pipeline(backlog=3)
    line.publish([gpu(0, util=0)])
    conn = FakeConn()
    task = line.serve(conn)
    await until(lambda: line.hub.clients)
    for seq in range(1, 4):
        line.publish([gpu(0, util=seq)])
    await until(lambda: len(conn.of_type("telemetry")) == 3)
    backfill = [f["seq"] for f in conn.sent[0]["backfill"]]
    assert backfill + [m["seq"] for m in conn.of_type("telemetry")] == [0, 1, 2, 3]
    task.cancel()


async def test_gpu_added_and_removed_reach_the_clients_before_the_telemetry() -> None:
    line = Pipeline()
    conn = FakeConn()
    task = line.serve(conn)
    await until(lambda: line.hub.clients)
    line.publish([gpu(0), gpu(1)])
    line.publish([gpu(0, util=1)])  # GPU 1 vanished
    line.publish([gpu(0, util=2), gpu(1, uuid="GPU-new")])
    await until(lambda: len(conn.of_type("telemetry")) == 3)
    removed, added = conn.of_type("gpuRemoved"), conn.of_type("gpuAdded")
    assert [m["uuid"] for m in removed] == ["GPU-00000001"]
    assert [m["uuid"] for m in added] == ["GPU-new"]
    kinds = [m["type"] for m in conn.sent if m["type"] != "status"]
    assert kinds == ["hello", "telemetry", "gpuRemoved", "telemetry", "gpuAdded", "telemetry"]
    task.cancel()


async def test_status_reaches_the_clients_when_the_provider_degrades_and_recovers() -> None:
    line = Pipeline()
    conn = FakeConn()
    task = line.serve(conn)
    await until(lambda: line.hub.clients)
    bad = ProviderStatus(state="degraded", provider="nvml", reason="GPU 1: GPU is lost")
    line.publish([gpu(0)])
    line.publish([gpu(0, util=3)], bad)
    line.publish([gpu(0, util=4)], bad)
    line.publish([gpu(0, util=5)], OK)
    await until(lambda: len(conn.of_type("telemetry")) == 4)
    states = [m["status"]["state"] for m in conn.of_type("status")]
    assert states == ["ok", "degraded", "ok"]
    task.cancel()


async def test_a_client_that_never_reads_is_closed_and_others_keep_receiving() -> None:
    line = Pipeline(queue_size=2, max_lag=3, send_timeout=30.0)
    hub = line.hub
    stuck = FakeConn(block_sends=True)
    good = [FakeConn() for _ in range(3)]
    stuck_task = line.serve(stuck)
    tasks = [line.serve(c) for c in good]
    await until(lambda: len(hub.clients) == 4)
    for seq in range(10):
        line.publish([gpu(0, util=seq)])
        await asyncio.sleep(0.01)  # the ticks' spacing, shortened
    await asyncio.wait_for(stuck_task, 5)
    assert stuck.closed_with is not None and stuck.closed_with[0] == CLOSE_TOO_SLOW
    assert hub.stats.clients_closed_slow == 1
    assert hub.stats.frames_dropped >= 4
    await until(lambda: all(len(c.of_type("telemetry")) == 10 for c in good))
    assert len(hub.clients) == 3
    for t in tasks:
        t.cancel()


async def test_a_send_that_times_out_closes_only_that_client() -> None:
    line = Pipeline(send_timeout=0.05, max_lag=1000)
    hub = line.hub
    stuck, good = FakeConn(block_sends=True), FakeConn()
    housekeeping = asyncio.create_task(run_housekeeping(hub))
    stuck_task = line.serve(stuck)
    good_task = line.serve(good)
    await until(lambda: len(hub.clients) == 2)
    line.publish([gpu(0)])
    await asyncio.wait_for(stuck_task, 5)
    assert stuck.closed_with is not None and stuck.closed_with[0] == CLOSE_TOO_SLOW
    line.publish([gpu(0, util=9)])
    await until(lambda: len(good.of_type("telemetry")) == 2)
    assert hub.stats.clients_closed_slow == 1
    good_task.cancel()
    housekeeping.cancel()


async def test_a_slow_reader_loses_old_frames_not_new_ones() -> None:
    line = Pipeline(queue_size=2, max_lag=100)
    conn = FakeConn(block_sends=True)
    task = line.serve(conn)
    await until(lambda: line.hub.clients)
    for seq in range(6):
        line.publish([gpu(0, util=seq)])
    conn.block.set()
    await until(lambda: len(conn.of_type("telemetry")) >= 2)
    await asyncio.sleep(0.05)
    assert [m["seq"] for m in conn.of_type("telemetry")][-2:] == [4, 5]
    task.cancel()


async def test_oversized_inbound_message_closes_with_1009() -> None:
    line = Pipeline()
    conn = FakeConn()
    task = line.serve(conn)
    await conn.inbound.put("x" * 5000)
    await asyncio.wait_for(task, 5)
    assert conn.closed_with is not None and conn.closed_with[0] == CLOSE_TOO_BIG


async def test_inbound_flood_is_closed() -> None:
    line = Pipeline()
    conn = FakeConn()
    task = line.serve(conn)
    for _ in range(50):
        await conn.inbound.put('{"type":"ping"}')
    await asyncio.wait_for(task, 5)
    assert conn.closed_with is not None and conn.closed_with[0] == CLOSE_TOO_SLOW
    assert line.hub.stats.clients_closed_slow == 0  # a flood is not counted as "too slow"


async def test_rate_cap_per_client() -> None:
    clock = [0.0]
    line = Pipeline(max_rate=5.0, clock=lambda: clock[0], queue_size=100, max_lag=1000)
    conn = FakeConn()
    task = line.serve(conn)
    await until(lambda: conn.sent)  # the hello
    for seq in range(5):
        line.publish([gpu(0, util=seq)])
    await asyncio.sleep(0.1)
    # The clock has not moved: after the hello, no further message may go out yet.
    assert len(conn.sent) == 1
    clock[0] += 0.2
    await until(lambda: len(conn.sent) == 2)
    task.cancel()


async def test_heartbeat_only_when_quiet() -> None:
    clock = [0.0]
    line = Pipeline(heartbeat_interval=5.0, clock=lambda: clock[0])
    hub = line.hub
    assert not hub.heartbeat_due()
    clock[0] = 4.0
    line.publish([gpu(0)])
    clock[0] = 8.0
    assert not hub.heartbeat_due()
    clock[0] = 9.5
    assert hub.heartbeat_due()
    conn = FakeConn()
    task = line.serve(conn)
    await until(lambda: conn.sent)
    clock[0] += 1.0  # past the per-client rate gap after the hello
    hub.send_heartbeat()
    await until(lambda: conn.of_type("heartbeat"))
    assert conn.of_type("heartbeat")[0]["seq"] == 0
    task.cancel()


async def test_a_repeated_sample_sends_nothing_so_the_heartbeat_comes() -> None:
    clock = [0.0]
    line = Pipeline(heartbeat_interval=5.0, clock=lambda: clock[0])
    line.publish([gpu(0)])
    line.publish([gpu(0, util=1)])
    for second in range(1, 7):
        clock[0] = float(second)
        assert line.publish([gpu(0, util=1)]) is False  # identical: skipped
    assert line.hub.heartbeat_due()
    assert line.hub.last_seq == 1


@pytest.mark.parametrize("backlog", [0, 1, 120])
async def test_backlog_is_bounded(backlog: int) -> None:
    line = Pipeline(backlog=backlog)
    for seq in range(200):
        line.publish([gpu(0, util=seq % 100), gpu(1, util=seq // 100)])
    conn = FakeConn()
    task = line.serve(conn)
    await until(lambda: conn.sent)
    assert len(conn.sent[0]["backfill"]) == backlog
    task.cancel()


async def test_binary_frame_is_closed_with_1003_and_a_reason() -> None:
    line = Pipeline()
    conn = FakeConn()
    task = line.serve(conn)
    await conn.inbound.put(b"\x00\x01binary")
    await asyncio.wait_for(task, 5)
    assert conn.closed_with == (CLOSE_UNSUPPORTED, "binary frames are not accepted")
    assert conn.of_type("error")[-1]["message"] == "binary frames are not accepted"
    assert line.hub.clients == set()


async def test_a_client_that_leaves_ends_its_tasks() -> None:
    line = Pipeline()
    conn = FakeConn()
    task = line.serve(conn)
    await until(lambda: len(line.hub.clients) == 1)
    await conn.inbound.put(None)
    await asyncio.wait_for(task, 5)
    assert line.hub.clients == set()
    assert conn.closed_with is None  # nothing to close: it is gone


async def test_a_burst_of_clients_shares_one_hello() -> None:
    line = Pipeline()
    line.publish([gpu(0)])
    calls = []
    hello = line.stream.hello

    def counted() -> str:
        frame = hello()
        calls.append(frame)
        return frame

    conns = [FakeConn() for _ in range(10)]
    tasks = [asyncio.create_task(line.hub.serve(c, counted)) for c in conns]
    await until(lambda: all(c.sent for c in conns))
    assert len({id(frame) for frame in calls}) == 1  # serialised once, sent ten times
    for t in tasks:
        t.cancel()


def test_binary_frame_is_closed_with_1003(client: TestClient) -> None:
    with client.websocket_connect("/ws/gpu", headers={"host": HOST}) as ws:
        assert ws.receive_json()["type"] == "hello"
        ws.send_bytes(b"\x00\xff")
        for _ in range(50):  # frames already queued may come first
            message = ws.receive()
            if message["type"] == "websocket.close":
                break
        assert message == {
            "type": "websocket.close",
            "code": 1003,
            "reason": "binary frames are not accepted",
        }
