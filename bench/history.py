"""History store costs: writing, bytes on disk, and queries over a 90-day store.

    .venv/bin/python bench/history.py                   # all three, 8 GPUs
    .venv/bin/python bench/history.py --part write      # or size, query
    .venv/bin/python bench/history.py --seed DIR --days 7 --gap-hours 5

* write: CPU time (process time, not wall) per 1 Hz sample for N GPUs through the
  real recorder (queue, buckets, a commit every 5 s, maintenance every 60 s),
  samples built beforehand. Baseline in the same run: serialising the same
  sample to JSON once, which the stream does for every sample anyway.
* size: two simulated days of 2 GPUs through the real recorder; bytes per
  reading and per GPU-day for each tier, and the default retention's total
  for 2 and 8 GPUs (per-day figures times each tier's days).
* query: a 90-day store for N GPUs, seeded block by block (the raw tier for
  its 14 days, every bucket tier for its whole retention, shaped like the
  synthetic jobs), then /api/history's query for 1 h ... 90 d over all
  GPUs, all metrics and the page's six: server time, median of 5. Baseline in the same run:
  reading the same blocks from SQLite without decoding them.
* --seed DIR: a store in DIR/history.db for the browser tests and the demo:
  DAYS days up to now for the replay demo's two GPUs (same UUIDs), with a gap
  of GAP-HOURS hours (the service "stopped") two days ago, and what happened on
  them: the synthetic jobs' processes (users, sessions) through the real usage
  accounting, their findings through the real detector, and one XID error a day
  ago (so the Usage view, the Events view and the chart markers have their data).
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from gpulens.core.metrics.providers.base import XidEvent  # noqa: E402
from gpulens.core.metrics.providers.replay import ReplayProvider  # noqa: E402
from gpulens.core.metrics.schema import GpuInfo, Telemetry  # noqa: E402
from gpulens.services.accounting import UsageTracker  # noqa: E402
from gpulens.services.findings.detector import FindingsDetector, Thresholds  # noqa: E402
from gpulens.services.findings.model import Event  # noqa: E402
from gpulens.services.history import codec, events, query, store, usage  # noqa: E402
from gpulens.services.history.metrics import GPU_METRICS, HOST_KEY  # noqa: E402
from gpulens.services.history.recorder import HistoryRecorder  # noqa: E402
from gpulens.services.history.store import DAY, TIERS, BlockRow  # noqa: E402
from gpulens.services.messages import ProviderStatus  # noqa: E402
from gpulens.services.sampler import Sample  # noqa: E402
from gpulens.testing.history import samples  # noqa: E402


def recorder_for(path: Path, clock: list[float]) -> HistoryRecorder:
    rec = HistoryRecorder(
        path, max_bytes=1 << 40, clock=lambda: clock[0], monotonic=lambda: clock[0]
    )
    rec._open()
    return rec


def write_cost(gpus: int, seconds: int) -> dict[str, float]:
    start = time.time() - seconds
    built = list(samples(gpus, start, seconds, 1.0))
    clock = [start]
    with tempfile.TemporaryDirectory() as tmp:
        rec = recorder_for(Path(tmp) / "history.db", clock)
        t0 = time.process_time()
        for when, gpu_list, system in built:
            clock[0] = when
            rec.record(when, gpu_list, system)
            rec.step()  # drains, commits every 5 s, maintains every 60 s (by the fake clock)
        rec._flush()
        cost = time.process_time() - t0
        commits = rec.stats.commits
    payloads = [
        Telemetry(
            seq=0, timestamp=datetime.fromtimestamp(when, UTC), source="bench", gpus=g, system=s
        )
        for when, g, s in built[:600]
    ]
    t0 = time.process_time()
    for payload in payloads:
        payload.model_dump_json(by_alias=True)
    baseline = (time.process_time() - t0) / len(payloads)
    return {
        "gpus": gpus,
        "samples": len(built),
        "commits": commits,
        "ms_per_sample": round(cost / len(built) * 1000, 4),
        "baseline_json_ms_per_sample": round(baseline * 1000, 4),
    }


def size(days: float) -> dict[str, object]:
    seconds = int(days * DAY)
    start = time.time() - seconds
    clock = [start]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.db"
        rec = recorder_for(path, clock)
        for when, gpu_list, system in samples(2, start, seconds, 1.0):
            clock[0] = when
            rec.record(when, gpu_list, system)
            rec.step()
        rec._flush()
        conn = rec._conn
        assert conn is not None
        gpu_ids = [sid for key, sid in store.series_ids(conn).items() if key != HOST_KEY]
        marks = ",".join("?" * len(gpu_ids))
        tiers: dict[str, dict[str, float]] = {}
        total_2 = total_8 = 0.0
        for tier in TIERS:
            blob, entries = conn.execute(
                f"SELECT sum(length(data)), sum(entries) FROM blocks WHERE tier = ?"
                f" AND series IN ({marks})",
                (tier.id, *gpu_ids),
            ).fetchone()
            per_gpu_day = blob / len(gpu_ids) / days
            readings = entries * (len(GPU_METRICS) if tier.raw else 4 * len(GPU_METRICS))
            kept_days = tier.keep / DAY
            tiers[tier.name] = {
                "bytes_per_reading": round(blob / readings, 3),
                "kib_per_gpu_day": round(per_gpu_day / 1024, 1),
                "kept_days": kept_days,
                "mib_per_gpu_kept": round(per_gpu_day * kept_days / 2**20, 2),
            }
            total_2 += per_gpu_day * kept_days * 2
            total_8 += per_gpu_day * kept_days * 8
        file_bytes = path.stat().st_size
        used = store.used_bytes(conn)
    return {
        "simulated_days": days,
        "tiers": tiers,
        "file_mib_for_2_gpus_simulated": round(file_bytes / 2**20, 2),
        "used_mib": round(used / 2**20, 2),
        "retention_mib_2_gpus": round(total_2 / 2**20, 1),
        "retention_mib_8_gpus": round(total_8 / 2**20, 1),
        "note": "retention totals: block bytes per GPU-day x each tier's days (SQLite pages add a few %)",
    }


# --- seeding a long store fast: whole blocks, not samples -----------------------------


def _bucket_row(rng: random.Random, busy: bool, count: int) -> list[int | None]:
    """count/min/max/sum per GPU metric for one bucket of ``count`` 1 Hz samples."""
    row: list[int | None] = []
    for metric in GPU_METRICS:
        if metric.name == "fanSpeed":  # passive cooling: no reading
            row += [0, None, None, None]
            continue
        lo, hi, mean = _reading_range(metric.name, busy, rng)
        s = metric.scale
        row += [count, round(lo * s), round(hi * s), round(mean * s * count)]
    return row


def _reading_range(name: str, busy: bool, rng: random.Random) -> tuple[float, float, float]:
    table = {
        "utilization": ((78, 100, 93) if busy else (0, rng.choice((0, 0, 0, 5)), 0.1)),
        "memoryUsed": ((62_000, 78_000, 70_000) if busy else (4, 4, 4)),
        "memoryTotal": ((81_559, 81_559, 81_559)),
        "temperature": ((68, 74, 71) if busy else (31, 33, 32)),
        "powerUsage": ((520, 690, 610) if busy else (68, 76, 72)),
        "powerLimit": ((700, 700, 700)),
        "smClock": ((1980, 1980, 1980) if busy else (345, 345, 345)),
        "memoryClock": ((2619, 2619, 2619) if busy else (1593, 1593, 1593)),
        "encoderUtilization": ((0, 0, 0)),
        "decoderUtilization": ((0, 0, 0)),
        "memoryUtilization": ((30, 45, 42) if busy else (0, 0, 0)),
    }
    lo, hi, mean = table[name]
    jitter = rng.uniform(-1, 1) if busy else 0
    return lo, hi, mean + jitter


_POOL: dict[bool, list[list[int | None]]] = {}


def _raw_rows(rng: random.Random, busy: bool, n: int) -> list[list[int | None]]:
    """``n`` raw rows, drawn from a pool of 3600 made once per state (seeding weeks of
    per-second rows one random reading at a time would take most of an hour)."""
    pool = _POOL.get(busy)
    if pool is None:
        pool = _POOL[busy] = _make_rows(rng, busy, 3600)
    at = rng.randrange(0, len(pool) - n)
    return pool[at : at + n]


def _make_rows(rng: random.Random, busy: bool, n: int) -> list[list[int | None]]:
    rows: list[list[int | None]] = []
    for _ in range(n):
        row: list[int | None] = []
        for metric in GPU_METRICS:
            if metric.name == "fanSpeed":
                row.append(None)
                continue
            lo, hi, _mean = _reading_range(metric.name, busy, rng)
            row.append(round(rng.uniform(lo, hi) * metric.scale))
        rows.append(row)
    return rows


ACTIVITY_STEP_S = 60.0  # one synthetic sample a minute for the seeded accounting and findings


def seed_activity(
    conn: sqlite3.Connection,
    keys: list[tuple[str, str]],
    start: float,
    now: float,
    gap: tuple[float, float] | None,
) -> list[tuple[list[float], list[bool]]]:
    """The synthetic jobs of ``keys``' GPUs from ``start`` to ``now``, through the real
    accounting and findings detector into ``conn``; returns each GPU's busy timeline
    (switch times, states) so the charts' blocks agree with the usage and events."""
    tracker = UsageTracker(max_gap_s=3 * ACTIVITY_STEP_S)
    detector = FindingsDetector(
        Thresholds(poll_interval_s=ACTIVITY_STEP_S), pid_exists=lambda pid: True, host_pids=True
    )
    status = ProviderStatus(state="ok", provider="nvml")
    xid_at = now - DAY
    timelines: list[tuple[list[float], list[bool]]] = [([], []) for _ in keys]
    found: list[Event] = []
    xid_sent = False
    for when, gpus, system in samples(len(keys), start, now - start, ACTIVITY_STEP_S):
        named: list[GpuInfo] = []
        for g, gpu in enumerate(gpus):
            busy = (gpu.utilization or 0) >= 50
            starts, states = timelines[g]
            if not states or states[-1] != busy:
                starts.append(when)
                states.append(busy)
            named.append(gpu.model_copy(update={"uuid": keys[g][0], "name": keys[g][1]}))
        if gap and gap[0] <= when < gap[1]:
            continue
        xid: tuple[XidEvent, ...] = ()
        if not xid_sent and when >= xid_at and len(keys) > 1:
            xid, xid_sent = (XidEvent(keys[1][0], 13, when),), True
        stamp = datetime.fromtimestamp(when, UTC)
        payload = Telemetry(seq=0, timestamp=stamp, source="nvml", gpus=named, system=system)
        found.extend(detector.step(Sample(payload, status, 0.0, xid), (), False).events)
        tracker.add(when, named)
        if len(found) > 500:
            events.write(conn, found)
            found = []
    events.write(conn, found)
    usage.write(conn, tracker.take())
    conn.commit()
    return timelines


