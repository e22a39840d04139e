"""Who may look: the access token, the session cookie and a trusted proxy's user header.

Access is *required* when ACCESS_TOKEN(_FILE) or TRUSTED_PROXIES is set, and open
otherwise (nothing is checked then: the middleware passes every request through).
One function, ``AccessGate.check``, decides for HTTP requests (``AccessMiddleware``)
and for the WebSocket handshake (``routes.gpu_stream``), in this order:

1. a request from a TRUSTED_PROXIES address naming the user in PROXY_USER_HEADER;
2. ``Authorization: Bearer <token>`` (scripts, Prometheus, websocat);
3. the ``gpulens_session`` cookie that ``POST /api/session`` hands the page.

The cookie is stateless (nothing to store, nothing lost on restart): ``v1.<issued>.<mac>``,
an HMAC keyed by a hash of the token, so a new token ends every session. Failed attempts
are counted per client address; ten in a minute and that address is refused (429) for
every attempt that carries credentials until the minute is over, while a valid cookie or
proxy user, and every other address, go on working. The token, the cookie and the
Authorization header are never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import math
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from gpulens.config import Settings, token_shape_ok
from gpulens.logs import query_has_secret

log = logging.getLogger("gpulens.access")

COOKIE = "gpulens_session"
COOKIE_VERSION = "v1"
SESSION_TTL_S = 7 * 86_400
CLOCK_SKEW_S = 300  # a cookie "issued" this far in the future is still accepted
MAX_FAILURES = 10
WINDOW_S = 60.0
MAX_ADDRESSES = 10_000
USER_MAX = 128

# Scope keys: the TCP peer before X-Forwarded-For is applied, and the health answer's size.
PEER_KEY = "gpulens.peer"
MINIMAL_HEALTH_KEY = "gpulens.minimal_health"

REQUIRED_DETAIL = (
    "access token required: send 'Authorization: Bearer <token>' or sign in on the page"
)
URL_DETAIL = (
    "the access token does not belong in a URL (URLs end up in logs and history): send it "
    "as 'Authorization: Bearer <token>' or sign in on the page"
)
WRONG_DETAIL = "wrong access token"
WWW_AUTHENTICATE = 'Bearer realm="gpulens"'
WS_REQUIRED = (4401, "access token required")
WS_LIMITED = (4429, "too many wrong attempts")

Method = Literal["open", "token", "session", "proxy"]


def limited_detail(seconds: int) -> str:
    return f"too many wrong attempts: try again in {seconds} s"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of one check. ``method`` None: not authenticated, and then either no
    credentials came (``refused`` False), wrong ones came (``refused``), or the address
    is rate-limited (``retry_after`` seconds)."""

    method: Method | None
    user: str | None = None
    refused: bool = False
    retry_after: int | None = None
    clear_cookie: bool = False  # an invalid cookie came: tell the browser to drop it

    @property
    def ok(self) -> bool:
        return self.method is not None


OPEN = Verdict("open")


# --- addresses -------------------------------------------------------------------------


def parse_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address from a peer or X-Forwarded-For hop ("[::1]:5000", "fe80::1%eth0",
    "::ffff:10.0.0.1" → 10.0.0.1); None when it is none."""
    text = host.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else text[1:]
    elif text.count(":") == 1:  # v4 with a port
        text = text.split(":", 1)[0]
    text = text.split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class Networks:
    """A list of IP networks (TRUSTED_PROXIES, METRICS_ALLOW_FROM) to test addresses against."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.networks = [ipaddress.ip_network(e, strict=False) for e in entries]

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __contains__(self, host: object) -> bool:
        if not self.networks or not isinstance(host, str):
            return False
        address = parse_ip(host)
        return address is not None and any(address in net for net in self.networks)


def limiter_key(host: str) -> str:
    """What failures are counted against: the address, or an IPv6 address's /64 (one
    machine commonly holds a whole /64, so counting single v6 addresses would not limit)."""
    address = parse_ip(host)
    if address is None:
        return host[:64]
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


# --- the rate limiter ------------------------------------------------------------------


