"""The hub: fan-out, backlog, de-duplication, hot-plug, slow and hostile clients (fake sockets)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from starlette.websockets import WebSocketDisconnect

from gpulens.core.metrics.schema import GpuInfo, Telemetry
from gpulens.services.messages import ClientConfig, ProviderStatus, TemperatureThresholds
from gpulens.services.websocket import (
    CLOSE_TOO_BIG,
    CLOSE_TOO_SLOW,
    CLOSE_UNSUPPORTED,
    Hub,
    run_housekeeping,
)
from tests.fakes import FakeSystem, gpu

OK = ProviderStatus(state="ok", provider="nvml")


def config() -> ClientConfig:
    return ClientConfig(
        poll_interval_ms=250, ws_backlog=5, heartbeat_interval_ms=1000, max_rate=5.0,
        hostname="box", version="test", busy_utilization=10,
        temperature_thresholds=TemperatureThresholds(warn=70, hot=85),
    )  # fmt: skip


def payload(seq: int, gpus: list[GpuInfo]) -> Telemetry:
    return Telemetry(
        seq=seq, timestamp=datetime.now(UTC), source="nvml", gpus=gpus, system=FakeSystem().sample()
    )


class FakeConn:
    """A WebSocket double: records what was sent; can block sends or feed inbound text."""

    def __init__(self, block_sends: bool = False) -> None:
        self.sent: list[dict[str, object]] = []
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

    def of_type(self, kind: str) -> list[dict[str, object]]:
        return [m for m in self.sent if m["type"] == kind]


async def until(predicate: object, limit: float = 5.0) -> None:
    """Wait (bounded) for a condition; the bound only stops a broken test from hanging."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while not predicate():  # type: ignore[operator]
        if loop.time() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


def make_hub(**kw: object) -> Hub:
    defaults: dict[str, object] = {"backlog": 5, "max_rate": 1000.0, "send_timeout": 0.5}
    defaults.update(kw)
    return Hub(config(), **defaults)  # type: ignore[arg-type]


async def test_every_client_gets_the_same_frames_in_order() -> None:
    hub = make_hub()
    conns = [FakeConn() for _ in range(20)]
    tasks = [asyncio.create_task(hub.serve(c)) for c in conns]
    await until(lambda: len(hub.clients) == 20)
    for seq in range(6):
        hub.publish(payload(seq, [gpu(0, util=seq), gpu(1)]), OK)
        await asyncio.sleep(0)
    await until(lambda: all(len(c.of_type("telemetry")) == 6 for c in conns))
    for conn in conns:
        assert conn.sent[0]["type"] == "hello"
        assert [m["seq"] for m in conn.of_type("telemetry")] == list(range(6))
    for t in tasks:
        t.cancel()


async def test_hello_carries_config_status_and_backlog() -> None:
    hub = make_hub(backlog=3)
    for seq in range(5):
        hub.publish(payload(seq, [gpu(0, util=seq)]), OK)
    conn = FakeConn()
    task = asyncio.create_task(hub.serve(conn))
    await until(lambda: conn.sent)
    hello = conn.sent[0]
    assert hello["type"] == "hello"
    assert [f["seq"] for f in hello["backfill"]] == [2, 3, 4]  # type: ignore[index, union-attr]
    assert hello["config"]["pollIntervalMs"] == 250  # type: ignore[index, call-overload]
    assert hello["status"]["state"] == "ok"  # type: ignore[index, call-overload]
    task.cancel()


async def test_identical_samples_are_not_resent() -> None:
    hub = make_hub()
    same = [gpu(0, util=10)]
    assert hub.publish(payload(0, same), OK) is True
    assert hub.publish(payload(1, same), OK) is False
    assert hub.publish(payload(1, [gpu(0, util=11)]), OK) is True
    assert hub.stats.frames_deduplicated == 1
    assert len(hub.history) == 2
    assert hub.next_seq() == 2  # a skipped sample does not leave a gap in seq numbers


