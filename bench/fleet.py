"""Fleet mode at 100 hosts x 8 GPUs: the refresh's cost, and the server's CPU vs open pages.

    .venv/bin/python bench/fleet.py [--hosts 100] [--gpus 8] [--seconds 60] [--clients 0,10,100]
    .venv/bin/python bench/fleet.py --serve [--static-dir frontend/dist]   # the page bench's lab

Goals (issue 16):

* 100 hosts x 8 GPUs: a fleet refresh costs <= 50 ms of server time and <= 3 PromQL
  queries;
* the gpulens server's CPU in fleet mode does not depend on how many pages are open (one
  query loop, one serialisation, fanned out).

The set-up, all on 127.0.0.1:

* a synthetic exporter process: **one HTTP endpoint per host** (100 ports), each serving
  dcgm-exporter's exposition for 8 GPUs (the fields of its default counters that the fleet
  reads, and a few it does not) with a ``Hostname`` label; values move with time, so every
  scrape changes the fleet (no "unchanged, not broadcast" shortcut). One endpoint per host
  rather than one endpoint with ``honor_labels``: the fleet joins GPUs to ``up`` by
  ``instance``, and only real targets have an ``up``;
* a real Prometheus (Debian's) on the kit's prometheus.yml (file SD, the recording rules,
  the alerts) scraping every 5 s and evaluating every 5 s;
* **refresh cost**: gpulens' own ``FleetPoller`` in this process, refreshing every
  FLEET_REFRESH_S (2 s): per refresh the CPU time of the thread that runs it (HTTP,
  JSON decoding, building and serialising the message: what the server spends), the wall
  time (``status.durationMs``: that plus Prometheus' own time), the queries, the frame's
  size;
* **CPU vs pages**: two ``gpulens serve`` (replay, POLL_INTERVAL_MS=1000) side by side, one
  with fleet mode (FLEET_REFRESH_S=2, FLEET_STALE_S=15 = 3 scrapes) and one without (the
  baseline, same run, same machine load); for 0, 10 and 100 WebSocket clients on each
  (from a separate process that reads every frame), each server's CPU over the window.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
from gpulens.services.fleet.client import PrometheusClient  # noqa: E402
from gpulens.services.fleet.poller import FleetOptions, FleetPoller  # noqa: E402

BIN = Path(sys.executable).parent
KIT = ROOT / "deploy" / "prometheus"
PROMETHEUS = "/usr/bin/prometheus"
LOOPBACK = "127.0.0.1"
SCRAPE_S = 5
REFRESH_S = 2.0
STALE_S = 15.0  # three scrapes
GOAL_MS = 50.0
GOAL_QUERIES = 3

# dcgm-exporter's default counters (tests/fixtures/dcgm-exporter/default-counters.csv):
# those the fleet reads, and some it does not (Prometheus stores them all).
FIELDS = (
    "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE",
    "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_SM_CLOCK",
    "DCGM_FI_DEV_MEM_CLOCK", "DCGM_FI_DEV_MEMORY_TEMP", "DCGM_FI_DEV_MEM_COPY_UTIL",
    "DCGM_FI_DEV_ENC_UTIL", "DCGM_FI_DEV_DEC_UTIL", "DCGM_FI_DEV_XID_ERRORS",
    "DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
)  # fmt: skip


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


# --- the synthetic exporter (its own process) ------------------------------------------


def exposition(host: int, gpus: int, now: float) -> bytes:
    lines: list[str] = []
    for name in FIELDS:
        lines += [f"# HELP {name} {name}.", f"# TYPE {name} gauge"]
        for gpu in range(gpus):
            phase = math.sin(now / 17 + host * 0.7 + gpu)
            util = round(50 + 50 * phase)
            value = {
                "DCGM_FI_DEV_GPU_UTIL": util,
                "DCGM_FI_DEV_FB_USED": 1000 + 700 * util,
                "DCGM_FI_DEV_FB_FREE": 81_000 - 700 * util,
                "DCGM_FI_DEV_GPU_TEMP": 35 + util // 2,
                "DCGM_FI_DEV_POWER_USAGE": round(70 + 6.3 * util, 3),
                "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": int(now * 400),
            }.get(name, gpu * 10 + host % 7)
            labels = (
                f'gpu="{gpu}",UUID="GPU-{host:08x}-0000-4000-8000-{gpu:012x}",'
                f'device="nvidia{gpu}",modelName="NVIDIA H100 80GB HBM3",'
                f'Hostname="node-{host:03d}",DCGM_FI_DRIVER_VERSION="570.86.15"'
            )
            lines.append(f"{name}{{{labels}}} {value}")
    return ("\n".join(lines) + "\n").encode()


def exporter_main(hosts: int, gpus: int) -> int:
    """Serves ``hosts`` endpoints; prints their ports as JSON; runs until stdin closes."""
    servers: list[ThreadingHTTPServer] = []
    for host in range(hosts):

        class Handler(BaseHTTPRequestHandler):
            index = host

            def do_GET(self) -> None:
                body = exposition(self.index, gpus, time.time())
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    print(json.dumps([s.server_address[1] for s in servers]), flush=True)
    sys.stdin.read()
    return 0


# --- WebSocket clients (their own process) ---------------------------------------------


async def clients_main(urls: list[str], count: int) -> int:
    """``count`` clients on each URL, reading every frame, until stdin closes; prints, per
    URL, how many connected, frames and bytes received, fleet frames, and early closes."""
    from websockets.asyncio.client import connect

    stats = {u: {"connected": 0, "frames": 0, "bytes": 0, "fleet": 0, "closed": 0} for u in urls}
    stop = asyncio.Event()

    async def one(url: str) -> None:
        s = stats[url]
        try:
            async with connect(url, max_size=None, open_timeout=60) as ws:
                s["connected"] += 1
                while not stop.is_set():
                    try:
                        data = await asyncio.wait_for(ws.recv(decode=False), 1.0)
                    except TimeoutError:
                        continue
                    s["frames"] += 1
                    s["bytes"] += len(data)
                    if data.startswith(b'{"type":"fleet"'):
                        s["fleet"] += 1
        except Exception:
            s["closed"] += 1

    tasks = [asyncio.create_task(one(u)) for u in urls for _ in range(count)]
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    stop.set()
    await asyncio.gather(*tasks)
    print(json.dumps(stats), flush=True)
    return 0


# --- the measuring side ----------------------------------------------------------------


@contextmanager
def child(args: list[str], **kw: Any) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(args, text=True, **kw)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def prometheus_config(tmp: Path, targets: list[str]) -> Path:
    config = yaml.safe_load((KIT / "prometheus.yml").read_text())
    every = f"{SCRAPE_S}s"
    config["global"].update(scrape_interval=every, scrape_timeout="4s", evaluation_interval=every)
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    for name in config["rule_files"]:
        shutil.copy(KIT / name, tmp / name)
    for folder in ("gpulens", "dcgm"):
        (tmp / "targets" / folder).mkdir(parents=True, exist_ok=True)
    lines = "".join(f'- {{targets: ["{t}"]}}\n' for t in targets)
    (tmp / "targets" / "dcgm" / "bench.yml").write_text(lines)
    return tmp / "prometheus.yml"


def wait_for(what: str, check: Any, within: float = 120.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        try:
            result = check()
        except httpx.HTTPError:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not within {within:g} s")
        time.sleep(0.5)


def prom_value(prometheus: str, query: str) -> float | None:
    """The query's first value; None while Prometheus is still starting (an error page)."""
    try:
        body = httpx.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=10).json()
        result = body["data"]["result"]
    except (httpx.HTTPError, ValueError, KeyError):
        return None
    return float(result[0]["value"][1]) if result else None


