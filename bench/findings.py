"""Findings detector cost: CPU time per sample for N GPUs x M processes.

    .venv/bin/python bench/findings.py [--gpus 8] [--processes 64] [--samples 3000]

The GPUs are the real H200 "loaded" readings (``RecordedNvml`` answering from
``tests/fixtures/h200-sxm-141gb/loaded/nvml-dump.json`` through the NVML
provider), replicated to N GPUs; each gets M processes made from the capture's
two real processes (their names, user, SM shares 44 % and 1 %), with their
memory split so the M fit in what the GPU has used. Samples are one second
apart. Scenarios:

* steady: nothing to report but the capture's own ``sw_power_cap`` (one
  active throttling finding per GPU, re-told once a minute);
* findings active: on every GPU 4 of the processes hold 1.5 GiB at 0 % SM
  (idle holders) and 4 are unresolved (their pids checked, at most every
  DEAD_HOLDER_S / 2; all of them gone: dead holders), 20 GiB used that no
  process owns, the GPU 3 °C from its slowdown temperature, throttled by
  hw_thermal_slowdown; short thresholds so every finding is active while
  measured;
* worst case: the same with half of all processes idle holders and the
  other half unresolved (every process in a finding or checked).

Baselines in the same run: one bare pass over the same GPUs and processes
reading the fields the detector reads (the floor of any per-process check in
Python), and serialising the sample to JSON once (what the stream does for
every sample anyway). CPU time is process time, not wall.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from gpulens.core.metrics.processes import ProcessIdentity  # noqa: E402
from gpulens.core.metrics.providers.nvml import NvmlProvider  # noqa: E402
from gpulens.core.metrics.schema import GpuInfo, SystemInfo, Telemetry  # noqa: E402
from gpulens.core.metrics.units import MIB  # noqa: E402
from gpulens.services.findings.detector import FindingsDetector, Thresholds  # noqa: E402
from gpulens.services.messages import ProviderStatus  # noqa: E402
from gpulens.services.sampler import Sample  # noqa: E402
from gpulens.testing.nvml import RecordedNvml  # noqa: E402

CAPTURE = ROOT / "tests/fixtures/h200-sxm-141gb/loaded"
COMPUTE = "nvmlDeviceGetComputeRunningProcesses"
OK = ProviderStatus(state="ok", provider="nvml")
SYSTEM = SystemInfo(
    cpu_usage=10.0, memory_usage=20.0, load_average=(0.1, 0.2, 0.3), uptime=100,
    disk_utilization=30.0,
)  # fmt: skip


def real_gpus(count: int) -> list[GpuInfo]:
    """The loaded H200 through the NVML provider, replicated to ``count`` GPUs."""
    dump = json.loads((CAPTURE / "nvml-dump.json").read_text())
    apps = [
        line.split(", ")
        for line in (CAPTURE / "query-compute-apps-nounits.csv").read_text().splitlines()
        if line.strip()
    ]
    nv = RecordedNvml.from_dump(dump)
    first = nv.devices[0]
    first[COMPUTE] = {"value": [{"pid": int(a[0]), "usedGpuMemory": int(a[2]) * MIB} for a in apps]}
    for index in range(1, count):
        extra = copy.deepcopy(first)
        extra["nvmlDeviceGetUUID"] = {"value": f"GPU-bench-{index:04d}"}
        extra["nvmlDeviceGetPciInfo"] = {"value": {"busId": f"00000000:{index:02X}:00.0"}}
        nv.devices.append(extra)
    names = {int(a[0]): ProcessIdentity(a[1], "alice") for a in apps}
    provider = NvmlProvider(nv, resolver=lambda pid: names.get(pid, ProcessIdentity(None, None)))
    return provider.sample()


def with_processes(
    gpus: list[GpuInfo], per_gpu: int, *, active: bool, every: int = 2
) -> list[GpuInfo]:
    out = []
    for gpu in gpus:
        real = gpu.processes
        # Steady: the capture's used memory split among them; active: 1.5 GiB each.
        share = 1536 if active else max(1, (gpu.memory_used or 0) // per_gpu)
        budget = share * per_gpu
        processes = []
        for n in range(per_gpu):
            model = real[n % len(real)]
            update: dict[str, object] = {
                "pid": 10_000 + gpu.id * 1000 + n,
                "used_memory_mib": share,
                "start_time": 1_700_000_000.0 + n,
            }
            if active and n % every == 0:
                update["sm_utilization"] = 0
            if active and n % every == 1:
                update["name"] = None
            processes.append(model.model_copy(update=update))
        fields: dict[str, object] = {"processes": processes}
        if active:
            fields.update(
                memory_used=budget + 20 * 1024,  # 20 GiB that no process owns
                temperature=(gpu.temperature_slowdown or 89) - 3,
                clock_event_reasons=["sw_power_cap", "hw_thermal_slowdown"],
                sm_clock_max=1980,
            )
        out.append(gpu.model_copy(update=fields))
    return out


def samples(gpus: list[GpuInfo], count: int, start: float) -> list[Sample]:
    first = Telemetry(
        seq=0, timestamp=datetime.fromtimestamp(start, UTC), source="nvml", gpus=gpus,
        system=SYSTEM,
    )  # fmt: skip
    return [
        Sample(
            first.model_copy(update={"timestamp": datetime.fromtimestamp(start + i, UTC)}), OK, 0.0
        )
        for i in range(count)
    ]


def detector_cost(built: list[Sample], thresholds: Thresholds, warm: int) -> dict[str, float]:
    detector = FindingsDetector(thresholds, pid_exists=lambda pid: pid % 4 != 1, host_pids=True)
    for sample in built[:warm]:
        detector.step(sample, (), False)
    measured = built[warm:]
    changed = 0
    t0 = time.process_time()
    for sample in measured:
        if detector.step(sample, (), False).changed:
            changed += 1
    cost = time.process_time() - t0
    return {
        "us_per_sample": cost / len(measured) * 1e6,
        "active_findings": len(detector.findings),
        "changed": changed,
        "samples": len(measured),
    }


def bare_pass(built: list[Sample]) -> float:
    """The floor: read the fields the detector reads, once per GPU and process."""
    t0 = time.process_time()
    for sample in built:
        for gpu in sample.payload.gpus:
            _ = (gpu.status, gpu.ecc_errors_uncorrected, gpu.temperature, gpu.clock_event_reasons)
            for p in gpu.processes:
                _ = (p.used_memory_mib, p.sm_utilization, p.name, p.user)
    return (time.process_time() - t0) / len(built) * 1e6


def json_cost(built: list[Sample]) -> float:
    some = built[:200]
    t0 = time.process_time()
    for sample in some:
        sample.payload.model_dump_json(by_alias=True)
    return (time.process_time() - t0) / len(some) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--processes", type=int, default=64)
    parser.add_argument("--samples", type=int, default=3000)
    args = parser.parse_args()
    gpus = real_gpus(args.gpus)
    start = time.time() - args.samples
    steady = samples(with_processes(gpus, args.processes, active=False), args.samples, start)
    active = samples(
        with_processes(gpus, args.processes, active=True, every=args.processes // 4),
        args.samples,
        start,
    )
    worst = samples(with_processes(gpus, args.processes, active=True), args.samples, start)
    quick = Thresholds(idle_holding_s=5, unowned_memory_s=5, dead_holder_s=4, throttling_s=5)
    rows: list[tuple[str, float, str]] = []
    floor = bare_pass(steady)
    rows.append(("bare pass over GPUs and processes (floor)", floor, ""))
    rows.append(("sample to JSON once (the stream, every sample)", json_cost(steady), ""))
    scenarios = (("steady", steady), ("findings active", active), ("worst case", worst))
    for name, built in scenarios:
        result = detector_cost(built, quick if name != "steady" else Thresholds(), warm=120)
        note = (
            f"{result['active_findings']} active, changed {result['changed']}"
            f" of {result['samples']} samples"
        )
        rows.append((f"detector, {name}", result["us_per_sample"], note))
    processes = args.gpus * args.processes
    print(
        f"# {args.gpus} GPUs x {args.processes} processes ({processes}), "
        f"{args.samples} samples, Python {platform.python_version()}"
    )
    print("| what | CPU µs / sample | × floor | notes |")
    print("| --- | ---: | ---: | --- |")
    for name, micros, note in rows:
        print(f"| {name} | {micros:.1f} | {micros / floor:.2f} | {note} |")


if __name__ == "__main__":
    main()
