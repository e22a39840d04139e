"""The hub: delivers the stream's frames to every client, nobody waits for anybody.

It decides nothing about content (the stream stage does): it sends each
client its ``hello``, then every update's frames, serialised once, the same
bytes to all, and a heartbeat when nothing else went out for a while.

Each client has a small bounded queue. Delivering never awaits a client: a
frame that does not fit pushes out the oldest one. A writer task per client
sends under a per-client rate cap; a reader task per client always runs
(pongs and closes depend on it) and enforces inbound limits. A client that
keeps losing frames, or whose send is stuck, is closed; the others never
notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from gpulens.services.messages import ErrorMessage, Heartbeat
from gpulens.services.stream import Update

log = logging.getLogger("gpulens.hub")

CLOSE_UNSUPPORTED = 1003  # a binary frame: the protocol is JSON text
CLOSE_TOO_SLOW = 1008  # policy violation: fell too far behind
CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN = 1013
MAX_INBOUND_BYTES = 1024
MAX_INBOUND_PER_S = 10


class Connection(Protocol):
    """What the hub needs from a WebSocket (Starlette's fits; tests pass fakes)."""

    async def send_text(self, data: str) -> None: ...

    async def receive_text(self) -> str:
        """The next text frame; ``KeyError`` for a binary one, any other error when gone."""
        ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


@dataclass(slots=True)
class HubStats:
    frames_dropped: int = 0
    clients_closed_slow: int = 0
    clients_refused_full: int = 0
    clients_total: int = 0


@dataclass(eq=False)
class Client:
    conn: Connection
    queue_size: int
    peer: str = "?"
    queue: deque[str] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    kicked: asyncio.Event = field(default_factory=asyncio.Event)
    lag: int = 0  # frames lost in a row
    closed: bool = False
    stuck: bool = False
    sending_since: float | None = None  # set while a send is in progress (see check_stuck)
    close_code: int | None = None
    close_reason: str | None = None

    def offer(self, frame: str) -> bool:
        """Queue a frame without waiting; returns False when the oldest had to go."""
        dropped = len(self.queue) >= self.queue_size
        if dropped:
            self.queue.popleft()
            self.lag += 1
        self.queue.append(frame)
        self.wake.set()
        return not dropped


def _now() -> datetime:
    return datetime.now(UTC)


class Hub:
    """Delivery of serialised frames to clients: queues, rate caps, slow and hostile clients."""

    def __init__(
        self,
        *,
        max_clients: int = 256,
        queue_size: int = 8,
        send_timeout: float = 5.0,
        max_lag: int = 40,
        max_rate: float = 5.0,
        heartbeat_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_clients = max_clients
        self.queue_size = queue_size
        self.send_timeout = send_timeout
        self.max_lag = max_lag
        self.min_gap = 1.0 / max_rate
        self.heartbeat_interval = heartbeat_interval
        self.clock = clock
        self.stats = HubStats()
        self.clients: set[Client] = set()
        self.last_seq = -1  # the last telemetry seq delivered, for heartbeats
        # The latest frame of each kind that is not part of the hello (the fleet message):
        # a new client gets it right after its hello.
        self.latest: dict[str, str] = {}
        self._last_broadcast = clock()

    # -- delivering (an observer of the stream; never awaits a client) ----------

    def observe(self, update: Update) -> None:
        """Send the update's frames, in order, to every client."""
        if update.telemetry is not None:
            self.last_seq = update.telemetry.seq
        for frame in update.frames:
            self.broadcast(frame)

    def broadcast(self, frame: str) -> None:
        self._last_broadcast = self.clock()
        for client in list(self.clients):
            if not client.offer(frame):
                self.stats.frames_dropped += 1
                if client.lag > self.max_lag:
                    self._kick(client, CLOSE_TOO_SLOW, "client too slow", slow=True)

    def remember(self, kind: str, frame: str) -> None:
        """Keep ``frame`` as the latest of its kind, for clients that join later."""
        self.latest[kind] = frame

    def check_stuck(self) -> int:
        """Close clients whose current send has been blocked for over ``send_timeout``."""
        now, kicked = self.clock(), 0
        for client in list(self.clients):
            since = client.sending_since
            if since is not None and now - since > self.send_timeout:
                self._kick(
                    client, CLOSE_TOO_SLOW, f"send took over {self.send_timeout:g} s", slow=True
                )
                kicked += 1
        return kicked

    def heartbeat_due(self) -> bool:
        return self.clock() - self._last_broadcast >= self.heartbeat_interval

    def send_heartbeat(self) -> None:
        beat = Heartbeat(timestamp=_now(), seq=max(self.last_seq, 0))
        self.broadcast(beat.model_dump_json(by_alias=True))

    # -- clients -------------------------------------------------------------

    @property
    def full(self) -> bool:
        return len(self.clients) >= self.max_clients

    def _kick(self, client: Client, code: int, reason: str, *, slow: bool = False) -> None:
        if client.closed:
            return
        client.closed, client.close_code, client.close_reason = True, code, reason
        self.clients.discard(client)
        if slow:
            client.stuck = True
            self.stats.clients_closed_slow += 1
            log.warning("closing %s: %s", client.peer, reason)
        client.kicked.set()  # ends serve() even while a send is stuck

    async def refuse_full(self, conn: Connection) -> None:
        """Tell a client the server is full, then close (after the caller accepted it)."""
        self.stats.clients_refused_full += 1
        message = ErrorMessage(code="server_full", message="Too many dashboards are connected.")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.send_text(message.model_dump_json()), self.send_timeout)
            await asyncio.wait_for(conn.close(CLOSE_TRY_AGAIN, "server full"), self.send_timeout)

    async def serve(self, conn: Connection, hello: Callable[[], str], peer: str = "?") -> None:
        """Run one accepted client until it leaves or is closed; never raises.

        ``hello()`` gives its first frame; the client joins in the same step, so it
        misses no frame published after its backfill and gets none twice.
        """
        client = Client(conn=conn, queue_size=self.queue_size, peer=peer)
        client.offer(hello())
        for frame in self.latest.values():  # e.g. the fleet, which the hello does not hold
            client.offer(frame)
        self.clients.add(client)
        self.stats.clients_total += 1
        tasks = (
            asyncio.create_task(self._writer(client)),
            asyncio.create_task(self._reader(client)),
            asyncio.create_task(client.kicked.wait()),
        )
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.clients.discard(client)
            for task in tasks:
                task.cancel()
            # Shielded: if serve() is cancelled while it waits here (shutdown), the
            # cancellation reaches it at once and the tasks still finish. Unshielded,
            # Starlette's test client saw about one session in three end cancelled.
            await asyncio.shield(asyncio.gather(*tasks, return_exceptions=True))
            if client.close_code is not None:
                await self._close(client)

    async def _close(self, client: Client) -> None:
        code, reason = client.close_code or 1000, client.close_reason or ""
        if code != 1000 and not client.stuck:  # say why, unless its sends are stuck anyway
            error = ErrorMessage(code="closed", message=reason)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.conn.send_text(error.model_dump_json()), 1.0)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.conn.close(code, reason), 1.0)

    async def _writer(self, client: Client) -> None:
        next_allowed = 0.0
        while not client.closed:
            if not client.queue:
                client.wake.clear()
                await client.wake.wait()
                continue
            wait = next_allowed - self.clock()
            if wait > 0:
                await asyncio.sleep(wait)  # frames arriving meanwhile push out older ones
                continue
            frame = client.queue.popleft()
            # No timer per send: a send normally completes at once; the housekeeping loop
            # closes a client whose send has been stuck for longer than send_timeout.
            client.sending_since = self.clock()
            try:
                await client.conn.send_text(frame)
            except Exception:
                client.closed = True
                return
            client.sending_since = None
            client.lag = 0
            next_allowed = self.clock() + self.min_gap

    async def _reader(self, client: Client) -> None:
        window_start, count = self.clock(), 0
        while not client.closed:
            try:
                text = await client.conn.receive_text()
            except KeyError:  # Starlette's receive_text finds no "text" in a binary frame
                self._kick(client, CLOSE_UNSUPPORTED, "binary frames are not accepted")
                return
            except Exception:  # the client left (WebSocketDisconnect) or the socket broke
                client.closed = True
                return
            if len(text.encode("utf-8", "replace")) > MAX_INBOUND_BYTES:
                self._kick(client, CLOSE_TOO_BIG, "message too big")
                return
            now = self.clock()
            if now - window_start >= 1.0:
                window_start, count = now, 0
            count += 1
            if count > MAX_INBOUND_PER_S:
                self._kick(client, CLOSE_TOO_SLOW, "too many messages")
                return


async def run_housekeeping(
    hub: Hub, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
) -> None:
    """Close clients stuck in a send, and send a heartbeat whenever nothing else went out."""
    period = min(hub.heartbeat_interval / 2, max(hub.send_timeout / 4, 0.01))
    while True:
        await sleep(period)
        hub.check_stuck()
        if hub.heartbeat_due():
            hub.send_heartbeat()