async def time_refreshes(prometheus: str, refreshes: int) -> list[dict[str, float]]:
    """gpulens' FleetPoller, as the server runs it: one refresh every REFRESH_S."""
    client = PrometheusClient(prometheus, timeout=10.0)
    poller = FleetPoller(client, FleetOptions(refresh_s=REFRESH_S, stale_s=STALE_S))
    rows: list[dict[str, float]] = []
    try:
        for _ in range(refreshes + 1):  # the first one warms up (imports, connections)
            started = time.monotonic()
            cpu = time.thread_time()
            message = await poller.refresh()
            cpu_ms = (time.thread_time() - cpu) * 1000
            status = message.status
            assert status.state == "ok", status
            rows.append(
                {
                    "cpu_ms": cpu_ms,
                    "wall_ms": status.duration_ms or 0.0,
                    "queries": status.queries,
                    "frame": len(poller.frame or ""),
                    "hosts": message.totals.hosts,
                    "gpus": message.totals.gpus,
                }
            )
            await asyncio.sleep(max(0.0, REFRESH_S - (time.monotonic() - started)))
    finally:
        await client.aclose()
    return rows[1:]


@contextmanager
def gpulens(tmp: Path, name: str, **env: str) -> Iterator[tuple[str, psutil.Process]]:
    port = free_port()
    full = {k: v for k, v in os.environ.items() if k != "STATIC_DIR" and not k.startswith("FLEET")}
    full.update(
        TELEMETRY_PROVIDER="replay", HOST=LOOPBACK, PORT=str(port), LOG_LEVEL="WARNING", **env
    )
    log = (tmp / f"{name}.log").open("w")
    with child([str(BIN / "gpulens"), "serve"], env=full, stdout=log, stderr=log) as proc:
        base = f"http://{LOOPBACK}:{port}"
        wait_for(f"{name} up", lambda: httpx.get(f"{base}/api/health", timeout=2).is_success)
        yield base, psutil.Process(proc.pid)


def cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def serve(args: argparse.Namespace) -> int:
    """``--serve``: the lab for the page bench (frontend/e2e/fleet.bench.ts). The exporter,
    Prometheus (waited for until every GPU has three scrapes) and a fleet-mode ``gpulens
    serve`` (replay, FLEET_REFRESH_S=2, STATIC_DIR=``--static-dir``) with its first fleet;
    prints ``{"url", "prometheus", "hosts", "gpus"}`` as one JSON line, then runs until
    stdin closes (or SIGTERM, SIGINT) and stops everything."""
    signal.signal(signal.SIGINT, lambda *_: sys.exit(130))
    tmp = Path(tempfile.mkdtemp(prefix="gpulens-bench-fleet-serve-"))
    me = [sys.executable, __file__]
    log = sys.stderr
    try:
        with child(
            [*me, "--exporter", str(args.hosts), str(args.gpus)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        ) as exporter:
            assert exporter.stdout is not None
            ports = json.loads(exporter.stdout.readline())
            config = prometheus_config(tmp, [f"{LOOPBACK}:{p}" for p in ports])
            prom_port = free_port()
            prometheus = f"http://{LOOPBACK}:{prom_port}"
            prom_log = (tmp / "prometheus.log").open("w")
            prom_args = [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp / 'data'}",
                f"--web.listen-address={LOOPBACK}:{prom_port}",
                "--log.level=warn",
            ]
            with child(prom_args, stdout=prom_log, stderr=prom_log):
                gpus = args.hosts * args.gpus

                def counts(query: str, want: int) -> bool:
                    try:
                        return prom_value(prometheus, query) == want
                    except ValueError:  # starting: not JSON yet
                        return False

                print(f"waiting for Prometheus: {args.hosts} targets, 3 scrapes", file=log)
                wait_for("targets up", lambda: counts("count(up == 1)", args.hosts))
                full = f"count(count_over_time(DCGM_FI_DEV_GPU_UTIL[{STALE_S:g}s]) >= 3)"
                wait_for("three scrapes", lambda: counts(full, gpus))
                env = {
                    "FLEET_PROMETHEUS_URL": prometheus,
                    "FLEET_REFRESH_S": f"{REFRESH_S:g}",
                    "FLEET_STALE_S": f"{STALE_S:g}",
                    "STATIC_DIR": str(args.static_dir.resolve()),
                }
                with gpulens(tmp, "fleet", **env) as (url, _):

                    def fleet_ready() -> bool:
                        body = httpx.get(f"{url}/api/fleet", timeout=10).json()
                        # Before the first refresh the answer says so (no totals yet).
                        totals = body.get("totals") if isinstance(body, dict) else None
                        return isinstance(totals, dict) and totals.get("hosts") == args.hosts

                    wait_for("first fleet refresh", fleet_ready)
                    info = {"url": url, "prometheus": prometheus, "hosts": args.hosts, "gpus": gpus}
                    print(json.dumps(info), flush=True)
                    sys.stdin.read()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0, help="CPU window per row")
    parser.add_argument("--refreshes", type=int, default=20, help="timed poller refreshes")
    parser.add_argument("--clients", default="0,10,100")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="only start the lab with a fleet server, print its URL as JSON, run until stdin "
        "closes (for frontend/e2e/fleet.bench.ts)",
    )
    parser.add_argument(
        "--static-dir", type=Path, default=ROOT / "frontend" / "dist", help="the page (--serve)"
    )
    args = parser.parse_args()
    counts = [int(c) for c in args.clients.split(",")]
    if not Path(PROMETHEUS).is_file():
        raise SystemExit(f"{PROMETHEUS} is missing: scripts/system-packages.sh prometheus")
    if args.serve:
        return serve(args)

    tmp = Path(tempfile.mkdtemp(prefix="gpulens-bench-fleet-"))
    me = [sys.executable, __file__]
    try:
        with child(
            [*me, "--exporter", str(args.hosts), str(args.gpus)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        ) as exporter:
            assert exporter.stdout is not None
            ports = json.loads(exporter.stdout.readline())
            config = prometheus_config(tmp, [f"{LOOPBACK}:{p}" for p in ports])
            prom_port = free_port()
            prometheus = f"http://{LOOPBACK}:{prom_port}"
            prom_log = (tmp / "prometheus.log").open("w")
            prom_args = [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp / 'data'}",
                f"--web.listen-address={LOOPBACK}:{prom_port}",
                "--log.level=warn",
            ]
            with child(prom_args, stdout=prom_log, stderr=prom_log):
                gpus = args.hosts * args.gpus
                print(f"waiting for Prometheus: {args.hosts} targets up, 3 scrapes of each")
                wait_for(
                    "targets up", lambda: prom_value(prometheus, "count(up == 1)") == args.hosts
                )
                full = f"count(count_over_time(DCGM_FI_DEV_GPU_UTIL[{STALE_S:g}s]) >= 3)"
                wait_for("three scrapes", lambda: prom_value(prometheus, full) == gpus)

                print(f"timing {args.refreshes} refreshes of gpulens' FleetPoller")
                rows = asyncio.run(time_refreshes(prometheus, args.refreshes))
                assert all(r["hosts"] == args.hosts and r["gpus"] == gpus for r in rows), rows

                print("server CPU: fleet mode on and off, side by side")
                results = measure_servers(tmp, prometheus, counts, args.seconds, me)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    report(args, rows, results)
    return 0


