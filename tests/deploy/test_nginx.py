"""The shipped nginx configuration, run for real: nginx (TLS) in front of ``gpulens serve``.

deploy/nginx/gpulens.conf is rendered by deploy/nginx/render.sh into throwaway
prefixes (deploy/nginx/sandbox.py: self-signed certificate, free high ports on
127.0.0.1, logs and pid in a temporary directory) and started next to one
backend in replay mode, run as the recipe says (TRUSTED_PROXIES=127.0.0.1).
Three nginx, one per access mode: basic auth (the default: an htpasswd made
here), SSO (auth_request to a stub playing oauth2-proxy) and off. Everything is
checked over https:// and wss://, and the basic-auth page in headless Chromium.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from gpulens.api.security import CSP as BACKEND_CSP

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 20.0
USER, PASSWORD = "alice", "correct horse battery staple"
SSO_USER = "carol@example.org"
SSO_COOKIE = "_oauth2_proxy=ok"
IDP = "https://idp.example/authorize"


def system_tool(name: str, package_arg: str) -> str:
    """The tool's path, installed first as `make test-py` does when missing; never a skip."""

    def find() -> str | None:
        found = shutil.which(name)
        return found or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)

    found = find()
    if found is None:
        subprocess.run([str(ROOT / "scripts/system-packages.sh"), package_arg], check=False)
        found = find()
    if found is None:
        pytest.fail(f"{name} is needed: scripts/system-packages.sh {package_arg}", pytrace=False)
    return found


NGINX = system_tool("nginx", "nginx")
OPENSSL = system_tool("openssl", "openssl")


def load_sandbox() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gpulens_nginx_sandbox", ROOT / "deploy/nginx/sandbox.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


sandbox = load_sandbox()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{proc.args!r} exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(
        f"nothing listening on 127.0.0.1:{port} after {WAIT_S} s:\n{log.read_text()[-4000:]}"
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def static_dir(tmp: Path) -> tuple[Path, str]:
    """A copy of the built dashboard (built first if missing), and the path of one asset."""
    dist = ROOT / "frontend" / "dist"
    if not (dist / "index.html").is_file():
        built = subprocess.run(["make", "-C", str(ROOT), "build"], check=False)
        assert built.returncode == 0, "the dashboard is needed: make build"
    site = tmp / "static"
    shutil.copytree(dist, site)
    assets = sorted((site / "assets").glob("*.js"))
    assert assets, f"no script in {dist}/assets"
    return site, f"/assets/{assets[0].name}"


def gpulens_command() -> list[str]:
    exe = Path(sys.executable).parent / "gpulens"
    return [str(exe), "serve"] if exe.exists() else [sys.executable, "-m", "gpulens", "serve"]


def basic(user: str = USER, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class StubOAuth2Proxy(BaseHTTPRequestHandler):
    """oauth2-proxy's side of auth_request: /oauth2/auth answers 202 and names the user
    (X-Auth-Request-User) for a session cookie, 401 otherwise; /oauth2/sign_in sends
    the browser to the identity provider with where it wanted to go."""

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/oauth2/auth":
            jar = SimpleCookie(self.headers.get("Cookie", ""))
            ok = "_oauth2_proxy" in jar and jar["_oauth2_proxy"].value == "ok"
            self.send_response(202 if ok else 401)
            if ok:
                self.send_header("X-Auth-Request-User", SSO_USER)
        elif path == "/oauth2/sign_in":
            back = self.headers.get("X-Auth-Request-Redirect", "")
            self.send_response(302)
            self.send_header("Location", f"{IDP}?{httpx.QueryParams({'rd': back})}")
        else:
            self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the test reports
        pass


@dataclass(frozen=True)
class Stack:
    https: int
    http: int
    backend: int
    asset: str
    static: Path
    box: Any  # deploy/nginx/sandbox.py Sandbox
    tls: ssl.SSLContext

    @property
    def origin(self) -> str:
        return f"https://localhost:{self.https}"

    @property
    def ws(self) -> str:
        return f"wss://localhost:{self.https}/ws/gpu"

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.origin, verify=self.tls, timeout=10, **kwargs)


@dataclass(frozen=True)
class Site:
    """What every nginx of this module shares: a backend, its dashboard, a stub SSO proxy."""

    tmp: Path
    backend: int
    static: Path
    asset: str
    sso: int
    procs: list[subprocess.Popen[bytes]]

    def start_backend(self, name: str, **settings: str) -> int:
        """``gpulens serve`` in replay, run as the recipe says (README.md, docs/access.md):
        the user nginx signed in is believed from nginx's address only."""
        port = free_port()
        env = {
            **os.environ,
            "TELEMETRY_PROVIDER": "replay",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "STATIC_DIR": str(self.static),
            "POLL_INTERVAL_MS": "250",
            "LOG_LEVEL": "WARNING",
            "TRUSTED_PROXIES": "127.0.0.1",
            **settings,
        }
        log = self.tmp / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                gpulens_command(), env=env, cwd=self.tmp, stdout=out, stderr=out
            )
        self.procs.append(proc)
        wait_for_port(port, proc, log)
        return port

    def nginx(self, name: str, backend: int | None = None, **options: Any) -> Stack:
        https, http = free_port(), free_port()
        backend = backend or self.backend
        box = sandbox.build(
            self.tmp / name,
            https_listen=f"127.0.0.1:{https}",
            http_listen=f"127.0.0.1:{http}",
            upstream=f"127.0.0.1:{backend}",
            static=self.static,
            nginx=NGINX,
            **options,
        )
        checked = subprocess.run(
            box.command(NGINX, "-t"), capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stderr
        log = self.tmp / f"{name}.out"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                box.command(NGINX, "-g", "daemon off;"), stdout=out, stderr=out, cwd=self.tmp
            )
        self.procs.append(proc)
        wait_for_port(https, proc, log)
        tls = ssl.create_default_context(cafile=box.cert)
        return Stack(https, http, backend, self.asset, self.static, box, tls)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("nginx")
    static, asset = static_dir(tmp)
    stub = ThreadingHTTPServer(("127.0.0.1", 0), StubOAuth2Proxy)
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        first = Site(tmp, 0, static, asset, int(stub.server_address[1]), procs)
        backend = first.start_backend("backend")
        yield Site(tmp, backend, static, asset, first.sso, procs)
    finally:
        for proc in reversed(procs):
            stop(proc)
        stub.shutdown()
        stub.server_close()


