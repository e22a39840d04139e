"""The shipped nginx configuration, run for real: nginx (TLS) in front of ``gpulens serve``.

deploy/nginx/gpulens.conf is rendered by deploy/nginx/render.sh into a
throwaway prefix (deploy/nginx/sandbox.py: self-signed certificate, free high
ports on 127.0.0.1, logs and pid in a temporary directory) and started next
to a backend in replay mode. Everything is checked over https:// and wss://.
"""

from __future__ import annotations

import asyncio
import gzip
import importlib.util
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from gpulens.api.security import CSP as BACKEND_CSP

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
OPENSSL = shutil.which("openssl")
WAIT_S = 20.0

if NGINX is None or OPENSSL is None:  # `make test-py` installs both (scripts/system-packages.sh)
    why = "nginx and openssl are needed: scripts/system-packages.sh nginx openssl"
    if os.environ.get("CI") == "true":
        pytest.fail(why, pytrace=False)
    pytest.skip(why, allow_module_level=True)


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
    """frontend/dist when built, else a minimal stand-in; and the path of one asset in it."""
    dist = ROOT / "frontend" / "dist"
    assets = sorted((dist / "assets").glob("*.js")) if (dist / "index.html").is_file() else []
    if assets:
        return dist, f"/assets/{assets[0].name}"
    site = tmp / "static"
    (site / "assets").mkdir(parents=True)
    (site / "index.html").write_text(
        '<!doctype html><html><head><title>gpulens</title><script type="module" '
        'src="/assets/app.js"></script></head><body><div id="root"></div></body></html>\n'
    )
    script = b"console.log('gpulens');\n" * 100
    (site / "assets" / "app.js").write_bytes(script)
    (site / "assets" / "app.js.gz").write_bytes(gzip.compress(script, 9))  # as the build does
    return site, "/assets/app.js"


def gpulens_command() -> list[str]:
    exe = Path(sys.executable).parent / "gpulens"
    return [str(exe), "serve"] if exe.exists() else [sys.executable, "-m", "gpulens", "serve"]


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


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("nginx")
    https, http, backend = free_port(), free_port(), free_port()
    static, asset = static_dir(tmp)
    box = sandbox.build(
        tmp / "prefix",
        https_listen=f"127.0.0.1:{https}",
        http_listen=f"127.0.0.1:{http}",
        upstream=f"127.0.0.1:{backend}",
        static=static,
        nginx=NGINX,
    )
    checked = subprocess.run(box.command(NGINX, "-t"), capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr

    env = {
        **os.environ,
        "TELEMETRY_PROVIDER": "replay",
        "HOST": "127.0.0.1",
        "PORT": str(backend),
        "STATIC_DIR": str(static),
        "POLL_INTERVAL_MS": "250",
        "LOG_LEVEL": "WARNING",
    }
    backend_log = tmp / "backend.log"
    nginx_log = tmp / "nginx.out"
    procs: list[subprocess.Popen[bytes]] = []
    with backend_log.open("wb") as blog, nginx_log.open("wb") as nlog:
        try:
            procs.append(
                subprocess.Popen(gpulens_command(), env=env, cwd=tmp, stdout=blog, stderr=blog)
            )
            wait_for_port(backend, procs[0], backend_log)
            procs.append(
                subprocess.Popen(
                    box.command(NGINX, "-g", "daemon off;"), stdout=nlog, stderr=nlog, cwd=tmp
                )
            )
            wait_for_port(https, procs[1], nginx_log)
            tls = ssl.create_default_context(cafile=box.cert)
            yield Stack(https, http, backend, asset, static, box, tls)
        finally:
            for proc in reversed(procs):
                stop(proc)


@pytest.fixture
def client(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"https://localhost:{stack.https}", verify=stack.tls, timeout=10
    ) as c:
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
        f"wss://localhost:{stack.https}/ws/gpu", ssl=stack.tls, origin=Origin(stack.origin)
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
            f"wss://localhost:{stack.https}/ws/gpu",
            ssl=stack.tls,
            origin=Origin("https://evil.example"),
        ):
            pass
    assert refused.value.response.status_code == 403


def test_metrics_denied_to_other_addresses(stack: Stack) -> None:
    transport = httpx.HTTPTransport(local_address="127.0.0.2", verify=stack.tls)
    try:
        with httpx.Client(transport=transport, timeout=10) as outsider:
            r = outsider.get(f"https://localhost:{stack.https}/metrics")
    except httpx.ConnectError as exc:  # 127.0.0.2 not usable as a source here
        pytest.skip(f"cannot connect from 127.0.0.2: {exc}")
    assert r.status_code == 403
    with httpx.Client(verify=stack.tls, timeout=10) as local:
        assert local.get(f"https://localhost:{stack.https}/metrics").status_code != 403


def test_metrics_location_denies_by_default(stack: Stack) -> None:
    dump = subprocess.run(
        stack.box.command(NGINX, "-T"), capture_output=True, text=True, check=True
    ).stdout
    block = dump.split("location = /metrics", 1)[1].split("}", 1)[0]
    lines = [line.strip() for line in block.splitlines() if line.strip()]
    assert "allow 127.0.0.1;" in lines
    assert lines.index("deny all;") > max(i for i, s in enumerate(lines) if s.startswith("allow"))
