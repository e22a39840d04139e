"""uvicorn's h11 HTTP protocol with a deadline and a size bound on each request head.

uvicorn closes a keep-alive connection that stays silent after a response, but
nothing bounds how long a client may take to *send* a request head: a socket
that connects and never writes, or that trickles a byte now and then
(slowloris), held its file descriptor for ever, and a few hundred of them
exhausted the process's descriptors so /api/health and /ws/gpu stopped
answering. uvicorn's default parser (httptools) also buffers a head of any size.

:class:`HeadDeadlineProtocol` keeps uvicorn's h11 implementation and adds one
timer per connection. It starts when the connection opens and again when a
response is complete (the client then owes the next head); data that arrives
meanwhile does *not* move it; a complete request head stops it. When it fires,
the connection is closed without a response.

A head over :data:`MAX_HEAD_BYTES` gets ``431 Request Header Fields Too Large``
and the connection is closed. h11 refuses an *incomplete* head once its buffer
passes the bound (``max_incomplete_event_size``); a larger head that arrives in
one read (up to the event loop's read size) is parsed whole, so its size is
checked as well. After a WebSocket upgrade the websockets library owns the
socket and the timer is gone.

Use it with ``uvicorn.run(app, http=HeadDeadlineProtocol)``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

HEAD_TIMEOUT_S = 10.0
"""Seconds a connection may take to send a complete request head."""

MAX_HEAD_BYTES = 64 * 1024
"""Largest request head (request line and headers) accepted, in bytes."""

log = logging.getLogger("gpulens")


def head_size(request: h11.Request) -> int:
    """Bytes of ``request``'s head as sent, less any whitespace h11 stripped."""
    line = len(request.method) + len(request.target) + len(b"  HTTP/1.1\r\n")
    return line + sum(len(k) + len(v) + 4 for k, v in request.headers.raw_items()) + 2


class BoundedHeadConnection(h11.Connection):
    """An h11 server connection that remembers the status h11 hinted for a protocol error
    and refuses a complete head over :data:`MAX_HEAD_BYTES` too."""

    def __init__(self) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        self.error_status = 400

    def next_event(self) -> h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]:
        try:
            event = super().next_event()
        except h11.RemoteProtocolError as exc:
            self.error_status = exc.error_status_hint
            raise
        if isinstance(event, h11.Request) and head_size(event) > MAX_HEAD_BYTES:
            self.error_status = 431
            raise h11.RemoteProtocolError("request head too large", error_status_hint=431)
        return event


class HeadDeadlineProtocol(H11Protocol):
    """H11Protocol that closes connections whose request head does not arrive in time."""

    conn: BoundedHeadConnection
    _head_deadline: asyncio.TimerHandle | None = None

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.conn = BoundedHeadConnection()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_deadline()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        # h11 moves the server from IDLE to SEND_RESPONSE on a complete Request
        # event; partial data leaves it IDLE (and the deadline where it was).
        if self.conn.our_state is h11.SEND_RESPONSE:
            self._stop_head_deadline()

    def on_response_complete(self) -> None:
        # Before uvicorn's own handler: it may dispatch a pipelined request
        # already buffered, whose head then stops this deadline again.
        if not self.transport.is_closing():
            self._start_head_deadline()
        super().on_response_complete()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._stop_head_deadline()  # the WebSocket protocol owns the transport from here
        super().handle_websocket_upgrade(event)

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to any h11 protocol error; 431 when the head was too large."""
        if self.conn.error_status != 431:
            super().send_400_response(msg)
            return
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]
        events: list[h11.Event] = [
            h11.Response(
                status_code=431, headers=headers, reason=b"Request Header Fields Too Large"
            ),
            h11.Data(data=f"request head over {MAX_HEAD_BYTES} bytes\n".encode()),
            h11.EndOfMessage(),
        ]
        self.transport.write(b"".join(self.conn.send(event) or b"" for event in events))
        self.transport.close()

    def head_deadline_expired(self) -> None:
        """Timer callback: the request head did not arrive in time."""
        self._head_deadline = None
        if not self.transport.is_closing():
            log.debug("closing %s: no request head within %s s", self.client, HEAD_TIMEOUT_S)
            self.transport.close()

    def _start_head_deadline(self) -> None:
        self._stop_head_deadline()
        self._head_deadline = self.loop.call_later(HEAD_TIMEOUT_S, self.head_deadline_expired)

    def _stop_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None