def seed(
    path: Path,
    gpus: int,
    days: float,
    gap: tuple[float, float] | None = None,
    names: list[tuple[str, str]] | None = None,
    *,
    activity: bool = False,
) -> int:
    """A store with ``days`` of ``gpus`` synthetic GPUs up to now (keyed and named by
    ``names``' (key, name) when given); returns blocks written. With ``activity``, also
    their processes' usage and their findings (``seed_activity``), which then set
    when each GPU is busy."""
    now = time.time()
    start = now - days * DAY
    rng = random.Random(11)
    conn = store.open_store(path)
    written = 0
    keys = names or [
        (f"GPU-5e7d0000-0000-4000-8000-{g:012d}", "NVIDIA H100 80GB HBM3") for g in range(gpus)
    ]
    timelines = seed_activity(conn, keys, start, now, gap) if activity else None
    for g in range(gpus):
        key, name = (
            names[g]
            if names
            else (f"GPU-5e7d0000-0000-4000-8000-{g:012d}", "NVIDIA H100 80GB HBM3")
        )
        sid = store.add_series(conn, key, name, g, start)
        # busy/idle timeline: switch every 1-9 h (busy) or 0.2-5 h (idle)
        switches: list[tuple[float, bool]] = []
        t, busy = start, rng.random() < 0.5
        while t < now:
            switches.append((t, busy))
            t += (rng.uniform(1, 9) if busy else rng.uniform(0.2, 5)) * 3600
            busy = not busy

        starts = [at for at, _ in switches]
        states = [state for _, state in switches]
        if timelines is not None:
            starts, states = timelines[g]

        def busy_at(when: float, starts: list[float] = starts, states: list[bool] = states) -> bool:
            return states[max(0, bisect.bisect_right(starts, when) - 1)]

        rows: list[BlockRow] = []
        for tier in TIERS:
            kept_from = max(start, now - tier.keep)
            block = int(kept_from // tier.block) * tier.block
            while block < now:
                step = tier.resolution or 1
                first = max(block, int(kept_from))
                t0 = first - (first - block) % step
                moments = [
                    when
                    for when in range(t0, min(block + tier.block, int(now)), step)
                    if not (gap and gap[0] <= when < gap[1])
                ]
                if tier.raw and moments:
                    entries = _raw_rows(rng, busy_at(moments[0]), len(moments))
                else:
                    entries = [_bucket_row(rng, busy_at(when), step) for when in moments]
                stamps = [(when - block) * 1000 for when in moments]
                if stamps:
                    columns = [[e[c] for e in entries] for c in range(len(entries[0]))]
                    data = codec.encode(stamps, columns)
                    stop = block + stamps[-1] // 1000 + (tier.resolution or 1)
                    rows.append(BlockRow(sid, tier.id, block, stop, len(stamps), data))
                block += tier.block
                if len(rows) >= 500:
                    store.put_blocks(conn, rows)
                    written += len(rows)
                    rows = []
        store.put_blocks(conn, rows)
        written += len(rows)
    store.add_series(conn, HOST_KEY, None, None, start)
    conn.close()
    return written


# What the page's history charts ask for: the four charts and the two limits they scale by.
PAGE = ["utilization", "memoryUsed", "memoryTotal", "temperature", "powerUsage", "powerLimit"]


def query_cost(gpus: int, days: float) -> dict[str, object]:
    out: dict[str, object] = {"gpus": gpus, "store_days": days}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.db"
        t0 = time.perf_counter()
        blocks = seed(path, gpus, days)
        out["seed_s"] = round(time.perf_counter() - t0, 1)
        out["blocks"] = blocks
        out["file_mib"] = round(path.stat().st_size / 2**20, 1)
        now = time.time()
        ranges = {"1h": 3600, "6h": 6 * 3600, "24h": DAY, "7d": 7 * DAY, "30d": 30 * DAY,
                  "90d": 90 * DAY}  # fmt: skip
        results: dict[str, dict[str, float | str | int]] = {}
        for name, span in ranges.items():
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                result = query.run(path, start=now - span, stop=now, step=None, now=now)
                times.append(time.perf_counter() - t0)
            page = []
            for _ in range(5):
                t0 = time.perf_counter()
                query.run(path, start=now - span, stop=now, step=None, now=now, metrics=PAGE)
                page.append(time.perf_counter() - t0)
            plan = query.plan(now - span, now, None, now)
            conn = store.connect(path, readonly=True)
            base = []
            for _ in range(5):
                t0 = time.perf_counter()
                for info in store.all_series(conn):
                    for _row in store.blocks_between(conn, info.id, plan.tier, plan.start, now):
                        pass
                base.append(time.perf_counter() - t0)
            conn.close()
            body = json.dumps([s.values for s in result.series], separators=(",", ":"))
            results[name] = {
                "tier": plan.tier.name,
                "step_s": plan.step,
                "points": plan.points,
                "ms_median": round(statistics.median(times) * 1000, 1),
                "ms_median_page_metrics": round(statistics.median(page) * 1000, 1),
                "baseline_read_blocks_ms": round(statistics.median(base) * 1000, 1),
                "json_kib": round(len(body) / 1024),
            }
        out["ranges"] = results
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("write", "size", "query", "all"), default="all")
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--write-seconds", type=int, default=1800)
    parser.add_argument("--size-days", type=float, default=2.0)
    parser.add_argument("--query-days", type=float, default=90.0)
    parser.add_argument("--seed", type=Path, help="write a store in DIR/history.db and stop")
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--gap-hours", type=float, default=5.0)
    args = parser.parse_args()
    if args.seed:
        args.seed.mkdir(parents=True, exist_ok=True)
        now = time.time()
        gap = (now - 2 * DAY, now - 2 * DAY + args.gap_hours * 3600) if args.gap_hours else None
        # The demo's GPUs (TELEMETRY_PROVIDER=replay), so the live cards and their past match.
        demo = ReplayProvider().frame_at(0)
        names = [(gpu.key, gpu.name) for gpu in demo]
        n = seed(args.seed / "history.db", len(names), args.days, gap, names, activity=True)
        print(json.dumps({"path": str(args.seed / "history.db"), "blocks": n, "gap": gap}))
        return
    report: dict[str, object] = {}
    if args.part in ("write", "all"):
        report["write"] = write_cost(args.gpus, args.write_seconds)
    if args.part in ("size", "all"):
        report["size"] = size(args.size_days)
    if args.part in ("query", "all"):
        report["query"] = query_cost(args.gpus, args.query_days)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