class RateLimiter:
    """Failed attempts per address in a fixed window: ``max_failures`` within ``window_s``
    and the address waits until the window ends. Holds at most ``max_addresses`` entries
    (the one that failed longest ago goes first); only failures create entries."""

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        window_s: float = WINDOW_S,
        max_addresses: int = MAX_ADDRESSES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_addresses = max_addresses
        self.clock = clock
        self._entries: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def retry_after(self, key: str) -> int | None:
        """Seconds until ``key`` may try again, or None when it may now."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        start, count = entry
        left = start + self.window_s - self.clock()
        if left <= 0:
            del self._entries[key]
            return None
        return max(1, math.ceil(left)) if count >= self.max_failures else None

    def fail(self, key: str) -> bool:
        """Count a failure; True when it is the first of its window (worth one log line)."""
        now = self.clock()
        entry = self._entries.pop(key, None)
        if entry is None or now - entry[0] >= self.window_s:
            self._entries[key] = (now, 1)
            first = True
        else:
            self._entries[key] = (entry[0], entry[1] + 1)
            first = False
        # Expired entries at the front go first, then the oldest while over the bound.
        while self._entries:
            oldest_key, (oldest_start, _) = next(iter(self._entries.items()))
            if now - oldest_start < self.window_s and len(self._entries) <= self.max_addresses:
                break
            del self._entries[oldest_key]
        return first


# --- the session cookie ----------------------------------------------------------------


def session_key(token: str) -> bytes:
    return hashlib.sha256(b"gpulens-session\0" + token.encode("ascii")).digest()


def _mac(key: bytes, payload: str) -> str:
    digest = hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def cookie_value(key: bytes, issued: int) -> str:
    payload = f"{COOKIE_VERSION}.{issued}"
    return f"{payload}.{_mac(key, payload)}"


def cookie_ok(key: bytes, value: str, now: float) -> bool:
    """Signed with ``key`` and issued within the last 7 days."""
    parts = value.split(".")
    stamp = parts[1] if len(parts) == 3 else ""
    if parts[0] != COOKIE_VERSION or not (stamp.isascii() and stamp.isdigit()) or len(stamp) > 12:
        return False
    issued = int(parts[1])
    expected = _mac(key, f"{parts[0]}.{parts[1]}")
    if not hmac.compare_digest(expected.encode("ascii"), parts[2].encode("latin-1", "replace")):
        return False
    return now - SESSION_TTL_S <= issued <= now + CLOCK_SKEW_S


def cookie_header(value: str, secure: bool, clear: bool = False) -> str:
    """A Set-Cookie value: HttpOnly, SameSite=Strict, for the browser session (no Max-Age),
    or one that removes the cookie (``clear``)."""
    header = f"{COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/"
    if clear:
        header += "; Max-Age=0"
    if secure:
        header += "; Secure"
    return header


def _bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header; None for none or another scheme
    (nginx may pass on the browser's Basic credentials: they are not a wrong token)."""
    if authorization is None:
        return None
    scheme, _, rest = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return rest.strip()


def clean_user(value: str) -> str:
    """A proxy's user name as shown: decoded as UTF-8, control and format characters
    dropped, at most 128 characters."""
    text = value.encode("latin-1", "replace").decode("utf-8", "replace")
    kept = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf"))
    return kept.strip()[:USER_MAX]


# --- the gate --------------------------------------------------------------------------


class AccessGate:
    """The access settings, read once at start-up, and the check every request goes through."""

    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.required = settings.access_required
        token = settings.access_secret()
        self._digest = hashlib.sha256(token.encode("ascii")).digest() if token else None
        self._session_key = session_key(token) if token else None
        self.proxies = Networks(settings.trusted_proxies)
        self.metrics_from = Networks(settings.metrics_allow_from)
        self.user_header = settings.proxy_user_header.lower()
        self.limiter = RateLimiter(clock=clock)
        self.wall = wall

    # Addresses.

    @staticmethod
    def peer(scope: Scope) -> str:
        """The TCP peer, before X-Forwarded-For was applied."""
        client = scope.get(PEER_KEY) or scope.get("client")
        return str(client[0]) if client else ""

    def client_address(self, scope: Scope) -> str:
        """Who is asking: behind a TRUSTED_PROXIES proxy, the right-most X-Forwarded-For hop
        that is not a trusted proxy (left of it, any client can write anything); else the
        client as FORWARDED_ALLOW_IPS made it (uvicorn's rule), else the peer."""
        peer = self.peer(scope)
        if peer in self.proxies:
            forwarded = Headers(scope=scope).getlist("x-forwarded-for")
            hops = [h.strip() for h in ",".join(forwarded).split(",") if h.strip()]
            for hop in reversed(hops):
                if hop not in self.proxies:
                    return hop
            return hops[0] if hops else peer
        client = scope.get("client")
        return str(client[0]) if client else peer

    def metrics_allowed(self, scope: Scope) -> bool:
        return bool(self.metrics_from) and self.client_address(scope) in self.metrics_from

    def secure(self, scope: Scope) -> bool:
        """The request came over TLS (directly, or to a trusted proxy that says so)."""
        if scope.get("scheme") in ("https", "wss"):
            return True
        proto = Headers(scope=scope).get("x-forwarded-proto", "")
        return proto.strip().lower() == "https" and self.peer(scope) in self.proxies

    # Credentials.

    def token_ok(self, given: str) -> bool:
        """Constant time and length-independent: SHA-256 digests compared."""
        if self._digest is None or not token_shape_ok(given):
            return False
        candidate = hashlib.sha256(given.encode("ascii")).digest()
        return hmac.compare_digest(candidate, self._digest)

    def new_cookie(self) -> str | None:
        if self._session_key is None:
            return None
        return cookie_value(self._session_key, int(self.wall()))

    def _cookie_ok(self, value: str) -> bool:
        return self._session_key is not None and cookie_ok(self._session_key, value, self.wall())

    def failed(self, address: str, why: str) -> None:
        """Count a failure; one log line per address per window (never the token)."""
        if self.limiter.fail(limiter_key(address)):
            log.warning("access refused for %s: %s", address, why)

    def retry_after(self, address: str) -> int | None:
        return self.limiter.retry_after(limiter_key(address))

    def check(self, scope: Scope) -> Verdict:
        """Who is asking (see the module's docstring for the order)."""
        if not self.required:
            return OPEN
        headers = Headers(scope=scope)
        named = headers.get(self.user_header)
        if named is not None:
            peer = self.peer(scope)
            if peer in self.proxies:
                user = clean_user(named)
                if user:
                    return Verdict("proxy", user=user)
            else:
                log.debug("ignored %s from %s: not in TRUSTED_PROXIES", self.user_header, peer)
        address = self.client_address(scope)
        cookie = cookie_parser(headers.get("cookie", "")).get(COOKIE) or None
        cookie_valid = cookie is not None and self._cookie_ok(cookie)
        bearer = _bearer(headers.get("authorization"))
        if bearer is not None:
            wait = self.retry_after(address)
            if wait is None:
                if self.token_ok(bearer):
                    return Verdict("token")
                self.failed(address, "wrong token")
            if not cookie_valid:
                return Verdict(
                    None, refused=True, retry_after=wait, clear_cookie=cookie is not None
                )
        if cookie_valid:
            return Verdict("session")
        if cookie is not None:
            wait = self.retry_after(address)
            if wait is None:
                self.failed(address, "invalid or expired session cookie")
            return Verdict(None, refused=True, retry_after=wait, clear_cookie=True)
        return Verdict(None)


