"""The page under load: 8 GPUs at 4 updates/s for 30 s in headless Chromium, against a blank page.

    .venv/bin/python bench/page.py [--seconds 30]      (needs frontend/dist: make build)

Chromium is driven over the DevTools protocol. Measured, for the dashboard
and for a blank page in the same run:

* main-thread busy: ΔTaskDuration / Δwall (Performance.getMetrics) between
  5 s and the end, and the part of it spent running JavaScript (ΔScriptDuration);
* frames per second (requestAnimationFrame callbacks);
* long tasks (> 50 ms, PerformanceObserver) after the first GPU numbers;
* JS heap after 5 s and at the end, each after a forced garbage collection;
* time from navigation start to the first GPU card showing a number;
* bytes transferred for the first load (Resource Timing ``transferSize`` of the
  page and everything it loaded, headers included, a cold cache), of which
  JavaScript, and the Content-Encoding the entry script came with.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import free_port, gpulens_server
from fanout import eight_gpu_recording

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "frontend" / "dist"
BLANK = "data:text/html,<!doctype html><title>blank</title><body style='background:%23070a14'>"

PROBE = """
(() => {
  window.__frames = 0; window.__long = []; window.__first = null;
  const tick = () => { window.__frames++; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__long.push([e.startTime, e.duration]);
    }).observe({ type: 'longtask', buffered: true });
  } catch (e) {}
  const check = () => {
    if (window.__first !== null) return;
    const card = document.querySelector('[data-testid="gpu-card"]');
    if (card && /\\d/.test(card.textContent || '')) window.__first = performance.now();
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true, characterData: true });
})();
"""


class Cdp:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    async def call(self, method: str, session: str | None = None, **params: Any) -> Any:
        msg_id = next(self.ids)
        message: dict[str, Any] = {"id": msg_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        await self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(await self.ws.recv())
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("chromium not found: scripts/system-packages.sh chromium")


LOADED = """
(async () => {
  const all = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
  const js = all.filter((e) => /\\.m?js(\\?|$)/.test(e.name));
  const sum = (list, key) => list.reduce((total, e) => total + (e[key] || 0), 0);
  const entry = document.querySelector('script[type="module"][src]');
  let encoding = null;
  if (entry) {
    const response = await fetch(entry.src, { cache: 'no-store' });
    encoding = response.headers.get('content-encoding') || 'identity';
  }
  return { transfer: sum(all, 'transferSize'), js_transfer: sum(js, 'transferSize'),
           js_decoded: sum(js, 'decodedBodySize'), encoding };
})()
"""


async def measure(cdp: Cdp, url: str, seconds: float, throttle: float = 1.0) -> dict[str, Any]:
    target = await cdp.call("Target.createTarget", url="about:blank")
    session = (await cdp.call("Target.attachToTarget", targetId=target["targetId"], flatten=True))[
        "sessionId"
    ]
    for domain in ("Page", "Runtime", "Performance", "HeapProfiler"):
        await cdp.call(f"{domain}.enable", session)
    await cdp.call("Emulation.setDeviceMetricsOverride", session, width=1440, height=900,
                   deviceScaleFactor=1, mobile=False)  # fmt: skip
    # Phones and old laptops: DevTools' CPU slowdown (4 = four times slower).
    await cdp.call("Emulation.setCPUThrottlingRate", session, rate=throttle)
    await cdp.call("Page.addScriptToEvaluateOnNewDocument", session, source=PROBE)
    await cdp.call("Page.navigate", session, url=url)

    async def evaluate(expr: str) -> Any:
        result = await cdp.call(
            "Runtime.evaluate", session, expression=expr, returnByValue=True, awaitPromise=True
        )
        return result["result"].get("value")

    async def metrics() -> dict[str, float]:
        got = await cdp.call("Performance.getMetrics", session)
        return {m["name"]: m["value"] for m in got["metrics"]}

    async def live_heap() -> float:
        """JS heap after a full collection: what the page really holds, not GC timing."""
        await cdp.call("HeapProfiler.collectGarbage", session)
        return (await metrics())["JSHeapUsedSize"]

    await asyncio.sleep(5)
    m0, f0, t0 = await metrics(), await evaluate("window.__frames"), time.monotonic()
    heap0 = await live_heap()
    await asyncio.sleep(seconds - 5)
    m1, f1, t1 = await metrics(), await evaluate("window.__frames"), time.monotonic()
    heap1 = await live_heap()
    first = await evaluate("window.__first")
    scripts_done = await evaluate(
        "(performance.getEntriesByType('navigation')[0] || {}).domContentLoadedEventEnd || null"
    )
    long_tasks = await evaluate("window.__long") or []
    after = [d for s, d in long_tasks if first is not None and s > first]
    loaded = await evaluate(LOADED)
    await cdp.call("Target.closeTarget", targetId=target["targetId"])
    return {
        "busy": (m1["TaskDuration"] - m0["TaskDuration"]) / (t1 - t0),
        "script": (m1["ScriptDuration"] - m0["ScriptDuration"]) / (t1 - t0),
        "fps": (f1 - f0) / (t1 - t0),
        "long_after_first": len(after),
        "longest_after_first_ms": max(after) if after else 0.0,
        "heap5_mib": heap0 / 2**20,
        "heap_end_mib": heap1 / 2**20,
        "first_numbers_ms": first,
        "dom_content_loaded_ms": scripts_done,
        "transfer_kb": loaded["transfer"] / 1024,
        "js_transfer_kb": loaded["js_transfer"] / 1024,
        "js_decoded_kb": loaded["js_decoded"] / 1024,
        "encoding": loaded["encoding"],
    }


async def run(port: int, seconds: float, throttle: float) -> dict[str, dict[str, Any]]:
    debug_port = free_port()
    with tempfile.TemporaryDirectory() as profile:
        browser = subprocess.Popen(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--no-first-run",
             "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
             f"--user-data-dir={profile}", f"--remote-debugging-port={debug_port}",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            for _ in range(100):
                try:
                    version = httpx.get(f"http://127.0.0.1:{debug_port}/json/version").json()
                    break
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
            async with connect(version["webSocketDebuggerUrl"], max_size=2**26) as ws:
                cdp = Cdp(ws)
                blank = await measure(cdp, BLANK, seconds, throttle)
                page = await measure(cdp, f"http://127.0.0.1:{port}/", seconds, throttle)
        finally:
            browser.terminate()
            browser.wait(10)
    return {"blank": blank, "dashboard": page}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--cpu-throttle", type=float, default=1.0, help="CPU slowdown, e.g. 4")
    parser.add_argument(
        "--dist", type=Path, default=DIST, help="the built dashboard (another build: a baseline)"
    )
    args = parser.parse_args()
    dist: Path = args.dist.resolve()
    if not (dist / "index.html").is_file():
        raise SystemExit(f"{dist} has no index.html: run `make build` first")
    with tempfile.TemporaryDirectory() as tmp:
        recording = eight_gpu_recording(Path(tmp) / "eight.jsonl.gz")
        with gpulens_server(REPLAY_FILE=str(recording), STATIC_DIR=str(dist)) as (port, _):
            results = asyncio.run(run(port, args.seconds, args.cpu_throttle))
    print(f"# page: 8 GPUs, 4 updates/s, {args.seconds:g} s, headless Chromium 1440×900, "
          f"{os.cpu_count()} CPUs, CPU throttle {args.cpu_throttle:g}×")  # fmt: skip
    extra = "" if dist == DIST.resolve() else f" --dist {args.dist}"
    print(f"command: .venv/bin/python bench/page.py --seconds {args.seconds:g} "
          f"--cpu-throttle {args.cpu_throttle:g}{extra}")  # fmt: skip
    print("| page | main thread busy (of which script) | fps "
          "| long tasks after first numbers (longest ms) | JS heap 5 s → end MiB "
          "| DOMContentLoaded ms | first GPU numbers ms "
          "| first load transferred KB (of which JS; JS decoded) | entry script encoding |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, r in results.items():
        first = "–" if r["first_numbers_ms"] is None else f"{r['first_numbers_ms']:.0f}"
        dcl = "–" if not r["dom_content_loaded_ms"] else f"{r['dom_content_loaded_ms']:.0f}"
        print(
            f"| {name} | {r['busy']:.1%} ({r['script']:.1%}) | {r['fps']:.0f} "
            f"| {r['long_after_first']} ({r['longest_after_first_ms']:.0f}) "
            f"| {r['heap5_mib']:.1f} → {r['heap_end_mib']:.1f} "
            f"| {dcl} | {first} | {r['transfer_kb']:.1f} ({r['js_transfer_kb']:.1f}; "
            f"{r['js_decoded_kb']:.1f}) | {r['encoding'] or '–'} |"
        )


if __name__ == "__main__":
    main()
