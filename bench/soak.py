"""Soak: 200 clients connecting and leaving for 10 minutes; RSS, open fds, threads and tasks stay flat.

    .venv/bin/python bench/soak.py [--minutes 10] [--clients 200]

The server is a real ``gpulens serve`` (replay, 250 ms). Every client stays
0.5-5 s, leaves (half politely, half by dropping the TCP connection), and
comes back. Every 30 s the server's RSS, open file descriptors, threads and
asyncio tasks (``gpulens_event_loop_tasks`` on /metrics) are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import sys
import time
from pathlib import Path

import httpx
import psutil
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import gpulens_server


async def churn(port: int, stop: float, counts: list[int]) -> None:
    while time.monotonic() < stop:
        try:
            async with connect(f"ws://127.0.0.1:{port}/ws/gpu", max_size=2**22) as ws:
                end = time.monotonic() + random.uniform(0.5, 5.0)
                while time.monotonic() < end:
                    await asyncio.wait_for(ws.recv(), 10)
                    counts[0] += 1
                if random.random() < 0.5:
                    ws.transport.abort()  # vanish without a close handshake
        except Exception:
            counts[1] += 1
            await asyncio.sleep(0.5)


def metric(text: str, name: str) -> float | None:
    match = re.search(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+-]+)$", text, re.M)
    return float(match.group(1)) if match else None


async def soak(port: int, proc: psutil.Process, minutes: float, clients: int) -> list[str]:
    stop = time.monotonic() + minutes * 60
    counts = [0, 0]
    tasks = [asyncio.create_task(churn(port, stop, counts)) for _ in range(clients)]
    rows = []
    start = time.monotonic()
    async with httpx.AsyncClient() as http:
        while time.monotonic() < stop:
            await asyncio.sleep(min(30, max(0.0, stop - time.monotonic())))
            text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
            health = (await http.get(f"http://127.0.0.1:{port}/api/health")).json()
            rows.append(
                f"| {time.monotonic() - start:4.0f} | {proc.memory_info().rss / 2**20:.1f} "
                f"| {proc.num_fds()} | {proc.num_threads()} "
                f"| {metric(text, 'gpulens_event_loop_tasks')} | {health['clients']} "
                f"| {counts[0]} | {counts[1]} |"
            )
            print(rows[-1], flush=True)
    await asyncio.gather(*tasks, return_exceptions=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--clients", type=int, default=200)
    args = parser.parse_args()
    with gpulens_server(WS_MAX_CLIENTS="1000") as (port, server):
        print(
            f"# soak: {args.clients} clients churning for {args.minutes:g} min, {os.cpu_count()} CPUs"
        )
        print(
            f"command: .venv/bin/python bench/soak.py --minutes {args.minutes:g} --clients {args.clients}"
        )
        print(
            "| t s | RSS MiB | fds | threads | loop tasks | clients | msgs recv | reconnects after errors |"
        )
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        asyncio.run(soak(port, psutil.Process(server.pid), args.minutes, args.clients))


if __name__ == "__main__":
    main()