# --- HTTP ------------------------------------------------------------------------------


def protected(path: str) -> bool:
    """The API and /metrics; the page's shell and static files are public."""
    return path in ("/api", "/metrics") or path.startswith(("/api/", "/metrics/"))


def refusal(verdict: Verdict, secure: bool) -> JSONResponse:
    """401 or 429 for a request without valid credentials."""
    if verdict.retry_after is not None:
        response = JSONResponse(
            {"detail": limited_detail(verdict.retry_after)},
            status_code=429,
            headers={"retry-after": str(verdict.retry_after)},
        )
    else:
        response = JSONResponse(
            {"detail": REQUIRED_DETAIL},
            status_code=401,
            headers={"www-authenticate": WWW_AUTHENTICATE},
        )
    if verdict.clear_cookie:
        response.headers.append("set-cookie", cookie_header("", secure, clear=True))
    return response


class AccessMiddleware:
    """Refuses a token in the URL (always), and requests without credentials to the API
    and /metrics (when access is required). The WebSocket's credentials are checked by its
    route, after the Origin check, so that a foreign page still gets a plain 403."""

    def __init__(self, app: ASGIApp, gate: AccessGate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if query_has_secret(scope.get("query_string", b"")):
            await self._token_in_url(scope, receive, send)
            return
        path: str = scope["path"]
        if (
            scope["type"] != "http"
            or not self.gate.required
            or not protected(path)
            or path == "/api/session"
        ):
            await self.app(scope, receive, send)
            return
        if path in ("/metrics", "/api/health") and self.gate.metrics_allowed(scope):
            await self.app(scope, receive, send)
            return
        verdict = self.gate.check(scope)
        if verdict.ok:
            await self.app(scope, receive, send)
            return
        minimal = (
            path == "/api/health" and scope["method"] in ("GET", "HEAD") and not verdict.refused
        )
        if minimal:  # no credentials: probes get the status, nothing else
            scope[MINIMAL_HEALTH_KEY] = True
            await self.app(scope, receive, send)
            return
        await refusal(verdict, self.gate.secure(scope))(scope, receive, send)

    @staticmethod
    async def _token_in_url(scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse({"detail": URL_DETAIL}, status_code=400)
        if scope["type"] == "http" or "websocket.http.response" in scope.get("extensions", {}):
            await response(scope, receive, send)  # a WebSocket gets it as its denial response
        else:
            await send({"type": "websocket.close", "code": 1008, "reason": "token in URL"})


class PeerMiddleware:
    """Keeps the TCP peer (``PEER_KEY``) before applying X-Forwarded-For/-Proto from
    FORWARDED_ALLOW_IPS as uvicorn does: TRUSTED_PROXIES is about the peer itself, which
    uvicorn would otherwise have replaced by the forwarded client already."""

    def __init__(self, app: ASGIApp, forwarded_allow_ips: str) -> None:
        self.app = app
        self.forwarded = ProxyHeadersMiddleware(app, trusted_hosts=forwarded_allow_ips)  # type: ignore[arg-type]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and PEER_KEY not in scope:
            scope[PEER_KEY] = scope.get("client")
        await self.forwarded(scope, receive, send)  # type: ignore[arg-type]