def measure_servers(
    tmp: Path, prometheus: str, counts: list[int], seconds: float, me: list[str]
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    on_env = {
        "FLEET_PROMETHEUS_URL": prometheus,
        "FLEET_REFRESH_S": f"{REFRESH_S:g}",
        "FLEET_STALE_S": f"{STALE_S:g}",
    }
    with (
        gpulens(tmp, "off", WS_MAX_CLIENTS="512") as (off_url, off_proc),
        gpulens(tmp, "on", WS_MAX_CLIENTS="512", **on_env) as (on_url, on_proc),
    ):
        wait_for("first fleet refresh", lambda: httpx.get(f"{on_url}/api/fleet").is_success)
        for count in counts:
            urls = [u.replace("http://", "ws://") + "/ws/gpu" for u in (off_url, on_url)]
            with child(
                [*me, "--clients-of", ",".join(urls), str(count)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            ) as clients:
                for url in (off_url, on_url):
                    wait_for(
                        f"{count} clients",
                        lambda u=url, n=count: httpx.get(f"{u}/api/health").json()["clients"] >= n,
                    )
                time.sleep(5)  # backfills sent, steady state
                before = {"off": cpu_s(off_proc), "on": cpu_s(on_proc)}
                start = time.monotonic()
                time.sleep(seconds)
                elapsed = time.monotonic() - start
                after = {"off": cpu_s(off_proc), "on": cpu_s(on_proc)}
                health = {
                    name: httpx.get(f"{u}/api/health").json()["clients"]
                    for name, u in (("off", off_url), ("on", on_url))
                }
                fleet = httpx.get(f"{on_url}/api/fleet", timeout=10).json()["status"]
                assert clients.stdin is not None
                assert clients.stdout is not None
                clients.stdin.close()
                stats = json.loads(clients.stdout.readline())
            results.append(
                {
                    "clients": count,
                    "off_pct": (after["off"] - before["off"]) / elapsed * 100,
                    "on_pct": (after["on"] - before["on"]) / elapsed * 100,
                    "still": health,
                    "fleet_status": fleet,
                    "clients_stats": {
                        name: stats[u] for name, u in zip(("off", "on"), urls, strict=True)
                    },
                }
            )
            print(f"  {count} clients: off {results[-1]['off_pct']:.1f} %, "
                  f"on {results[-1]['on_pct']:.1f} %")  # fmt: skip
    return results


def report(args: argparse.Namespace, rows: list[dict[str, float]], results: list[Any]) -> None:
    cpu = [r["cpu_ms"] for r in rows]
    wall = [r["wall_ms"] for r in rows]
    queries = [int(r["queries"]) for r in rows]
    frames = [r["frame"] for r in rows]
    print()
    print(f"## Fleet refresh: {args.hosts} hosts x {args.gpus} GPUs, "
          f"scrape {SCRAPE_S} s, refresh {REFRESH_S:g} s, FLEET_STALE_S {STALE_S:g}")  # fmt: skip
    print()
    print("| per refresh | median | p95 | max | goal |")
    print("|---|---|---|---|---|")
    print(f"| server CPU (poller thread), ms | {statistics.median(cpu):.1f} | "
          f"{pct(cpu, 0.95):.1f} | {max(cpu):.1f} | <= {GOAL_MS:g} |")  # fmt: skip
    print(f"| wall (status.durationMs, with Prometheus), ms | {statistics.median(wall):.1f} | "
          f"{pct(wall, 0.95):.1f} | {max(wall):.1f} | |")  # fmt: skip
    print(f"| PromQL queries | {statistics.median(queries):g} | {pct(queries, 0.95):g} | "
          f"{max(queries)} | <= {GOAL_QUERIES} |")  # fmt: skip
    print(f"| fleet frame, KiB | {statistics.median(frames) / 1024:.0f} | "
          f"{pct(frames, 0.95) / 1024:.0f} | {max(frames) / 1024:.0f} | |")  # fmt: skip
    print(f"\n{len(rows)} refreshes; with the sparklines' range query (3 queries): "
          f"{sum(q == 3 for q in queries)}")  # fmt: skip
    print()
    print(f"## Server CPU vs open pages ({args.seconds:g} s each, POLL_INTERVAL_MS=1000, replay)")
    print()
    print(
        "| clients | fleet off, % CPU | fleet on, % CPU | fleet's share | fleet frames per client "
        "| clients still connected (off/on) | on-server status.durationMs |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in results:
        on_stats = r["clients_stats"]["on"]
        per_client = on_stats["fleet"] / r["clients"] if r["clients"] else 0
        print(f"| {r['clients']} | {r['off_pct']:.1f} | {r['on_pct']:.1f} | "
              f"{r['on_pct'] - r['off_pct']:+.1f} | {per_client:.1f} | "
              f"{r['still']['off']}/{r['still']['on']} | {r['fleet_status']['durationMs']} |")  # fmt: skip
    print()
    print("fleet's share = CPU of the fleet-mode server minus the baseline's, same run.")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if len(sys.argv) == 4 and sys.argv[1] == "--exporter":
        sys.exit(exporter_main(int(sys.argv[2]), int(sys.argv[3])))
    if len(sys.argv) == 4 and sys.argv[1] == "--clients-of":
        sys.exit(asyncio.run(clients_main(sys.argv[2].split(","), int(sys.argv[3]))))
    sys.exit(main())
