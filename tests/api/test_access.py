"""Access control (issue 17): the token, the session cookie, a trusted proxy's user header,
the rate limit, /metrics and /api/health for scrapers, and a token never logged or put in a
URL. In-process through Starlette's TestClient (with the peer address each test needs), and
once against a real ``gpulens serve``."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from gpulens import logs
from gpulens.api import server
from gpulens.api.access import (
    COOKIE,
    MAX_ADDRESSES,
    REQUIRED_DETAIL,
    URL_DETAIL,
    AccessGate,
    RateLimiter,
    cookie_ok,
    cookie_value,
    session_key,
)
from gpulens.api.app import create_app
from gpulens.config import Settings
from tests.fakes import HOST, FakeClock, FakeSystem, selection, steady
from tests.integration.server import gpulens_serve

TOKEN = "Correct-Horse-Battery-Staple-0042"
WRONG = "Wrong-Horse-Battery-Staple-00042"
BEARER = {"authorization": f"Bearer {TOKEN}"}
PROXY = "10.0.0.1"
ELSEWHERE = "203.0.113.9"

# Every token-looking value the module ever sends: none may reach a log record.
SECRETS = (TOKEN, WRONG)


@pytest.fixture(autouse=True)
def no_secret_in_logs(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Across the whole module: no log record holds the token, a wrong one or a cookie."""
    # logs.configure() (run by other tests) stops "gpulens" from reaching caplog's handler.
    monkeypatch.setattr(logging.getLogger("gpulens"), "propagate", True)
    caplog.set_level(logging.DEBUG)
    yield
    for record in caplog.records:
        text = f"{record.getMessage()} {record.args!r} {record.__dict__!r}"
        for secret in SECRETS:
            assert secret not in text, record.getMessage()


@dataclass
class Served:
    app: FastAPI
    main: TestClient

    def at(self, host: str, **kw: Any) -> TestClient:
        """A client whose requests come from ``host`` (the app's lifespan already runs)."""
        return TestClient(self.app, client=(host, 50000), **kw)

    @property
    def gate(self) -> AccessGate:
        gate: AccessGate = self.app.state.access
        return gate


@contextmanager
def served(**kw: Any) -> Iterator[Served]:
    base: dict[str, Any] = {"allowed_hosts": [HOST], "ws_backlog": 10, "poll_interval_ms": 250}
    base.update(kw)
    app = create_app(Settings(**base), selection=selection(steady(2)), system=FakeSystem())
    with TestClient(app) as main:
        yield Served(app, main)


@pytest.fixture
def locked() -> Iterator[Served]:
    """Access required by ACCESS_TOKEN; the limiter on a clock the test moves."""
    with served(access_token=TOKEN) as s:
        s.gate.limiter.clock = FakeClock()
        yield s


def sign_in(client: TestClient, token: str = TOKEN) -> httpx.Response:
    response: httpx.Response = client.post("/api/session", json={"token": token})
    return response