async def test_gpu_added_and_removed_are_announced_by_uuid() -> None:
    hub = make_hub()
    conn = FakeConn()
    task = asyncio.create_task(hub.serve(conn))
    await until(lambda: hub.clients)
    hub.publish(payload(0, [gpu(0), gpu(1)]), OK)
    hub.publish(payload(1, [gpu(0, util=1)]), OK)  # GPU 1 vanished
    hub.publish(payload(2, [gpu(0, util=2), gpu(1, uuid="GPU-new")]), OK)
    await until(lambda: len(conn.of_type("telemetry")) == 3)
    removed, added = conn.of_type("gpuRemoved"), conn.of_type("gpuAdded")
    assert [m["uuid"] for m in removed] == ["GPU-00000001"]
    assert [m["uuid"] for m in added] == ["GPU-new"]
    # The first sample is not announced as "added": the hello/backfill already says it.
    assert all(m["seq"] in (1, 2) for m in removed + added)
    task.cancel()


async def test_status_is_sent_when_the_provider_degrades_and_recovers() -> None:
    hub = make_hub()
    conn = FakeConn()
    task = asyncio.create_task(hub.serve(conn))
    await until(lambda: hub.clients)
    bad = ProviderStatus(state="degraded", provider="nvml", reason="GPU 1: GPU is lost")
    hub.publish(payload(0, [gpu(0)]), OK)
    hub.publish(payload(1, [gpu(0, util=3)]), bad)
    hub.publish(payload(2, [gpu(0, util=4)]), bad)
    hub.publish(payload(3, [gpu(0, util=5)]), OK)
    await until(lambda: len(conn.of_type("telemetry")) == 4)
    states = [m["status"]["state"] for m in conn.of_type("status")]  # type: ignore[index, call-overload]
    assert states == ["ok", "degraded", "ok"]
    task.cancel()


async def test_a_client_that_never_reads_is_closed_and_others_keep_receiving() -> None:
    hub = make_hub(queue_size=2, max_lag=3, send_timeout=30.0)
    stuck = FakeConn(block_sends=True)
    good = [FakeConn() for _ in range(3)]
    stuck_task = asyncio.create_task(hub.serve(stuck))
    tasks = [asyncio.create_task(hub.serve(c)) for c in good]
    await until(lambda: len(hub.clients) == 4)
    for seq in range(10):
        hub.publish(payload(seq, [gpu(0, util=seq)]), OK)
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
    hub = make_hub(send_timeout=0.05, max_lag=1000)
    stuck, good = FakeConn(block_sends=True), FakeConn()
    housekeeping = asyncio.create_task(run_housekeeping(hub))
    stuck_task = asyncio.create_task(hub.serve(stuck))
    good_task = asyncio.create_task(hub.serve(good))
    await until(lambda: len(hub.clients) == 2)
    hub.publish(payload(0, [gpu(0)]), OK)
    await asyncio.wait_for(stuck_task, 5)
    assert stuck.closed_with is not None and stuck.closed_with[0] == CLOSE_TOO_SLOW
    hub.publish(payload(1, [gpu(0, util=9)]), OK)
    await until(lambda: len(good.of_type("telemetry")) == 2)
    assert hub.stats.clients_closed_slow == 1
    good_task.cancel()
    housekeeping.cancel()


async def test_a_slow_reader_loses_old_frames_not_new_ones() -> None:
    hub = make_hub(queue_size=2, max_lag=100)
    conn = FakeConn(block_sends=True)
    task = asyncio.create_task(hub.serve(conn))
    await until(lambda: hub.clients)
    for seq in range(6):
        hub.publish(payload(seq, [gpu(0, util=seq)]), OK)
    conn.block.set()
    await until(lambda: len(conn.of_type("telemetry")) >= 2)
    await asyncio.sleep(0.05)
    assert [m["seq"] for m in conn.of_type("telemetry")][-2:] == [4, 5]
    task.cancel()


async def test_oversized_inbound_message_closes_with_1009() -> None:
    hub = make_hub()
    conn = FakeConn()
    task = asyncio.create_task(hub.serve(conn))
    await conn.inbound.put("x" * 5000)
    await asyncio.wait_for(task, 5)
    assert conn.closed_with is not None and conn.closed_with[0] == CLOSE_TOO_BIG


