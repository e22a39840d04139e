"""A fake Prometheus for the fleet tests: a small threaded HTTP(S) server answering
/api/v1/query and /api/v1/query_range from targets whose series are parsed from real
exposition text (gpulens' own /metrics, or dcgm-exporter's format), and able to fail
in each way the fleet must survive."""

from __future__ import annotations

import json
import math
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prometheus_client.parser import text_string_to_metric_families

from gpulens.config import Settings
from tests.fakes import HOST, FakeSystem, gpu, selection, steady

Sample = tuple[str, dict[str, str], float]  # name, labels, value


def parse_exposition(text: str) -> list[Sample]:
    out: list[Sample] = []
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.append((s.name, dict(s.labels), float(s.value)))
    return out


def gpulens_metrics(hostname: str, gpus: int = 2) -> list[Sample]:
    """What a real `gpulens serve` on ``gpus`` fake GPUs exposes at /metrics."""
    from fastapi.testclient import TestClient

    from gpulens.api.app import create_app

    settings = Settings(
        allowed_hosts=[HOST], metrics_hostname=hostname, history=False, findings=False
    )
    app = create_app(settings, selection=selection(steady(gpus)), system=FakeSystem())
    with TestClient(app) as client:
        text = client.get("/metrics").text
    wanted = ("DCGM_FI_DEV_", "gpulens_gpu_up", "gpulens_build_info")
    return [s for s in parse_exposition(text) if s[0].startswith(wanted)]


DCGM_LINE = (
    '{name}{{gpu="{i}",UUID="GPU-dcgm-{i}",pci_bus_id="00000000:0{i}:00.0",device="nvidia{i}",'
    'modelName="NVIDIA A100-SXM4-80GB",Hostname="{host}",DCGM_FI_DRIVER_VERSION="550.54"}} {v}'
)


def dcgm_metrics(hostname: str, gpus: int = 2, util: float = 80.0) -> list[Sample]:
    """What dcgm-exporter (tests/fixtures/dcgm-exporter/) exposes for ``gpus`` GPUs."""
    lines = []
    for i in range(gpus):
        for name, v in (
            ("DCGM_FI_DEV_GPU_UTIL", util),
            ("DCGM_FI_DEV_FB_USED", 40000),
            ("DCGM_FI_DEV_FB_FREE", 40000),
            ("DCGM_FI_DEV_FB_RESERVED", 1000),
            ("DCGM_FI_DEV_GPU_TEMP", 60),
            ("DCGM_FI_DEV_POWER_USAGE", 300.5),
        ):
            lines.append(DCGM_LINE.format(name=name, i=i, host=hostname, v=v))
    return parse_exposition("\n".join(lines) + "\n")


def window_s(query: str) -> float:
    """The range selector's window of a query (``[45s]``, ``[45000ms]``), 45 s without one."""
    found = re.search(r"\[(\d+(?:\.\d+)?)(ms|s|m)\]", query)
    if found is None:
        return 45.0
    return float(found[1]) * {"ms": 0.001, "s": 1.0, "m": 60.0}[found[2]]


@dataclass
class Target:
    instance: str
    job: str = "gpulens"
    up: float | None = 1.0  # None: not in `up` (gone from Prometheus)
    age_s: float = 5.0  # how old its newest sample is
    series: list[Sample] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # target labels (e.g. gpulens_url)
    # False: its series reach Prometheus with no `up` of their own (honor_labels exporters,
    # federation, remote write): they are in the GPU query, the target is not in `up`.
    scraped: bool = True


def prom_number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


