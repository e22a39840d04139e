"""Collector cost without a GPU: CPU time per sample and per GPU, from the real captures.

    .venv/bin/python bench/collector.py [--gpus 8] [--seconds 2]

* NVML provider against ``RecordedNvml`` (the H200 "loaded" readings) vs the
  same NVML calls made directly on that stand-in (the floor): what the
  provider itself adds — error mapping, unit conversion, process merging,
  pydantic models.
* nvidia-smi and nvtop: parsing cost of their real output (the subprocess
  itself, 20-75 ms wall on an H200, is not included: see docs/benchmarks.md).
* The whole payload: provider + system metrics + one JSON serialisation.
* The device-set watch (hot-plug): one listing of a directory shaped like
  ``/proc/driver/nvidia/gpus`` (one entry per GPU), made once per rescan
  interval, and what that costs per sample.

Absolute times drift on shared machines; the ratios are what to compare.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from gpulens.core.metrics.collector import build_payload  # noqa: E402
from gpulens.core.metrics.processes import ProcessIdentity  # noqa: E402
from gpulens.core.metrics.providers import Selection  # noqa: E402
from gpulens.core.metrics.providers.nvidia_smi import (  # noqa: E402
    APP_FIELDS,
    apps_from_rows,
    gpu_from_row,
    parse_csv,
)
from gpulens.core.metrics.providers.nvml import (  # noqa: E402
    RESCAN_INTERVAL_S,
    NvmlProvider,
    device_set,
)
from gpulens.core.metrics.providers.nvtop import gpus_from_snapshot, load_snapshot  # noqa: E402
from gpulens.core.metrics.system import SystemCollector  # noqa: E402
from gpulens.testing.nvml import RecordedNvml  # noqa: E402

CAPTURE = ROOT / "tests/fixtures/h200-sxm-141gb/loaded"
FULL_FIELDS = [
    f.strip().split(" ")[0]
    for f in (CAPTURE / "query-gpu-full.csv").read_text().splitlines()[0].split(",")
]


def cpu_per_call(fn: Callable[[], object], seconds: float) -> float:
    """Median CPU seconds per call over 5 rounds of ~seconds/5 each."""
    fn()
    rounds = []
    for _ in range(5):
        n, start = 0, time.process_time()
        deadline = time.perf_counter() + seconds / 5
        while time.perf_counter() < deadline:
            fn()
            n += 1
        rounds.append((time.process_time() - start) / n)
    return statistics.median(rounds)


def recorded_nvml(gpus: int) -> RecordedNvml:
    dump = json.loads((CAPTURE / "nvml-dump.json").read_text())
    fake = RecordedNvml.from_dump(dump)
    template = fake.devices[0]
    procs = [
        {"pid": 483, "usedGpuMemory": 9194 * 2**20},
        {"pid": 484, "usedGpuMemory": 2696 * 2**20},
    ]
    template["nvmlDeviceGetComputeRunningProcesses"] = {"value": procs}
    fake.devices = []
    for i in range(gpus):
        device = json.loads(json.dumps(template))
        device["nvmlDeviceGetUUID"] = {"value": f"GPU-{i:08d}"}
        fake.devices.append(device)
    return fake


def raw_nvml_sample(nv: RecordedNvml, handles: list[int]) -> None:
    """The floor: the fields the dashboard needs, read directly, nothing else."""
    for h in handles:
        nv.nvmlDeviceGetUtilizationRates(h)
        nv.nvmlDeviceGetMemoryInfo(h, nv.nvmlMemory_v2)
        nv.nvmlDeviceGetTemperature(h, 0)
        nv.nvmlDeviceGetPowerUsage(h)
        nv.nvmlDeviceGetEnforcedPowerLimit(h)
        with contextlib.suppress(nv.NVMLError):
            nv.nvmlDeviceGetFanSpeed(h)
        nv.nvmlDeviceGetEncoderUtilization(h)
        nv.nvmlDeviceGetDecoderUtilization(h)
        nv.nvmlDeviceGetComputeRunningProcesses(h)
        nv.nvmlDeviceGetGraphicsRunningProcesses(h)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    n = args.gpus

    fake = recorded_nvml(n)
    provider = NvmlProvider(nvml=fake, resolver=lambda pid: ProcessIdentity("python3", "alice"))
    handles = list(range(n))
    floor = cpu_per_call(lambda: raw_nvml_sample(fake, handles), args.seconds)
    ours = cpu_per_call(provider.sample, args.seconds)

    csv = "\n".join([(CAPTURE / "query-gpu-full-nounits.csv").read_text().strip()] * n)
    apps = (CAPTURE / "query-compute-apps-nounits.csv").read_text()
    app_fields = ["pid", "process_name", "used_memory", "gpu_uuid", "gpu_bus_id"]
    assert list(APP_FIELDS) != app_fields  # the capture's column order differs from ours

    def smi() -> None:
        [gpu_from_row(r, "13.0") for r in parse_csv(csv, FULL_FIELDS)]
        apps_from_rows(parse_csv(apps, app_fields))

    nvtop_text = json.dumps(json.loads((CAPTURE / "nvtop-snapshot.json").read_text()) * n, indent=1)
    nobody = lambda pid: ProcessIdentity(None, None)  # noqa: E731

    def nvtop() -> None:
        gpus_from_snapshot(load_snapshot(nvtop_text), nobody)

    system = SystemCollector()
    selection = Selection(provider)

    def payload() -> None:
        build_payload(1, selection, provider.sample(), system).model_dump_json(by_alias=True)

    with tempfile.TemporaryDirectory() as gpus_dir:
        for i in range(n):  # what the driver lists: one directory per PCI bus id
            (Path(gpus_dir) / f"0000:{0x18 + i:02x}:00.0").mkdir()
        listing = cpu_per_call(lambda: device_set(Path(gpus_dir)), args.seconds)
    procfs = Path("/proc/bus/pci") if Path("/proc/bus/pci").is_dir() else Path("/proc/self")
    listing_procfs = cpu_per_call(lambda: device_set(procfs), args.seconds)
    per_sample = 1.0 / RESCAN_INTERVAL_S  # samples at 1 s; one listing per rescan interval

    rows = [
        ("raw NVML calls on the stand-in (floor)", floor),
        ("gpulens NVML provider", ours),
        ("nvidia-smi CSV parsing (2 queries' output)", cpu_per_call(smi, args.seconds)),
        ("nvtop -s JSON parsing", cpu_per_call(nvtop, args.seconds)),
        ("system metrics (psutil)", cpu_per_call(system.sample, args.seconds)),
        ("whole payload: NVML provider + system + JSON", cpu_per_call(payload, args.seconds)),
        (f"device-set watch: one listing, {n} entries (tmp dir)", listing),
        (f"device-set watch: one listing of procfs {procfs}", listing_procfs),
        (
            f"device-set watch per sample at 1 s (1 listing / {RESCAN_INTERVAL_S:g} s)",
            max(listing, listing_procfs) * per_sample,
        ),
    ]
    print(f"# collector cost, {n} GPUs, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}")  # fmt: skip
    print(f"command: .venv/bin/python bench/collector.py --gpus {n} --seconds {args.seconds}")
    print("| what | CPU µs / sample | µs / GPU | × floor |")
    print("| --- | ---: | ---: | ---: |")
    for name, value in rows:
        print(f"| {name} | {value * 1e6:,.0f} | {value * 1e6 / n:,.1f} | {value / floor:.2f} |")


if __name__ == "__main__":
    main()