async def test_inbound_flood_is_closed() -> None:
    hub = make_hub()
    conn = FakeConn()
    task = asyncio.create_task(hub.serve(conn))
    for _ in range(50):
        await conn.inbound.put('{"type":"ping"}')
    await asyncio.wait_for(task, 5)
    assert conn.closed_with is not None and conn.closed_with[0] == CLOSE_TOO_SLOW
    assert hub.stats.clients_closed_slow == 0  # a flood is not counted as "too slow"


async def test_rate_cap_per_client() -> None:
    clock = [0.0]
    hub = make_hub(max_rate=5.0, clock=lambda: clock[0], queue_size=100, max_lag=1000)
    conn = FakeConn()
    task = asyncio.create_task(hub.serve(conn))
    await until(lambda: conn.sent)  # the hello
    for seq in range(5):
        hub.publish(payload(seq, [gpu(0, util=seq)]), OK)
    await asyncio.sleep(0.1)
    # The clock has not moved: after the hello, no further message may go out yet.
    assert len(conn.sent) == 1
    clock[0] += 0.2
    await until(lambda: len(conn.sent) == 2)
    task.cancel()


async def test_heartbeat_only_when_quiet() -> None:
    clock = [0.0]
    hub = make_hub(heartbeat_interval=5.0, clock=lambda: clock[0])
    assert not hub.heartbeat_due()
    clock[0] = 4.0
    hub.publish(payload(0, [gpu(0)]), OK)
    clock[0] = 8.0
    assert not hub.heartbeat_due()
    clock[0] = 9.5
    assert hub.heartbeat_due()
    conn = FakeConn()
    task = asyncio.create_task(hub.serve(conn))
    await until(lambda: conn.sent)
    clock[0] += 1.0  # past the per-client rate gap after the hello
    hub.send_heartbeat()
    await until(lambda: conn.of_type("heartbeat"))
    assert conn.of_type("heartbeat")[0]["seq"] == 0
    task.cancel()


@pytest.mark.parametrize("backlog", [0, 1, 120])
def test_backlog_is_bounded(backlog: int) -> None:
    hub = make_hub(backlog=backlog)
    for seq in range(200):
        hub.publish(payload(seq, [gpu(0, util=seq % 100), gpu(1, util=seq // 100)]), OK)
    assert len(hub.history) == backlog
    backfill = json.loads(hub.hello())["backfill"]
    assert len(backfill) == backlog


async def test_binary_frame_is_closed_with_1003_and_a_reason() -> None:
    hub = make_hub()
    conn = FakeConn()
    task = asyncio.create_task(hub.serve(conn))
    await conn.inbound.put(b"\x00\x01binary")
    await asyncio.wait_for(task, 5)
    assert conn.closed_with == (CLOSE_UNSUPPORTED, "binary frames are not accepted")
    assert conn.of_type("error")[-1]["message"] == "binary frames are not accepted"
    assert hub.clients == set()


async def test_a_client_that_leaves_ends_its_tasks() -> None:
    hub = make_hub()
    conn = FakeConn()
    task = asyncio.create_task(hub.serve(conn))
    await until(lambda: len(hub.clients) == 1)
    await conn.inbound.put(None)
    await asyncio.wait_for(task, 5)
    assert hub.clients == set()
    assert conn.closed_with is None  # nothing to close: it is gone


async def test_a_reason_that_keeps_changing_is_not_resent_every_sample() -> None:
    clock = [0.0]
    hub = make_hub(clock=lambda: clock[0])
    sent: list[dict[str, object]] = []
    broadcast = hub.broadcast
    hub.broadcast = lambda frame: (sent.append(json.loads(frame)), broadcast(frame))[1]  # type: ignore[method-assign]
    for second in range(30):  # a tool printing a different error every second
        clock[0] = float(second)
        degraded = ProviderStatus(state="degraded", provider="nvtop", reason=f"error at {second}")
        hub.publish(payload(second, [gpu(0, util=second)]), degraded)
    clock[0] = 30.0
    hub.publish(payload(30, [gpu(0)]), OK)  # recovered: said at once
    reasons = [m["status"]["reason"] for m in sent if m["type"] == "status"]  # type: ignore[index, call-overload]
    assert reasons == ["error at 0", "error at 10", "error at 20", None]
    assert hub.status == OK