class FakePrometheus:
    """State the tests change: targets, a failure mode, the credentials it wants."""

    def __init__(self) -> None:
        self.targets: list[Target] = []
        self.fail: str | None = None  # "500", "error", "html", "404", "slow", "garbage"
        self.delay_s = 0.0
        self.want_auth: str | None = None  # the Authorization header it insists on
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.lock = threading.Lock()
        self.url = ""

    def answer(
        self, path: str, params: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, str, str]:
        with self.lock:
            self.requests.append((path, params, headers))
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.want_auth is not None and headers.get("authorization") != self.want_auth:
            return 401, "text/plain", "Unauthorized\n"
        if self.fail == "500":
            return 500, "text/plain", "internal error\n"
        if self.fail == "error":
            body = {"status": "error", "errorType": "execution", "error": "query timed out"}
            return 422, "application/json", json.dumps(body)
        if self.fail == "html":
            return 200, "text/html", "<html><body><h1>Grafana</h1></body></html>"
        if self.fail == "garbage":
            return 200, "application/json", json.dumps({"status": "success", "data": 3})
        if path not in ("/api/v1/query", "/api/v1/query_range"):
            return 404, "text/plain", "404 page not found\n"
        query = params.get("query", "")
        if path == "/api/v1/query_range":
            result = self._range(query, params)
        elif query.startswith("up["):
            result = self._up(float(params.get("time", time.time())))
        else:
            result = self._gpus(float(params.get("time", time.time())), query)
        kind = "vector" if query.startswith("last_over_time(") else "matrix"
        ok: dict[str, Any] = {"status": "success", "data": {"resultType": kind, "result": result}}
        return 200, "application/json", json.dumps(ok)

    def _labels(self, target: Target, name: str, labels: dict[str, str]) -> dict[str, str]:
        out = {"__name__": name, **{k: v for k, v in labels.items() if v != ""}}
        out.update(target.labels)
        out.update({"instance": target.instance, "job": target.job})
        return out

    def _gpus(self, now: float, query: str) -> list[dict[str, Any]]:
        result = []
        for t in self.targets:
            if t.up != 1 or t.age_s > window_s(query):
                continue  # a failed scrape leaves staleness markers: no samples in the window
            for name, labels, value in t.series:
                if name not in query:
                    continue
                if query.startswith("last_over_time("):  # a vector at the query's time
                    point: dict[str, Any] = {"value": [now, prom_number(value)]}
                else:  # raw samples
                    point = {
                        "values": [
                            [now - t.age_s - 15, prom_number(value)],
                            [now - t.age_s, prom_number(value)],
                        ]
                    }
                result.append({"metric": self._labels(t, name, labels), **point})  # fmt: skip
        return result

    def _up(self, now: float) -> list[dict[str, Any]]:
        return [
            {
                "metric": {**t.labels, "__name__": "up", "instance": t.instance, "job": t.job},
                "values": [[now - t.age_s, prom_number(t.up)]],
            }
            for t in self.targets
            if t.up is not None and t.age_s <= 45 and t.scraped
        ]

    def _range(self, query: str, params: dict[str, str]) -> list[dict[str, Any]]:
        start, end, step = (float(params[k]) for k in ("start", "end", "step"))
        result = []
        for t in self.targets:
            if t.up != 1:
                continue
            for name, labels, value in t.series:
                if name not in query or not name.startswith("DCGM"):
                    continue
                points, at = [], start
                while at <= end:
                    points.append([at, prom_number(value)])
                    at += step
                result.append({"metric": self._labels(t, name, labels), "values": points})
        return result

    @property
    def gpu_queries(self) -> int:
        return len(self.requests)


def handler_for(prom: FakePrometheus) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            params = {k: v[0] for k, v in parse_qs(parts.query).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            code, kind, body = prom.answer(parts.path, params, headers)
            data = body.encode()
            try:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (timeout test)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def serve(prom: FakePrometheus, tls: tuple[Path, Path] | None = None) -> Iterator[FakePrometheus]:
    """Run ``prom`` on a free port (HTTPS with ``tls`` = (cert, key)); sets ``prom.url``."""
    import ssl

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(prom))
    server.daemon_threads = True
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    prom.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    try:
        yield prom
    finally:
        server.shutdown()
        server.server_close()


def self_signed(directory: Path, name: str = "server") -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (it is its own CA): (cert, key)."""
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", f"/CN={name}", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


__all__ = ["FakePrometheus", "Target", "dcgm_metrics", "gpu", "gpulens_metrics", "serve"]
