"""Fan-out: gpulens serve vs a minimal websockets broadcast server, same bytes, same clients.

    .venv/bin/python bench/fanout.py [--clients 100,500,1000] [--seconds 10]

For each client count, in one run: start the server (replay, 8 GPUs with
processes, POLL_INTERVAL_MS=250), connect the clients from a separate
process, then measure over a window: delivery latency (the payload's
``timestamp`` → the moment a client has the message), server CPU per
second and RSS, messages delivered vs expected. The floor is a ~30-line
``websockets`` server that broadcasts the very same frames on the same
schedule without any of gpulens' per-client protection.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TypedDict

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TIMESTAMP = re.compile(rb'"timestamp":"([^"]+)"')


class ClientResult(TypedDict):
    """What the client process measured (printed as JSON, read back by run_one)."""

    connected: int
    received: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None


class RunResult(ClientResult):
    """One row of the table: the clients' result and the server's cost."""

    server: str
    clients: int
    cpu_per_s: float
    rss_mib: float
    expected: int


# --- the 8-GPU recording ------------------------------------------------------


def eight_gpu_recording(path: Path) -> Path:
    """The shipped demo widened to 8 GPUs (4 copies of its two), each with four processes."""
    sys.path.insert(0, str(ROOT / "src"))
    from gpulens.core.metrics import recording
    from gpulens.core.metrics.providers.replay import default_recording
    from gpulens.core.metrics.schema import ProcessInfo

    demo = recording.load(default_recording())
    frames = []
    for frame in demo.frames:
        gpus = []
        for copy in range(4):
            for gpu in frame.gpus:
                index = copy * 2 + gpu.id
                procs = [
                    ProcessInfo(pid=10_000 * (index + 1) + p, name=f"train_{p}.py", user="ml",
                                used_memory_mib=1024 * (p + 1), type="compute", sm_utilization=10 * p)
                    for p in range(4)
                ]  # fmt: skip
                gpus.append(
                    gpu.model_copy(
                        update={"id": index, "uuid": f"{gpu.uuid}-{copy}", "processes": procs}
                    )
                )
        frames.append((frame.t, gpus))
    recording.write(path, {"source": "nvml", "interval": 0.25}, frames)
    return path


# --- servers -----------------------------------------------------------------

FLOOR_SERVER = r"""
import asyncio, gzip, json, sys, time
from datetime import datetime, timezone
from websockets.asyncio.server import serve, broadcast

frames = [json.loads(l) for l in gzip.open(sys.argv[2], "rt").read().splitlines()[1:]]
bodies = [json.dumps({"gpus": f["gpus"]}, separators=(",", ":"))[1:-1] for f in frames]
clients = set()

async def handler(ws):
    clients.add(ws)
    try:
        await ws.wait_closed()
    finally:
        clients.discard(ws)

async def main():
    async with serve(handler, "127.0.0.1", int(sys.argv[1]), max_size=2**20, compression=None):
        start, seq = time.monotonic(), 0
        while True:
            now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            body = bodies[seq % len(bodies)]
            broadcast(clients, f'{{"type":"telemetry","seq":{seq},"timestamp":"{now}","source":"replay",{body}}}')
            seq += 1
            await asyncio.sleep(max(0.0, start + seq * 0.25 - time.monotonic()))

