"""Accounting costs: the tracker per sample, writing a flush, and /api/usage's query.

    .venv/bin/python bench/usage.py                 # all parts
    .venv/bin/python bench/usage.py --part query    # or tracker, write

* tracker: CPU time (process time) of ``UsageTracker.add`` per sample for 8 GPUs with 64
  processes each, steady (the same processes from sample to sample, memory moving now and
  then), in three shapes of source: no per-process SM % (nvidia-smi, replay), NVML's usual
  mix (half the processes with an SM %), and all with one; and ``take`` per flush: after
  those 400 samples (4 per second) and, at the writer's cadence, after 30 samples at 1 Hz
  (median of 20 hand-overs), with add + take/30 per sample.
  Baseline in the same run: only reading pid, start time, memory and SM % of every process.
* write: ``usage.write`` of one flush for those 512 sessions (one hour each), in one
  transaction, commit included.
* query: a store seeded with 30 days x 500 sessions, each with a row for every hour
  (360 000 usage rows: the worst case), then ``usage.query`` for each ``by`` over the
  30 days and, as the baseline, over 1 day: median of 5, and the query plan.
* --seed DIR [--days 30 --sessions 500]: a store in DIR/history.db for the browser
  bench (frontend/e2e/usage.bench.ts): DAYS days up to now of SESSIONS process
  sessions on the replay demo's GPUs (same UUIDs), spread like a shared lab's
  (10 users, a dozen process names, containers or none, 1 hour to 3 days each).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from gpulens.core.metrics.schema import GpuInfo, ProcessInfo  # noqa: E402
from gpulens.services.accounting import HOUR, UsageTracker  # noqa: E402
from gpulens.services.history import store, usage  # noqa: E402

T0 = 1_800_000_000.0
GPUS, PROCS = 8, 64


def samples(mode: str, count: int, rng: random.Random) -> list[list[GpuInfo]]:
    mem = {(g, k): rng.randint(100, 20_000) for g in range(GPUS) for k in range(PROCS)}
    out = []
    for _ in range(count):
        gpus = []
        for g in range(GPUS):
            procs = []
            for k in range(PROCS):
                if rng.random() < 0.002:  # memory moves now and then
                    mem[(g, k)] += rng.randint(-50, 50) if mem[(g, k)] > 100 else 64
                sm = None
                if mode == "all" or (mode == "mixed" and k % 2):
                    sm = rng.randint(0, 100 // PROCS * 2)
                procs.append(
                    ProcessInfo(
                        pid=1000 + g * 100 + k,
                        name="python3",
                        user=f"u{k % 7}",
                        used_memory_mib=mem[(g, k)],
                        sm_utilization=sm,
                        start_time=T0 - 1000 + k,
                    )
                )
            gpus.append(GpuInfo(id=g, name="NVIDIA H200", uuid=f"GPU-{g}",
                                utilization=rng.randint(0, 100), processes=procs))  # fmt: skip
        out.append(gpus)
    return out


def bench_tracker() -> None:
    rng = random.Random(1)
    print(f"tracker: {GPUS} GPUs x {PROCS} processes, CPU ms per sample (median of 5 x 400)")
    for mode in ("none", "mixed", "all"):
        data = samples(mode, 400, rng)
        runs, takes, takes30 = [], [], []
        for _ in range(5):
            tracker = UsageTracker(0.75)
            tracker.add(T0, data[0])
            c0 = time.process_time()
            for n, gpus in enumerate(data[1:], 1):
                tracker.add(T0 + n * 0.25, gpus)
            runs.append((time.process_time() - c0) / (len(data) - 1) * 1000)
            c0 = time.process_time()
            tracker.take()
            takes.append((time.process_time() - c0) * 1000)
        # The writer's cadence: a sample a second, a take every 30 s (recorder.USAGE_FLUSH_S);
        # the take after the first 30 s, then 20 more hand-overs (the steady state).
        tracker = UsageTracker(3.0)
        for n in range(30 * 21 + 1):
            tracker.add(T0 + n, data[n % len(data)])
            if n and n % 30 == 0:
                c0 = time.process_time()
                tracker.take()
                takes30.append((time.process_time() - c0) * 1000)
        add = statistics.median(runs)
        take30 = statistics.median(takes30)
        print(f"  SM % {mode:5}: add {add:.3f} ms; take (512 sessions) "
              f"{statistics.median(takes):.2f} ms after 400 samples, {take30:.2f} ms after 30 "
              f"at 1 Hz; add + take/30 {add + take30 / 30:.3f} ms per sample")  # fmt: skip
    data = samples("mixed", 400, rng)
    c0 = time.process_time()
    for gpus in data:
        for gpu in gpus:
            for p in gpu.processes:
                _ = (p.pid, p.start_time, p.used_memory_mib, p.sm_utilization)
    base = (time.process_time() - c0) / len(data) * 1000
    print(f"  baseline (read 4 fields of each process): {base:.3f} ms")


def bench_write() -> None:
    rng = random.Random(2)
    data = samples("mixed", 40, rng)
    tracker = UsageTracker(0.75)
    for n, gpus in enumerate(data):
        tracker.add(T0 + n * 0.25, gpus)
    deltas = tracker.take()
    with tempfile.TemporaryDirectory() as tmp:
        conn = store.open_store(Path(tmp) / "history.db")
        times = []
        for _ in range(5):
            c0 = time.process_time()
            conn.execute("BEGIN IMMEDIATE")
            usage.write(conn, deltas)
            conn.execute("COMMIT")
            times.append((time.process_time() - c0) * 1000)
        conn.close()
    print(f"write: {len(deltas)} deltas in one transaction: {statistics.median(times):.1f} ms CPU")


def seed(path: Path, days: int, sessions: int, rng: random.Random, *, full: bool) -> int:
    """``full``: every session has a row for every hour (the worst case); else each
    session runs 1-48 hours somewhere in the days (a busy shared machine)."""
    conn = store.open_store(path)
    stop = int(T0 // HOUR) * HOUR
    first = stop - days * 86_400
    spans = []
    for _ in range(sessions):
        if full:
            spans.append((first, stop))
        else:
            length = rng.randint(1, 48) * HOUR
            begin = first + rng.randrange(0, days * 86_400 - length, HOUR)
            spans.append((begin, begin + length))
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO sessions (id, gpu, pid, started, name, user, container, gpu_index,"
        " gpu_name, first_seen, last_seen, peak_mib) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        [
            (i + 1, f"GPU-{i % 8}", 1000 + i, b - 60.0, f"proc{i % 60}", f"user{i % 40}",
             f"{i % 100:012x}", i % 8, "NVIDIA H200", b - 30.0, e - 1.0,
             rng.randint(1000, 80_000))
            for i, (b, e) in enumerate(spans)
        ],
    )  # fmt: skip
    rows = 0
    for i, (b, e) in enumerate(spans):
        batch = [
            (i + 1, hour, 3600.0, 3600.0 * rng.random(), 3600.0 * rng.randint(1000, 80_000),
             3600.0 * rng.randint(0, 100), 3600.0, rng.randint(1000, 80_000))
            for hour in range(b, e, HOUR)
        ]  # fmt: skip
        conn.executemany("INSERT INTO usage VALUES (?,?,?,?,?,?,?,?)", batch)
        rows += len(batch)
    conn.execute("COMMIT")
    conn.close()
    return rows


LAB_USERS = ("alice", "bob", "chen", "dana", "eve", "farid", "grace", "hiro", "ines", "joao")
LAB_NAMES = ("python3", "python", "torchrun", "jupyter-kernel", "vllm", "deepspeed", "accelerate",
             "train.py", "nvidia-smi", "ollama", "tritonserver", "blender")  # fmt: skip


def seed_lab(path: Path, days: float, sessions: int, rng: random.Random) -> dict[str, object]:
    """``sessions`` process sessions over the ``days`` up to now on the replay demo's GPUs:
    each of a user (some far busier than others), one of their usual process names, in
    one of their containers or none, 1 hour to 3 days long, using a share of its GPU."""
    from gpulens.core.metrics.providers.replay import ReplayProvider

    gpus = [(g.key, g.id, g.name) for g in ReplayProvider().frame_at(0)]
    now = time.time()
    first = now - days * 86_400
    weights = [1 / (k + 1) for k in range(len(LAB_USERS))]  # a few heavy users, a long tail
    habits = {u: (rng.sample(LAB_NAMES, 3), [f"{rng.getrandbits(48):012x}" for _ in range(3)])
              for u in LAB_USERS}  # fmt: skip
    conn = store.open_store(path)
    conn.execute("BEGIN IMMEDIATE")
    rows = 0
    for i in range(sessions):
        user = rng.choices(LAB_USERS, weights)[0]
        names, containers = habits[user]
        gpu, index, gpu_name = gpus[rng.randrange(len(gpus))]
        length = min(rng.expovariate(1 / (6 * HOUR)) + 300, 3 * 86_400.0)
        begin = rng.uniform(first, now - 60)
        end = min(begin + length, now - 1)
        container = rng.choice(containers) if rng.random() < 0.6 else None
        share, mem = rng.uniform(0.05, 0.95), rng.randint(500, 78_000)
        peak = 0
        batch = []
        for hour in range(int(begin // HOUR) * HOUR, int(end), HOUR):
            held = min(end, hour + HOUR) - max(begin, hour)
            if held <= 0:
                continue
            hour_peak = min(81_559, int(mem * rng.uniform(1.0, 1.2)))
            peak = max(peak, hour_peak)
            sm = rng.random() < 0.5
            batch.append((hour, held, held * share * rng.uniform(0.7, 1.0), held * mem,
                          held * share * 100 if sm else 0.0, held if sm else 0.0, hour_peak))  # fmt: skip
        sid = conn.execute(
            "INSERT INTO sessions (gpu, pid, started, name, user, container, gpu_index,"
            " gpu_name, first_seen, last_seen, peak_mib) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
            " RETURNING id",
            (gpu, 2000 + i, begin - 5.0, rng.choice(names), user, container, index, gpu_name,
             begin, end, peak),
        ).fetchone()[0]  # fmt: skip
        conn.executemany("INSERT INTO usage VALUES (?,?,?,?,?,?,?,?)", [(sid, *r) for r in batch])
        rows += len(batch)
    conn.execute("COMMIT")
    conn.close()
    return {"path": str(path), "sessions": sessions, "usage_rows": rows, "gpus": len(gpus)}


def bench_query() -> None:
    for full in (True, False):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "history.db"
            c0 = time.perf_counter()
            rows = seed(path, 30, 500, random.Random(3), full=full)
            shape = "every session every hour" if full else "sessions of 1-48 h"
            print(f"query: 30 days x 500 sessions, {shape}: {rows} usage rows, "
                  f"{path.stat().st_size / 1e6:.1f} MB (seeded in {time.perf_counter() - c0:.1f} s)")  # fmt: skip
            stop = float(int(T0 // HOUR) * HOUR) - 1800  # partial first and last hours
            conn = store.connect(path, readonly=True)
            for wide in (True, False):
                plan = conn.execute(
                    "EXPLAIN QUERY PLAN " + usage.sql("user", wide=wide),
                    usage.params(stop - 30 * 86_400, stop),
                ).fetchall()
                print(f"  plan ({'wide' if wide else 'narrow'}):",
                      " / ".join(str(r[-1]) for r in plan))  # fmt: skip
            conn.close()
            for by in usage.BY:
                out = []
                for days in (30, 1):
                    times = []
                    for _ in range(5):
                        c0 = time.perf_counter()
                        result = usage.query(path, start=stop - days * 86_400, stop=stop, by=by)
                        times.append((time.perf_counter() - c0) * 1000)
                    out.append(
                        f"{days:2} d {statistics.median(times):6.1f} ms ({len(result.rows)} rows)"
                    )
                print(f"  by={by:9}: " + "; ".join(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["tracker", "write", "query"])
    parser.add_argument("--seed", type=Path, help="write a lab's store in DIR/history.db and stop")
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--sessions", type=int, default=500)
    args = parser.parse_args()
    if args.seed:
        args.seed.mkdir(parents=True, exist_ok=True)
        out = seed_lab(args.seed / "history.db", args.days, args.sessions, random.Random(4))
        print(json.dumps(out))
        return
    if args.part in (None, "tracker"):
        bench_tracker()
    if args.part in (None, "write"):
        bench_write()
    if args.part in (None, "query"):
        bench_query()


if __name__ == "__main__":
    main()