def refused_401(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.json() == {"detail": REQUIRED_DETAIL}
    assert response.headers["www-authenticate"] == 'Bearer realm="gpulens"'
    assert TOKEN not in response.text


def with_cookie(client: TestClient, value: str) -> TestClient:
    """``client`` sending ``value`` as the session cookie (and nothing else it kept)."""
    client.cookies.clear()
    client.cookies.set(COOKIE, value)
    return client


def ws_close_code(client: TestClient, **kw: Any) -> tuple[int, str]:
    with pytest.raises(WebSocketDisconnect) as info:
        with client.websocket_connect("/ws/gpu", **kw) as ws:
            ws.receive_json()
    return info.value.code, info.value.reason


def ws_hello(client: TestClient, **kw: Any) -> dict[str, Any]:
    with client.websocket_connect("/ws/gpu", **kw) as ws:
        message: dict[str, Any] = ws.receive_json()
    return message


# --- open (no token, no proxy): as before ------------------------------------------------


def test_open_mode_is_unchanged() -> None:
    with served() as s:
        c = s.main
        assert c.get("/api/config").status_code == 200
        assert "provider" in c.get("/api/health").json()
        assert c.get("/metrics").status_code == 200
        assert ws_hello(c)["type"] == "hello"
        assert c.get("/api/session").json() == {
            "required": False,
            "authenticated": True,
            "method": "open",
            "user": None,
        }
        answer = sign_in(c, "anything")
        assert answer.status_code == 204 and "set-cookie" not in answer.headers
        # A wrong bearer means nothing when nothing is required.
        assert c.get("/api/config", headers={"authorization": f"Bearer {WRONG}"}).status_code == 200


# --- wrong tokens ----------------------------------------------------------------------

BAD_TOKENS = {
    "wrong": WRONG.encode(),
    "empty": b"",
    "overlong": b"x" * 513,
    "a prefix of the right one": TOKEN[:-1].encode(),
    "the right one plus more": (TOKEN + "x").encode(),
    "non-ASCII": "Correct-Horse-Battery-Stäple-0042".encode(),
}


@pytest.mark.parametrize("token", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_a_wrong_bearer_is_401_and_leaks_nothing(locked: Served, token: bytes) -> None:
    for path in ("/api/config", "/api/history", "/api/events", "/metrics", "/api/openapi.json"):
        response = locked.main.get(path, headers={"authorization": b"Bearer " + token})
        refused_401(response)
        assert "provider" not in response.text
    code, reason = ws_close_code(locked.main, headers={"authorization": b"Bearer " + token})
    assert (code, reason) == (4401, "access token required")


@pytest.mark.parametrize("token", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
def test_a_wrong_sign_in_is_401_without_a_cookie(locked: Served, token: bytes) -> None:
    body = b'{"token": "' + token + b'"}'
    response = locked.main.post(
        "/api/session", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 401
    assert response.json() == {"detail": "wrong access token"}
    assert "set-cookie" not in response.headers
    assert locked.main.get("/api/config").status_code == 401


@pytest.mark.parametrize(
    "body",
    [b'{"token": "' + b"x" * 2000 + b'"}', b'{"token": 12345678901234567890}', b'{"token": null}'],
    ids=["a body over 1 KiB", "a number", "null"],
)
def test_odd_sign_in_bodies_are_wrong_tokens(locked: Served, body: bytes) -> None:
    response = locked.main.post("/api/session", content=body)
    assert response.status_code == 401 and "set-cookie" not in response.headers


def test_a_sign_in_without_json_is_a_400(locked: Served) -> None:
    for body in (b"token=x", b"[]", b"{}", b"[" * 1000, b"\xff\xfe{"):
        assert locked.main.post("/api/session", content=body).status_code == 400


def test_a_sign_in_from_a_foreign_page_is_403(locked: Served) -> None:
    response = locked.main.post(
        "/api/session", json={"token": TOKEN}, headers={"origin": "https://evil.example"}
    )
    assert response.status_code == 403 and "set-cookie" not in response.headers


def test_other_authorization_schemes_are_no_attempt(locked: Served) -> None:
    # nginx with basic auth may pass the browser's Basic header on: not a wrong token.
    for _ in range(30):
        refused_401(locked.main.get("/api/config", headers={"authorization": "Basic dTpw"}))
    assert locked.main.get("/api/config", headers=BEARER).status_code == 200


# --- the right token -------------------------------------------------------------------


def test_the_right_bearer_opens_every_route(locked: Served) -> None:
    c = locked.main
    for path in ("/api/config", "/api/history", "/api/events", "/api/usage", "/metrics"):
        assert c.get(path, headers=BEARER).status_code == 200, path
    assert "provider" in c.get("/api/health", headers=BEARER).json()
    assert c.get("/api/session", headers=BEARER).json() == {
        "required": True,
        "authenticated": True,
        "method": "token",
        "user": None,
    }
    assert c.get("/api/config", headers={"authorization": f"bearer   {TOKEN}"}).status_code == 200


def test_the_page_shell_is_public(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>gpulens</title>")
    (tmp_path / "assets" / "app.js").write_text("console.log(1)")
    with served(access_token=TOKEN, static_dir=tmp_path) as s:
        for path in ("/", "/assets/app.js", "/some/client/route"):
            assert s.main.get(path).status_code == 200, path
        assert s.main.get("/api/session").json() == {
            "required": True,
            "authenticated": False,
            "method": None,
            "user": None,
        }


# --- a token in the URL ----------------------------------------------------------------

URL_NAMES = ["token", "access_token", "accessToken", "AUTH", "api_key", "Api_Key"]


@pytest.mark.parametrize("name", URL_NAMES)
@pytest.mark.parametrize("required", [False, True], ids=["open", "required"])
def test_a_token_in_the_query_string_is_400(name: str, required: bool) -> None:
    kw = {"access_token": TOKEN} if required else {}
    with served(**kw) as s:
        for path in (f"/api/config?{name}={TOKEN}", f"/metrics?x=1&{name}={TOKEN}", f"/?{name}"):
            response = s.main.get(path, headers=BEARER)
            assert response.status_code == 400, path
            assert response.json() == {"detail": URL_DETAIL}
            assert TOKEN not in response.text
        with pytest.raises(WebSocketDenialResponse) as info:
            with s.main.websocket_connect(f"/ws/gpu?{name}={TOKEN}"):
                pass
        assert info.value.status_code == 400
        assert s.main.get("/api/config?tokens=1&page=2", headers=BEARER).status_code == 200


def uvicorn_access_record(path: str) -> logging.LogRecord:
    """A record as uvicorn's h11 protocol logs each request."""
    return logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1,
        '%s - "%s %s HTTP/%s" %d', ("127.0.0.1:5555", "GET", path, "1.1", 400), None,
    )  # fmt: skip


@pytest.mark.parametrize("name", URL_NAMES)
def test_the_access_log_never_prints_a_query_token(name: str) -> None:
    record = uvicorn_access_record(f"/api/config?page=1&{name}={TOKEN}&x=2")
    assert logs.RedactSecrets().filter(record)
    line = record.getMessage()
    assert TOKEN not in line
    assert f"/api/config?page=1&{name}=[redacted]&x=2" in line
    ws = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5555", f"/ws/gpu?{name}={TOKEN}"), None,
    )  # fmt: skip
    logs.RedactSecrets().filter(ws)
    assert TOKEN not in ws.getMessage()


@pytest.mark.parametrize("name", ["Authorization", "cookie", "Set-Cookie"])
def test_handshake_headers_with_credentials_are_masked(name: str) -> None:
    record = logging.LogRecord(
        "uvicorn.error", logging.DEBUG, __file__, 1, "< %s: %s", (name, f"Bearer {TOKEN}"), None
    )
    logs.RedactSecrets().filter(record)
    assert record.getMessage() == f"< {name}: [redacted]"


def test_every_log_line_goes_through_the_redaction() -> None:
    config = logs.log_config()
    assert "redact" in config["handlers"]["default"]["filters"]
    assert logs.redact_query("/x?a=1&b=2") == "/x?a=1&b=2"
    assert logs.redact_query("no query") == "no query"


# --- the session cookie ----------------------------------------------------------------


def test_the_cookie_from_sign_in_works_on_http_and_the_websocket(locked: Served) -> None:
    c = locked.main
    answer = sign_in(c)
    assert answer.status_code == 204
    header = answer.headers["set-cookie"]
    assert header.startswith(f"{COOKIE}=v1.")
    assert header.endswith("; HttpOnly; SameSite=Strict; Path=/")  # no Max-Age, no Secure
    assert TOKEN not in header
    assert c.get("/api/config").status_code == 200
    assert "provider" in c.get("/api/health").json()
    assert c.get("/api/session").json()["method"] == "session"
    assert ws_hello(c)["type"] == "hello"
    signed_out = c.delete("/api/session")
    assert signed_out.status_code == 204
    assert "Max-Age=0" in signed_out.headers["set-cookie"]
    refused_401(c.get("/api/config"))
    assert ws_close_code(c) == (4401, "access token required")


def test_the_cookie_is_secure_over_https_only(locked: Served) -> None:
    https = locked.at("127.0.0.1", base_url="https://testserver")
    assert sign_in(https).headers["set-cookie"].endswith("; Secure")
    # X-Forwarded-Proto counts from a trusted proxy only.
    forged = sign_in_with(locked.main, {"x-forwarded-proto": "https"})
    assert "Secure" not in forged.headers["set-cookie"]
    with served(access_token=TOKEN, trusted_proxies=[PROXY]) as s:
        proxied = sign_in_with(s.at(PROXY), {"x-forwarded-proto": "https"})
        assert proxied.headers["set-cookie"].endswith("; Secure")


def sign_in_with(client: TestClient, headers: dict[str, str]) -> httpx.Response:
    response: httpx.Response = client.post("/api/session", json={"token": TOKEN}, headers=headers)
    return response


def test_forged_and_stale_cookies_are_refused_and_cleared(locked: Served) -> None:
    key = session_key(TOKEN)
    now = locked.gate.wall()
    other_key = session_key("Another-Token-That-Was-Before-1")
    bad = {
        "forged": "v1.1700000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "garbage": "hello",
        "expired": cookie_value(key, int(now) - 8 * 86_400),
        "from the future": cookie_value(key, int(now) + 86_400),
        "signed with an older token": cookie_value(other_key, int(now)),
        "another version": "v2" + cookie_value(key, int(now))[2:],
        "odd digits": "v1.\u00b2\u00b3.AAAA",
        "too many parts": cookie_value(key, int(now)) + ".x",
    }
    locked.main.cookies.clear()
    for why, value in bad.items():
        sent = f"{COOKIE}={value}".encode("latin-1")  # as a browser may send any byte
        response = locked.main.get("/api/config", headers={"cookie": sent})
        refused_401(response)
        assert "Max-Age=0" in response.headers["set-cookie"], why
    assert cookie_ok(key, cookie_value(key, int(now) - 6 * 86_400), now)


# --- HTTP and the WebSocket each need their own credentials ---------------------------


def test_credentials_on_http_but_not_on_the_websocket(locked: Served) -> None:
    assert locked.main.get("/api/config", headers=BEARER).status_code == 200
    assert ws_close_code(locked.main) == (4401, "access token required")


def test_credentials_on_the_websocket_but_not_on_http(locked: Served) -> None:
    assert ws_hello(locked.main, headers=dict(BEARER))["type"] == "hello"
    refused_401(locked.main.get("/api/config"))


def test_a_foreign_origin_still_gets_the_plain_refusal(locked: Served) -> None:
    with pytest.raises(WebSocketDisconnect) as info:
        with locked.main.websocket_connect("/ws/gpu", headers={"origin": "https://evil.example"}):
            pass
    assert info.value.code == 1008  # before accept: HTTP 403, as without access control


# --- a signing-in proxy -----------------------------------------------------------------


def test_a_forged_user_header_from_an_untrusted_address_is_ignored() -> None:
    with served(trusted_proxies=[PROXY]) as s:
        forged = {"x-forwarded-user": "alice"}
        for client in (s.main, s.at(ELSEWHERE), s.at("10.0.0.2")):
            refused_401(client.get("/api/config", headers=forged))
            assert client.get("/api/session", headers=forged).json()["authenticated"] is False
            assert ws_close_code(client, headers=forged) == (4401, "access token required")
        # And without a token there is nothing a sign-in could match.
        assert sign_in(s.at(ELSEWHERE)).status_code == 401


def test_the_user_header_from_a_trusted_proxy_signs_in() -> None:
    with served(trusted_proxies=["10.0.0.0/29", "fd00::/64"]) as s:
        for peer in (PROXY, "fd00::5", "::ffff:10.0.0.3"):
            proxy = s.at(peer)
            named = {"x-forwarded-user": "alice"}
            assert proxy.get("/api/config", headers=named).status_code == 200
            assert proxy.get("/api/session", headers=named).json() == {
                "required": True,
                "authenticated": True,
                "method": "proxy",
                "user": "alice",
            }
            assert ws_hello(proxy, headers=named)["type"] == "hello"
            refused_401(proxy.get("/api/config"))  # the proxy itself is no credential
            refused_401(proxy.get("/api/config", headers={"x-forwarded-user": " \t"}))


def test_the_proxy_user_is_cleaned_and_capped() -> None:
    with served(trusted_proxies=[PROXY], proxy_user_header="X-Auth-Request-User") as s:
        raw = "bob\x1b[31m\u202e" + "y" * 300
        state = s.at(PROXY).get(
            "/api/session", headers={"x-auth-request-user": raw.encode("utf-8")}
        )
        user = state.json()["user"]
        assert user.startswith("bob[31m") and len(user) == 128
        assert "\x1b" not in user and "\u202e" not in user
        assert (
            s.at(PROXY).get("/api/config", headers={"x-forwarded-user": "bob"}).status_code == 401
        )


def test_a_user_name_in_utf8_is_shown_as_sent() -> None:
    with served(trusted_proxies=[PROXY]) as s:
        answer = s.at(PROXY).get("/api/session", headers={"x-forwarded-user": "zoë".encode()})
        assert answer.json()["user"] == "zoë"


# --- the rate limit ----------------------------------------------------------------------


def test_a_thousand_wrong_attempts(locked: Served, caplog: pytest.LogCaptureFixture) -> None:
    attacker = locked.at(ELSEWHERE)
    cookie = sign_in(attacker).headers["set-cookie"].split(";")[0].split("=", 1)[1]
    attacker.cookies.clear()
    wrong = {"authorization": f"Bearer {WRONG}"}
    codes = [attacker.get("/api/config", headers=wrong).status_code for _ in range(1000)]
    assert codes[:10] == [401] * 10
    assert set(codes[10:]) == {429}
    limited = attacker.get("/api/config", headers=wrong)
    assert limited.json() == {"detail": "too many wrong attempts: try again in 60 s"}
    assert limited.headers["retry-after"] == "60"
    # Every credentialed attempt from there waits, the right one too, on every door.
    assert attacker.get("/api/config", headers=BEARER).status_code == 429
    again = sign_in(attacker)
    assert again.status_code == 429 and again.headers["retry-after"] == "60"
    assert again.json() == {"detail": "too many wrong attempts: try again in 60 s"}
    assert ws_close_code(attacker, headers=dict(BEARER)) == (4429, "too many wrong attempts")
    # ...but a valid cookie is never refused by the limiter, nor anyone elsewhere.
    assert with_cookie(attacker, cookie).get("/api/config").status_code == 200
    assert ws_hello(attacker)["type"] == "hello"
    attacker.cookies.clear()
    other = locked.at("198.51.100.20")
    assert other.get("/api/config", headers=BEARER).status_code == 200
    assert sign_in(other).status_code == 204
    # No credentials at all: the usual 401, and probes still get their status.
    refused_401(attacker.get("/api/config"))
    assert attacker.get("/api/health").json() == {"status": "ok"}
    # One log line for the address, not a thousand, and never the token.
    refusals = [r.getMessage() for r in caplog.records if "access refused" in r.getMessage()]
    assert refusals == [f"access refused for {ELSEWHERE}: wrong token"]
    # The window passes: the right token works again, the wrong one counts anew.
    assert isinstance(locked.gate.limiter.clock, FakeClock)
    locked.gate.limiter.clock.advance(61)
    assert attacker.get("/api/config", headers=BEARER).status_code == 200
    refused_401(attacker.get("/api/config", headers=wrong))


def test_wrong_cookies_and_wrong_sign_ins_count_too(locked: Served) -> None:
    attacker = locked.at(ELSEWHERE)
    for i in range(10):
        if i % 2:
            assert sign_in(attacker, WRONG).status_code == 401
        else:
            forged = with_cookie(locked.at(ELSEWHERE), f"v1.1700000000.forged{i}")
            assert forged.get("/api/config").status_code == 401
    assert sign_in(attacker).status_code == 429
    assert with_cookie(attacker, "v1.1.x").get("/api/config").status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_client_is_counted() -> None:
    with served(access_token=TOKEN, trusted_proxies=[PROXY]) as s:
        proxy = s.at(PROXY)

        def attempt(forwarded: str, token: str = WRONG) -> int:
            headers = {"authorization": f"Bearer {token}", "x-forwarded-for": forwarded}
            code: int = proxy.get("/api/config", headers=headers).status_code
            return code

        # The client may write anything left of what the proxy appends: not counted on.
        codes = [attempt(f"192.0.2.{i}, {ELSEWHERE}") for i in range(12)]
        assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]
        assert attempt(f"198.51.100.7, {PROXY}", TOKEN) == 200  # another client, same proxy
        assert attempt(ELSEWHERE, TOKEN) == 429


def test_the_limiter_memory_is_bounded() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    for i in range(3 * MAX_ADDRESSES):
        limiter.fail(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    assert len(limiter) == MAX_ADDRESSES
    clock.advance(61)
    limiter.fail("192.0.2.1")  # expired entries go as new ones come
    assert len(limiter) == 1


def test_many_addresses_over_http_stay_bounded(locked: Served) -> None:
    for i in range(300):
        locked.at(f"10.1.{i // 256}.{i % 256}").get(
            "/api/config", headers={"authorization": f"Bearer {WRONG}"}
        )
    assert len(locked.gate.limiter) == 300
    # A v6 client counts by its /64: hopping addresses inside it does not reset the count.
    codes = [
        locked.at(f"2001:db8::{i:x}")
        .get("/api/config", headers={"authorization": f"Bearer {WRONG}"})
        .status_code
        for i in range(11)
    ]
    assert codes[-1] == 429


# --- /metrics and /api/health for scrapers and probes -----------------------------------


def test_metrics_allow_from_reads_metrics_and_full_health() -> None:
    with served(access_token=TOKEN, metrics_allow_from=["10.9.0.0/16"]) as s:
        scraper = s.at("10.9.1.2")
        assert scraper.get("/metrics").status_code == 200
        full = scraper.get("/api/health")
        assert "provider" in full.json()
        refused_401(scraper.get("/api/config"))  # the rest still needs credentials
        stranger = s.at(ELSEWHERE)
        refused_401(stranger.get("/metrics"))
        minimal = stranger.get("/api/health")
        assert minimal.status_code == full.status_code
        assert minimal.json() == {"status": full.json()["status"]}
        head = stranger.head("/api/health")
        assert head.status_code == full.status_code and head.content == b""
        assert int(head.headers["content-length"]) == len(minimal.content)
        refused_401(stranger.get("/api/health", headers={"authorization": f"Bearer {WRONG}"}))


def test_minimal_health_tells_degraded_too() -> None:
    app = create_app(
        Settings(allowed_hosts=[HOST], access_token=SecretStr(TOKEN)),
        selection=selection(None, {"nvml": "no driver"}),
        system=FakeSystem(),
    )
    with TestClient(app) as c:
        full = c.get("/api/health", headers=BEARER)
        minimal = c.get("/api/health")
        assert full.json()["status"] == "degraded"
        assert minimal.json() == {"status": "degraded"}
        assert minimal.status_code == full.status_code


# --- the start-up warning ----------------------------------------------------------------


@pytest.fixture
def started(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run ``server.run`` (uvicorn replaced); its warnings."""
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: None)
    monkeypatch.setattr(logs, "configure", lambda level="INFO": None)

    def run(settings: Settings) -> list[str]:
        caplog.clear()
        server.run(settings)
        return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]

    return run


def test_a_wide_host_with_open_access_is_warned_about_once(started: Any) -> None:
    messages = [m for m in started(Settings(host="0.0.0.0")) if "access is open" in m]
    assert len(messages) == 1
    for name in ("HOST=0.0.0.0", "ACCESS_TOKEN_FILE", "TRUSTED_PROXIES", "user", "process"):
        assert name in messages[0]


@pytest.mark.parametrize(
    "kw",
    [
        {"host": "0.0.0.0", "access_token": TOKEN},
        {"host": "::", "trusted_proxies": [PROXY]},
        {"host": "127.0.0.1"},
        {"host": "localhost"},
        {"host": "::1"},
    ],
)
def test_no_access_warning_with_a_token_a_proxy_or_loopback(started: Any, kw: Any) -> None:
    assert not [m for m in started(Settings(**kw)) if "access is open" in m]


def test_the_token_is_read_from_its_file(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o440)
    with served(access_token_file=path) as s:
        assert s.main.get("/api/config", headers=BEARER).status_code == 200
        refused_401(s.main.get("/api/config"))


# --- the token never logged ---------------------------------------------------------------


def test_no_log_record_holds_the_token(locked: Served, caplog: pytest.LogCaptureFixture) -> None:
    c = locked.at(ELSEWHERE)
    cookie_header = sign_in(c).headers["set-cookie"]
    cookie = cookie_header.split(";")[0].split("=", 1)[1]
    assert ws_hello(c)["type"] == "hello"
    for _ in range(12):
        c.get("/api/config", headers={"authorization": f"Bearer {WRONG}"})
        sign_in(c, WRONG)
    c.get(f"/api/config?token={TOKEN}")
    ws_close_code(locked.main, headers={"authorization": f"Bearer {WRONG}"})
    assert caplog.records  # something was logged (the refusals)
    for record in caplog.records:
        text = f"{record.getMessage()} {record.__dict__!r}"
        assert TOKEN not in text and WRONG not in text and cookie not in text


# --- a real `gpulens serve` -----------------------------------------------------------------


def test_a_real_server_with_a_token_file(tmp_path: Path) -> None:
    token_file = tmp_path / "access-token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    log = tmp_path / "serve.log"
    env = {
        "TELEMETRY_PROVIDER": "replay",
        "ACCESS_TOKEN_FILE": str(token_file),
        "LOG_LEVEL": "DEBUG",
        "HISTORY": "off",
    }
    with gpulens_serve(log, **env) as (address, _):
        base = f"http://{address}"
        assert httpx.get(f"{base}/api/config").status_code == 401
        assert httpx.get(f"{base}/api/config", headers=BEARER).status_code == 200
        assert httpx.get(f"{base}/metrics", headers=BEARER).status_code == 200
        assert httpx.get(f"{base}/api/health").json().keys() == {"status"}
        assert httpx.get(f"{base}/api/config?token={TOKEN}").status_code == 400
        for _ in range(3):
            httpx.get(f"{base}/api/config", headers={"authorization": f"Bearer {WRONG}"})
        answer = httpx.post(f"{base}/api/session", json={"token": TOKEN})
        assert answer.status_code == 204
        cookie = answer.headers["set-cookie"].split(";")[0]
        with connect(f"ws://{address}/ws/gpu", additional_headers={"Cookie": cookie}) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        with connect(f"ws://{address}/ws/gpu", additional_headers=BEARER) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        with connect(f"ws://{address}/ws/gpu") as ws:
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401, "access token required")
    output = log.read_text()
    assert TOKEN not in output and WRONG not in output
    assert cookie.split("=", 1)[1] not in output
    assert "/api/config?token=[redacted]" in output
    assert re.search(r"access refused for 127\.0\.0\.1: wrong token", output)
    assert "access is open" not in output
