"""Host and Origin checks (DNS rebinding, cross-site WebSocket hijacking) and security headers."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import psutil
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gpulens.config import Settings

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self' ws: wss:; "
    "frame-ancestors 'none'; object-src 'none'; base-uri 'self'; form-action 'self'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)


def _strip_port(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:5000
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def default_hosts(settings: Settings) -> set[str]:
    """Names this server may be reached by without further configuration."""
    hosts = {"localhost", "127.0.0.1", "::1"}
    if settings.host not in ("0.0.0.0", "::", ""):
        hosts.add(_strip_port(settings.host))
    name = socket.gethostname().lower()
    hosts.update({name, socket.getfqdn().lower()})
    if settings.host in ("0.0.0.0", "::"):
        # Bound to every interface on purpose: accept this machine's own addresses.
        for addrs in psutil.net_if_addrs().values():
            hosts.update(
                a.address.split("%", 1)[0].lower()
                for a in addrs
                if a.family in (socket.AF_INET, socket.AF_INET6)
            )
    return hosts


class HostPolicy:
    """Which Host headers and which browser Origins are accepted."""

    def __init__(self, settings: Settings, extra_hosts: Iterable[str] = ()) -> None:
        self.any_host = "*" in settings.allowed_hosts
        self.hosts = default_hosts(settings) | {
            _strip_port(h) for h in [*settings.allowed_hosts, *extra_hosts] if h != "*"
        }
        origins = set(settings.allowed_origins)
        if settings.dev_mode:
            origins.add(settings.dev_origin.rstrip("/"))
        self.any_origin = "*" in origins
        self.origins = {o.lower() for o in origins if o != "*"}

    def host_ok(self, host: str | None) -> bool:
        if self.any_host:
            return True
        return host is not None and _strip_port(host) in self.hosts

    def origin_ok(self, origin: str | None, host: str | None) -> bool:
        """No Origin (a non-browser client) is fine; same origin or allow-listed only, else no."""
        if origin is None:
            return True
        origin = origin.strip().lower().rstrip("/")
        if origin == "null" or not origin:
            return False
        if self.any_origin or origin in self.origins:
            return True
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False
        # Same origin: the page's host[:port] is the Host this request came to
        # (TLS may end at a proxy, so the scheme is not compared).
        return host is not None and parts.netloc == host.strip().lower()


class GuardMiddleware:
    """Refuses foreign Host headers (403) and adds security headers to every HTTP response."""

    def __init__(self, app: ASGIApp, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host")
        if not self.policy.host_ok(host):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": "host not allowed"})
                return
            response = PlainTextResponse("Host not allowed", status_code=403)
            await response(scope, receive, self._with_headers(send))
            return
        if scope["type"] == "http":
            await self.app(scope, receive, self._with_headers(send))
        else:
            await self.app(scope, receive, send)

    @staticmethod
    def _with_headers(send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        return wrapped
