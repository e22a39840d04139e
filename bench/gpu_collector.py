"""Collector cost on a real NVIDIA GPU: gpulens vs raw NVML (the floor) vs nvitop vs gpustat.

    python3 bench/gpu_collector.py [--seconds 5] [--no-load]

Runs on a machine with an NVIDIA GPU and no network: gpulens' own
dependencies, nvitop and gpustat may be carried as wheels (see
docs/benchmarks.md). Starts two PyTorch processes (a matmul loop and a
memory holder) so that every collector has processes to list, then measures,
in one run and in alternating rounds, CPU time and wall time per sample:

* raw NVML: the fields the dashboard needs, called directly (the floor);
* gpulens ``NvmlProvider.sample()``;
* nvitop ``Device.as_snapshot()`` + ``processes()`` for every device;
* gpustat ``new_query()``.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import pynvml  # noqa: E402


def measure(fn: Callable[[], object], seconds: float) -> tuple[float, float]:
    """Median (CPU s, wall s) per call over 5 rounds."""
    fn()
    cpu, wall = [], []
    for _ in range(5):
        n = 0
        c0, w0 = time.process_time(), time.perf_counter()
        while time.perf_counter() - w0 < seconds / 5:
            fn()
            n += 1
        cpu.append((time.process_time() - c0) / n)
        wall.append((time.perf_counter() - w0) / n)
    return statistics.median(cpu), statistics.median(wall)


def raw_nvml() -> Callable[[], None]:
    pynvml.nvmlInit()
    handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]

    def sample() -> None:
        for h in handles:
            pynvml.nvmlDeviceGetUtilizationRates(h)
            pynvml.nvmlDeviceGetMemoryInfo(h, version=pynvml.nvmlMemory_v2)
            pynvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU)
            pynvml.nvmlDeviceGetPowerUsage(h)
            pynvml.nvmlDeviceGetEnforcedPowerLimit(h)
            with contextlib.suppress(pynvml.NVMLError):
                pynvml.nvmlDeviceGetFanSpeed(h)
            pynvml.nvmlDeviceGetEncoderUtilization(h)
            pynvml.nvmlDeviceGetDecoderUtilization(h)
            pynvml.nvmlDeviceGetComputeRunningProcesses(h)
            pynvml.nvmlDeviceGetGraphicsRunningProcesses(h)

    return sample


def gpulens() -> Callable[[], object]:
    from gpulens.core.metrics.providers.nvml import NvmlProvider

    return NvmlProvider().sample


def nvitop() -> Callable[[], object] | str:
    try:
        from nvitop import Device
    except ImportError as exc:
        return f"not installed ({exc})"
    devices = Device.all()

    def sample() -> None:
        for d in devices:
            d.as_snapshot()
            d.processes()

    return sample


def gpustat() -> Callable[[], object] | str:
    try:
        import gpustat as gs
    except ImportError as exc:
        return f"not installed ({exc})"
    query: Callable[[], object] = gs.new_query
    return query


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--no-load", action="store_true")
    args = parser.parse_args()
    load: list[subprocess.Popen[bytes]] = []
    if not args.no_load:
        for code in (
            "import torch; x=torch.randn(8192,8192,device='cuda'); exec('while True: y = x @ x')",
            "import torch,time; t=torch.empty(2*1024**3,dtype=torch.uint8,device='cuda'); time.sleep(900)",
        ):
            load.append(subprocess.Popen([sys.executable, "-c", code]))
        time.sleep(10)
    try:
        floor = raw_nvml()
        candidates: dict[str, Callable[[], object] | str] = {
            "raw NVML (floor)": floor,
            "gpulens NvmlProvider.sample()": gpulens(),
            "nvitop as_snapshot() + processes()": nvitop(),
            "gpustat new_query()": gpustat(),
        }
        results: dict[str, tuple[float, float] | str] = {}
        for name, fn in candidates.items():
            results[name] = fn if isinstance(fn, str) else measure(fn, args.seconds)
    finally:
        for p in load:
            p.kill()
    gpus = pynvml.nvmlDeviceGetCount()
    name = pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(0))
    print(f"# collector on {gpus} × {name}, driver {pynvml.nvmlSystemGetDriverVersion()}, "
          f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")  # fmt: skip
    print(f"command: python3 bench/gpu_collector.py --seconds {args.seconds:g}")
    print("| collector | CPU ms / sample | wall ms / sample | CPU × floor |")
    print("| --- | ---: | ---: | ---: |")
    floor_result = results["raw NVML (floor)"]
    assert not isinstance(floor_result, str)  # measured, never skipped
    floor_cpu = floor_result[0]
    for label, r in results.items():
        if isinstance(r, str):
            print(f"| {label} | {r} | | |")
        else:
            print(f"| {label} | {r[0] * 1e3:.3f} | {r[1] * 1e3:.3f} | {r[0] / floor_cpu:.1f} |")


if __name__ == "__main__":
    main()