asyncio.run(main())
"""


def start_server(kind: str, recording: Path, port: int) -> subprocess.Popen[bytes]:
    if kind == "floor":
        argv = [sys.executable, "-c", FLOOR_SERVER, str(port), str(recording)]
        env = dict(os.environ)
    else:
        argv = [str(BIN / "gpulens"), "serve"]
        env = {
            **os.environ, "TELEMETRY_PROVIDER": "replay", "REPLAY_FILE": str(recording),
            "POLL_INTERVAL_MS": "250", "PORT": str(port), "WS_MAX_CLIENTS": "5000",
            "WS_BACKLOG": "10", "LOG_LEVEL": "WARNING",
        }  # fmt: skip
        # "gpulens": no history; "gpulens+history": every sample written to a store of
        # its own (a HISTORY_PATH, so the replay's 24 h prefill does not run).
        if kind == "gpulens+history":
            env["HISTORY_PATH"] = str(recording.parent / f"history-{port}.db")
        else:
            env["HISTORY"] = "off"
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with httpx.Client() as client:
                client.get(f"http://127.0.0.1:{port}/", timeout=0.5)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{kind} server did not start")


# --- clients (run in their own process) --------------------------------------


async def client_main(port: int, count: int, warmup: float, seconds: float) -> ClientResult:
    from datetime import datetime

    from websockets.asyncio.client import connect

    latencies: list[float] = []
    received = [0]
    window = [0.0, 0.0]

    async def one() -> None:
        async with connect(
            f"ws://127.0.0.1:{port}/ws/gpu", max_size=2**24, open_timeout=120, max_queue=64
        ) as ws:
            while True:
                data = await ws.recv(decode=False)
                now = time.time()
                if not (window[0] <= now < window[1]):
                    continue
                match = TIMESTAMP.search(data, 0, 200)
                if match is None or b'"type":"telemetry"' not in data[:40]:
                    continue
                sent = datetime.fromisoformat(match.group(1).decode().replace("Z", "+00:00"))
                latencies.append(now - sent.timestamp())
                received[0] += 1

    window[:] = [float("inf"), float("inf")]
    tasks = []
    for i in range(count):
        tasks.append(asyncio.create_task(one()))
        if i % 50 == 49:
            await asyncio.sleep(0.05)  # do not stampede the accept queue
    await asyncio.sleep(warmup)
    start = time.time()
    window[:] = [start, start + seconds]
    await asyncio.sleep(seconds + 0.5)
    connected = sum(1 for t in tasks if not t.done())
    for t in tasks:
        t.cancel()
    latencies.sort()
    return {
        "connected": connected,
        "received": received[0],
        "p50_ms": statistics.median(latencies) * 1000 if latencies else None,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else None,
        "max_ms": latencies[-1] * 1000 if latencies else None,
    }


def run_one(kind: str, recording: Path, clients: int, seconds: float) -> RunResult:
    port = free_port()
    server = start_server(kind, recording, port)
    try:
        warmup = 3.0 + clients / 200
        client = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--client",
                str(port),
                str(clients),
                str(warmup),
                str(seconds),
            ],
            stdout=subprocess.PIPE,
        )
        proc = psutil.Process(server.pid)
        time.sleep(warmup)
        cpu0, t0 = proc.cpu_times(), time.monotonic()
        time.sleep(seconds)
        cpu1, t1 = proc.cpu_times(), time.monotonic()
        rss = proc.memory_info().rss
        out, _ = client.communicate(timeout=120)
        measured: ClientResult = json.loads(out)
        busy = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / (t1 - t0)
        return {
            **measured,
            "server": kind,
            "clients": clients,
            "cpu_per_s": busy,
            "rss_mib": rss / 2**20,
            "expected": int(clients * seconds * 4),
        }
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", default="100,500,1000")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--client", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument(
        "--kinds", default="gpulens,gpulens+history,floor",
        help="servers to compare: gpulens (HISTORY=off), gpulens+history, floor",
    )  # fmt: skip
    args = parser.parse_args()
    if args.client:
        port, count, warmup, seconds = args.client
        result = asyncio.run(client_main(int(port), int(count), float(warmup), float(seconds)))
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as tmp:
        recording = eight_gpu_recording(Path(tmp) / "eight.jsonl.gz")
        frame_bytes = len(json.dumps(json.loads(
            __import__("gzip").open(recording, "rt").read().splitlines()[1]
        )))  # fmt: skip
        print(f"# fan-out: 8 GPUs × 4 processes (~{frame_bytes / 1024:.1f} KiB a frame), 250 ms, "
              f"{os.cpu_count()} CPUs")  # fmt: skip
        print(f"command: .venv/bin/python bench/fanout.py --clients {args.clients} "
              f"--seconds {args.seconds:g} --kinds {args.kinds}")  # fmt: skip
        print("| server | clients | connected | delivered | p50 ms | p99 ms | max ms "
              "| server CPU (cores) | RSS MiB |")  # fmt: skip
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for clients in (int(c) for c in args.clients.split(",")):
            for kind in args.kinds.split(","):
                r = run_one(kind, recording, clients, args.seconds)
                delivered = f"{int(r['received']) / max(int(r['expected']), 1):.0%}"
                print(
                    f"| {kind} | {clients} | {r['connected']} | {delivered} | {fmt(r['p50_ms'])} "
                    f"| {fmt(r['p99_ms'])} | {fmt(r['max_ms'])} | {float(r['cpu_per_s']):.2f} "
                    f"| {float(r['rss_mib']):.0f} |",
                    flush=True,
                )


def fmt(value: float | None) -> str:
    return "–" if value is None else f"{float(value):.1f}"


if __name__ == "__main__":
    main()