@pytest.fixture(scope="module")
def stack(site: Site) -> Stack:
    """The default: basic auth, with one user in an htpasswd file made here."""
    return site.nginx("basic", users={USER: PASSWORD})


@pytest.fixture(scope="module")
def sso(site: Site) -> Stack:
    return site.nginx("sso", auth="sso", sso_upstream=f"127.0.0.1:{site.sso}")


@pytest.fixture(scope="module")
def open_nginx(site: Site) -> Stack:
    return site.nginx("off", auth="off")


@pytest.fixture(scope="module")
def metrics_by_address(site: Site) -> Stack:
    """GPULENS_METRICS_ACCESS=addresses, and gpulens told the same (METRICS_ALLOW_FROM)."""
    backend = site.start_backend("backend-metrics", METRICS_ALLOW_FROM="127.0.0.1")
    return site.nginx(
        "metrics-addresses", backend=backend, users={USER: PASSWORD}, metrics_access="addresses"
    )


@pytest.fixture
def client(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client(auth=(USER, PASSWORD)) as c:
        yield c


def directives(csp: str) -> dict[str, str]:
    parts = (d.strip().split(None, 1) for d in csp.split(";") if d.strip())
    return {p[0]: (p[1] if len(p) > 1 else "") for p in parts}


def assert_security_headers(response: httpx.Response) -> None:
    h = response.headers
    where = f"{response.request.method} {response.request.url.path}"
    for name in (
        "content-security-policy",
        "strict-transport-security",
        "x-content-type-options",
        "x-frame-options",
        "referrer-policy",
    ):
        assert len(h.get_list(name)) == 1, f"{where}: {name} sent {h.get_list(name)}"
    csp = directives(h["content-security-policy"])
    assert "wss:" in csp["connect-src"].split(), where
    assert csp["frame-ancestors"] == "'none'", where
    assert "unsafe-inline" not in csp["script-src"], where
    assert h["strict-transport-security"].startswith("max-age="), where
    assert int(h["strict-transport-security"].split("=", 1)[1].split(";")[0]) >= 15_552_000
    assert h["x-content-type-options"] == "nosniff", where
    assert h["x-frame-options"] == "DENY", where
    assert h["referrer-policy"] == "no-referrer", where


def test_config_passes_nginx_t(stack: Stack) -> None:
    result = subprocess.run(
        stack.box.command(NGINX, "-t"), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_csp_is_the_backends_with_wss_only(stack: Stack, client: httpx.Client) -> None:
    ours = directives(client.get("/").headers["content-security-policy"])
    backend = directives(BACKEND_CSP)
    assert ours.keys() == backend.keys()
    for name, value in backend.items():
        if name == "connect-src":
            assert ours[name] == "'self' wss:"
        else:
            assert ours[name] == value, name


def test_http_redirects_to_https(stack: Stack) -> None:
    r = httpx.get(f"http://localhost:{stack.http}/some/page?x=1", follow_redirects=False)
    assert r.status_code in (301, 308)
    assert r.headers["location"] == f"https://localhost:{stack.https}/some/page?x=1"


def test_page_served_uncached_with_security_headers(client: httpx.Client) -> None:
    for path in ("/", "/index.html", "/a/client/route"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert "<html" in r.text.lower(), path
        assert r.headers["cache-control"] == "no-cache", path
        assert_security_headers(r)


def test_assets_immutable_with_security_headers(stack: Stack, client: httpx.Client) -> None:
    r = client.get(stack.asset)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "javascript" in r.headers["content-type"]
    assert_security_headers(r)
    missing = client.get("/assets/not-there.js")
    assert missing.status_code == 404  # no index.html fallback under /assets/
    assert_security_headers(missing)


def test_assets_sent_precompressed_to_gzip_clients(stack: Stack, client: httpx.Client) -> None:
    plain = (stack.static / stack.asset.lstrip("/")).read_bytes()
    r = client.get(stack.asset, headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in r.headers["vary"]
    assert "javascript" in r.headers["content-type"]
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.content == plain  # httpx decoded it
    assert_security_headers(r)
    copy = stack.static / f"{stack.asset.lstrip('/')}.gz"
    if copy.is_file():  # gzip_static: the build's copy as it is (on-the-fly gzip has no length)
        assert int(r.headers["content-length"]) == copy.stat().st_size
    identity = client.get(stack.asset, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in identity.headers
    assert identity.content == plain


def test_health_through_the_proxy(client: httpx.Client) -> None:
    r = client.get("/api/health")
    assert r.status_code == 200
    body = r.json()
    assert body["provider"] == "replay"
    assert_security_headers(r)  # the backend's copies are hidden: each header once


def test_tls_versions(stack: Stack) -> None:
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = ssl.create_default_context(cafile=stack.box.cert)
        ctx.minimum_version = ctx.maximum_version = version
        with (
            socket.create_connection(("127.0.0.1", stack.https), timeout=5) as raw,
            ctx.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            assert tls.version() == version.name.replace("_", ".")


async def test_websocket_hello_then_telemetry(stack: Stack) -> None:
    async with connect(
        stack.ws,
        ssl=stack.tls,
        origin=Origin(stack.origin),
        additional_headers={"Authorization": basic()},
    ) as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
        assert first["type"] == "hello"
        assert first["status"]["provider"] == "replay"

        async def next_telemetry() -> dict[str, object]:
            while True:
                message: dict[str, object] = json.loads(await ws.recv())
                if message["type"] == "telemetry":
                    return message

        telemetry = await asyncio.wait_for(next_telemetry(), WAIT_S)
        assert telemetry["source"] == "replay"
        assert telemetry["gpus"]


async def test_websocket_foreign_origin_refused(stack: Stack) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            stack.ws,
            ssl=stack.tls,
            origin=Origin("https://evil.example"),
            additional_headers={"Authorization": basic()},
        ):
            pass
    assert refused.value.response.status_code == 403


def test_metrics_denied_to_other_addresses(stack: Stack) -> None:
    transport = httpx.HTTPTransport(local_address="127.0.0.2", verify=stack.tls)
    try:
        with httpx.Client(transport=transport, timeout=10, auth=(USER, PASSWORD)) as outsider:
            r = outsider.get(f"https://localhost:{stack.https}/metrics")
    except httpx.ConnectError as exc:  # 127.0.0.2 not usable as a source here
        pytest.skip(f"cannot connect from 127.0.0.2: {exc}")
    assert r.status_code == 403
    with stack.client(auth=(USER, PASSWORD)) as local:
        r = local.get("/metrics")
        assert r.status_code == 200, r.text
        assert "gpulens" in r.text


def test_metrics_location_denies_by_default(stack: Stack) -> None:
    dump = subprocess.run(
        stack.box.command(NGINX, "-T"), capture_output=True, text=True, check=True
    ).stdout
    block = dump.split("location = /metrics", 1)[1].split("}", 1)[0]
    lines = [line.strip() for line in block.splitlines() if line.strip()]
    assert "allow 127.0.0.1;" in lines
    assert lines.index("deny all;") > max(i for i, s in enumerate(lines) if s.startswith("allow"))


# --- access: basic auth (the default) ------------------------------------------------------

PROTECTED = ("/", "/index.html", "/a/client/route", "/api/config", "/api/health", "/metrics")


def test_basic_auth_refuses_every_path_without_credentials(stack: Stack) -> None:
    with stack.client() as anonymous:
        for path in (*PROTECTED, stack.asset):
            r = anonymous.get(path)
            assert r.status_code == 401, path
            assert r.headers["www-authenticate"] == 'Basic realm="gpulens"', path
            assert "gpulens" not in r.text.lower().replace('realm="gpulens"', ""), path
            assert_security_headers(r)


def test_basic_auth_refuses_wrong_and_unknown_users(stack: Stack) -> None:
    for user, password in ((USER, "wrong"), (USER, ""), ("mallory", PASSWORD), ("", "")):
        with stack.client(auth=(user, password)) as wrong:
            assert wrong.get("/api/config").status_code == 401, user
            assert wrong.get("/").status_code == 401, user


def test_basic_auth_serves_the_page_and_api(stack: Stack, client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert '<div id="root">' in page.text
    config = client.get("/api/config")
    assert config.status_code == 200, config.text
    assert "pollIntervalMs" in config.json()


async def test_basic_auth_websocket_refused_without_credentials(stack: Stack) -> None:
    """Credentials on HTTP are not enough: the upgrade has to carry them as well."""
    for headers in ({}, {"Authorization": basic(USER, "wrong")}):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(
                stack.ws, ssl=stack.tls, origin=Origin(stack.origin), additional_headers=headers
            ):
                pass
        assert refused.value.response.status_code == 401


async def test_basic_auth_websocket_hello_with_credentials(stack: Stack) -> None:
    async with connect(
        stack.ws,
        ssl=stack.tls,
        origin=Origin(stack.origin),
        additional_headers={"Authorization": basic()},
    ) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
    assert hello["type"] == "hello"


def test_basic_auth_user_reaches_gpulens(client: httpx.Client) -> None:
    """nginx names the user it checked; gpulens (TRUSTED_PROXIES=127.0.0.1) believes it."""
    r = client.get("/api/session")
    assert r.status_code == 200, r.text
    assert r.json() == {"required": True, "authenticated": True, "method": "proxy", "user": USER}


def test_basic_auth_user_header_from_the_client_is_replaced(client: httpx.Client) -> None:
    r = client.get("/api/session", headers={"X-Forwarded-User": "mallory"})
    assert r.json()["user"] == USER


def test_metrics_needs_the_same_sign_in(stack: Stack) -> None:
    with stack.client() as anonymous:
        assert anonymous.get("/metrics").status_code == 401
    with stack.client(auth=(USER, PASSWORD)) as prometheus:  # Prometheus' basic_auth
        r = prometheus.get("/metrics")
    assert r.status_code == 200
    assert "# TYPE" in r.text


def test_metrics_by_address_needs_no_sign_in_but_the_rest_does(
    metrics_by_address: Stack,
) -> None:
    with metrics_by_address.client() as prometheus:
        r = prometheus.get("/metrics")
        assert r.status_code == 200, r.text
        assert "# TYPE" in r.text
        # A name sent along is not a sign-in: nothing else opens up.
        forged = {"Authorization": basic("mallory", "x"), "X-Forwarded-User": "mallory"}
        assert prometheus.get("/metrics", headers=forged).status_code == 200
        assert prometheus.get("/api/config", headers=forged).status_code == 401
        assert prometheus.get("/").status_code == 401


def test_metrics_by_address_still_denies_other_addresses(metrics_by_address: Stack) -> None:
    transport = httpx.HTTPTransport(local_address="127.0.0.2", verify=metrics_by_address.tls)
    with httpx.Client(transport=transport, timeout=10) as outsider:
        r = outsider.get(f"{metrics_by_address.origin}/metrics")
    assert r.status_code == 403


# --- access: SSO (auth_request to an OAuth2 proxy) -----------------------------------------


def test_sso_page_without_a_session_goes_to_sign_in(sso: Stack) -> None:
    with sso.client() as anonymous:
        r = anonymous.get("/a/client/route?view=fleet&range=24h")
    assert r.status_code == 302
    location = urlsplit(r.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == IDP
    assert parse_qs(location.query)["rd"] == ["/a/client/route?view=fleet&range=24h"]


def test_sso_api_and_assets_refused_without_a_session(sso: Stack) -> None:
    for cookie in ({}, {"Cookie": "_oauth2_proxy=forged"}):
        with sso.client(headers=cookie) as anonymous:
            for path in ("/api/config", "/api/session", "/api/health", "/metrics", sso.asset):
                assert anonymous.get(path).status_code == 401, (path, cookie)


def test_sso_auth_endpoint_not_reachable_from_outside(sso: Stack) -> None:
    with sso.client(headers={"Cookie": SSO_COOKIE}) as c:
        assert c.get("/oauth2/auth").status_code == 404  # internal: auth_request's only


def test_sso_session_serves_page_and_api(sso: Stack) -> None:
    with sso.client(headers={"Cookie": SSO_COOKIE}) as signed_in:
        page = signed_in.get("/")
        assert page.status_code == 200
        assert '<div id="root">' in page.text
        assert_security_headers(page)
        assert signed_in.get("/api/config").status_code == 200
        assert signed_in.get(sso.asset).status_code == 200


def test_sso_user_reaches_gpulens_and_a_forged_header_is_replaced(sso: Stack) -> None:
    with sso.client(headers={"Cookie": SSO_COOKIE}) as signed_in:
        plain = signed_in.get("/api/session")
        forged = signed_in.get("/api/session", headers={"X-Forwarded-User": "mallory"})
    expected = {"required": True, "authenticated": True, "method": "proxy", "user": SSO_USER}
    assert plain.json() == expected
    assert forged.json() == expected


async def test_sso_websocket_needs_the_session(sso: Stack) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(sso.ws, ssl=sso.tls, origin=Origin(sso.origin)):
            pass
    assert refused.value.response.status_code == 401
    async with connect(
        sso.ws,
        ssl=sso.tls,
        origin=Origin(sso.origin),
        additional_headers={"Cookie": SSO_COOKIE},
    ) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))
    assert hello["type"] == "hello"


# --- access: off (an explicit choice) -------------------------------------------------------


def test_off_lets_the_page_through_but_never_a_client_named_user(open_nginx: Stack) -> None:
    """With GPULENS_AUTH=off nobody is signed in at nginx: a client's own X-Forwarded-User
    (or Basic header) never reaches gpulens as a user, so TRUSTED_PROXIES still refuses."""
    with open_nginx.client(auth=(USER, PASSWORD)) as c:
        assert c.get("/").status_code == 200
        r = c.get("/api/session", headers={"X-Forwarded-User": USER})
        assert r.json() == {
            "required": True,
            "authenticated": False,
            "method": None,
            "user": None,
        }
        assert c.get("/api/config", headers={"X-Forwarded-User": USER}).status_code == 401


# --- the rendered files ---------------------------------------------------------------------


def code(conf: str) -> str:
    """The configuration without its comments."""
    return "\n".join(line.split("#", 1)[0].rstrip() for line in conf.splitlines())


def render(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(ROOT / "deploy/nginx/render.sh")],
        env={**os.environ, "GPULENS_STATIC": "/srv/gpulens", **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_render_defaults_to_basic_auth() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPULENS_")}
    result = subprocess.run(
        ["sh", str(ROOT / "deploy/nginx/render.sh")],
        env={**env, "GPULENS_STATIC": "/srv/gpulens"},
        capture_output=True,
        text=True,
        check=True,
    )
    site = code(result.stdout)
    assert 'auth_basic "gpulens";' in site
    assert "auth_basic_user_file /etc/nginx/gpulens.htpasswd;" in site
    assert "auth_request" not in site


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GPULENS_HTPASSWD": ""}, "GPULENS_HTPASSWD is empty"),
        ({"GPULENS_AUTH": ""}, "choose basic, sso or off"),
        ({"GPULENS_AUTH": "none"}, "choose basic, sso or off"),
        ({"GPULENS_AUTH": "sso", "GPULENS_SSO_UPSTREAM": ""}, "GPULENS_SSO_UPSTREAM is empty"),
        ({"GPULENS_METRICS_ACCESS": "open"}, "choose auth or addresses"),
        ({"GPULENS_HTPASSWD": "/etc/x; return 200"}, "nginx would read as syntax"),
    ],
)
def test_render_refuses(env: dict[str, str], message: str) -> None:
    result = render(**env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert message in result.stderr


def test_render_off_says_what_it_means() -> None:
    result = render(GPULENS_AUTH="off")
    assert result.returncode == 0
    assert "lets anyone who reaches it see the dashboard" in result.stderr
    assert "auth_basic" not in code(result.stdout)
    assert "auth_request" not in code(result.stdout)


@pytest.mark.parametrize("auth", ["basic", "sso", "off"])
@pytest.mark.parametrize("metrics", ["auth", "addresses"])
def test_every_proxied_location_sets_the_user_header(
    tmp_path: Path, auth: str, metrics: str
) -> None:
    """Each mode passes nginx -t, and no location that reaches gpulens lets a client's own
    X-Forwarded-User through (proxy_set_header replaces it; only each location's own counts)."""
    box = sandbox.build(
        tmp_path,
        https_listen="127.0.0.1:8443",
        http_listen="127.0.0.1:8080",
        upstream="127.0.0.1:5000",
        static=tmp_path,
        nginx=NGINX,
        auth=auth,
        metrics_access=metrics,
    )
    dump = subprocess.run(box.command(NGINX, "-T"), capture_output=True, text=True, check=False)
    assert dump.returncode == 0, dump.stderr
    rendered = Path(box.site).read_text()
    markers = re.findall(r"^\s*# \[/?[a-z]+=[a-z]+\]$", rendered, re.MULTILINE)
    assert markers == []  # every mode marker consumed
    site = code(rendered)
    proxied = [b for b in site.split("location ")[1:] if "proxy_pass http://gpulens_backend" in b]
    assert len(proxied) == 3  # /api/, /ws/gpu, /metrics
    for block in proxied:
        users = [ln.strip() for ln in block.splitlines() if "X-Forwarded-User" in ln]
        assert len(users) == 1, block
        open_metrics = block.startswith("= /metrics") and metrics == "addresses"
        expected = (
            'proxy_set_header X-Forwarded-User "";'
            if open_metrics
            else ("proxy_set_header X-Forwarded-User $gpulens_user;")
        )
        assert users[0].startswith(expected), block
    assert ("auth_basic_user_file" in site) == (auth == "basic")
    assert ("auth_request /oauth2/auth;" in site) == (auth == "sso")


# --- a real browser: the basic credentials it has carry onto the WebSocket --------------------

BROWSER_SCRIPT = r"""
const { chromium } = require('playwright-core');
const [url, username, password, profile] = process.argv.slice(2);
(async () => {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
           '--disable-component-update', '--no-first-run', '--ignore-certificate-errors'],
    ignoreHTTPSErrors: true,
    httpCredentials: { username, password },
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const problems = [];
    const sockets = [];
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
    page.on('pageerror', (e) => problems.push(String(e)));
    page.on('websocket', (ws) => sockets.push(ws.url()));
    const response = await page.goto(url);
    await page.locator('[data-testid="connection-pill"][data-state="live"]')
      .waitFor({ timeout: 30000 });
    const session = await page.evaluate(async () => (await fetch('/api/session')).json());
    console.log(JSON.stringify({ status: response.status(), sockets, session, problems }));
  } finally {
    await context.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
"""


def test_browser_with_basic_credentials_goes_live(stack: Stack, tmp_path: Path) -> None:
    """Headless Chromium, given the basic credentials (it answers the 401 challenge), loads
    the page and then streams: the WebSocket upgrade carried them without being asked."""
    chromium = os.environ.get("CHROMIUM_PATH") or system_tool("chromium", "chromium")
    modules = ROOT / "frontend" / "node_modules"
    if not (modules / "playwright-core").is_dir():
        installed = subprocess.run(["make", "-C", str(ROOT), "frontend-deps"], check=False)
        assert installed.returncode == 0, "frontend/node_modules is needed: make frontend-deps"
    script = tmp_path / "browser.cjs"
    script.write_text(BROWSER_SCRIPT)
    profile = tmp_path / "profile"  # a fresh --user-data-dir
    result = subprocess.run(
        ["node", str(script), f"{stack.origin}/", USER, PASSWORD, str(profile)],
        env={**os.environ, "NODE_PATH": str(modules), "CHROMIUM_PATH": chromium},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["status"] == 200
    assert seen["sockets"] and all(url == stack.ws for url in seen["sockets"]), seen
    assert seen["session"]["user"] == USER
    assert seen["problems"] == []
