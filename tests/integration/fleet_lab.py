"""A small GPU lab on 127.0.0.1 for the fleet tests: a real Prometheus scraping three
``gpulens serve`` (replay) named alpha, beta and gamma and one static dcgm-exporter
endpoint named delta (and, for a large fleet, ``racks`` more static dcgm-exporter endpoints
named rack-00, rack-01, ...), and a fourth gpulens, the *fleet server*, that reads that
Prometheus.

Prometheus runs the kit's own configuration (deploy/prometheus/prometheus.yml: file-based
discovery, the gpulens_url relabelling, the dcgm-exporter host label, the recording rules
and alerts) with a 1 s scrape instead of 15 s; each gpulens target has its ``gpulens_url``
label in the targets file. Everything listens on free loopback ports and writes into one
temporary folder; every process is stopped at the end.

Used two ways:

* from pytest (tests/integration/test_fleet.py): ``with FleetLab(tmp) as lab: ...``;
* from the browser tests (frontend/e2e/fleet.spec.ts), as a process::

      .venv/bin/python -m tests.integration.fleet_lab --static-dir frontend/dist [--racks 30]

  It prints one JSON line once the fleet server answers (``{"fleet": url, "prometheus":
  url, "hosts": {name: url}}``), then reads commands on stdin, one a line:
  ``stop <host>`` stops that gpulens (answers ``{"stopped": host}``); end of input (or
  SIGTERM, SIGINT) stops everything.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, TypeVar

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[2]
KIT = ROOT / "deploy" / "prometheus"
PROMETHEUS = "/usr/bin/prometheus"
LOOPBACK = "127.0.0.1"
GPULENS_HOSTS = ("alpha", "beta", "gamma")
DCGM_HOST = "delta"
DCGM_GPUS = 2
START_S = 60.0  # a process must answer within this (2 shared CPU cores, 5 servers)

T = TypeVar("T")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def gpulens_command() -> list[str]:
    script = Path(sys.executable).with_name("gpulens")  # .venv/bin/gpulens
    if script.is_file():
        return [str(script), "serve"]
    return [sys.executable, "-m", "gpulens", "serve"]


# -- the dcgm-exporter host ---------------------------------------------------------------

# dcgm-exporter's names and labels (tests/fixtures/dcgm-exporter: default-counters.csv and
# dashboard 12239's queries): gauges with gpu, UUID, device, modelName and Hostname.
DCGM_VALUES: dict[str, tuple[str, tuple[float, ...]]] = {
    "DCGM_FI_DEV_GPU_UTIL": ("GPU utilization (in %).", (73.0, 4.0)),
    "DCGM_FI_DEV_FB_USED": ("Framebuffer memory used (in MiB).", (61_440.0, 1_024.0)),
    "DCGM_FI_DEV_FB_FREE": ("Framebuffer memory free (in MiB).", (19_632.0, 80_048.0)),
    "DCGM_FI_DEV_GPU_TEMP": ("GPU temperature (in C).", (66.0, 38.0)),
    "DCGM_FI_DEV_POWER_USAGE": ("Power draw (in W).", (412.5, 71.25)),
}
DCGM_MODEL = "NVIDIA A100-SXM4-80GB"


def dcgm_metrics(hostname: str = DCGM_HOST, gpus: int = DCGM_GPUS) -> str:
    """dcgm-exporter's exposition text for ``gpus`` GPUs of host ``hostname``."""
    lines: list[str] = []
    for name, (help_text, values) in DCGM_VALUES.items():
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        for gpu in range(gpus):
            labels = (
                f'gpu="{gpu}",UUID="GPU-de17a000-0000-4000-8000-{gpu:012d}",'
                f'device="nvidia{gpu}",modelName="{DCGM_MODEL}",Hostname="{hostname}"'
            )
            lines.append(f"{name}{{{labels}}} {values[gpu % len(values)]}")
    return "\n".join(lines) + "\n"


class StaticExporter:
    """An HTTP endpoint on 127.0.0.1 serving a fixed /metrics text (404 elsewhere)."""

    def __init__(self, text: str) -> None:
        body = text.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = self.path == "/metrics"
                payload = body if found else b"not found\n"
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        self.target = f"{LOOPBACK}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- processes ---------------------------------------------------------------------------


class Process:
    """A child process whose output goes to a log file."""

    def __init__(self, name: str, command: list[str], log: Path, env: dict[str, str]) -> None:
        self.name = name
        self.log = log
        with log.open("wb") as out:
            self.popen = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=log.parent,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def tail(self, chars: int = 3000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.name} (exit {self.popen.poll()}) ---\n{text[-chars:]}"

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


def gpulens_env(port: int, **extra: str) -> dict[str, str]:
    """This process's environment for a replaying gpulens on 127.0.0.1:``port``: no page
    (STATIC_DIR), no fleet mode and no host name unless ``extra`` gives them."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"STATIC_DIR", "METRICS_HOSTNAME"} and not k.startswith("FLEET_")
    }
    env.update(
        TELEMETRY_PROVIDER="replay",
        HOST=LOOPBACK,
        PORT=str(port),
        POLL_INTERVAL_MS="250",
        METRICS_ENABLED="true",
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


class LabError(RuntimeError):
    """The lab did not come up (the message has the processes' logs)."""


class FleetLab:
    """The lab; a context manager. ``hosts`` maps alpha/beta/gamma to their base URLs."""

    def __init__(
        self,
        tmp: Path,
        *,
        static_dir: Path | None = None,
        scrape_s: float = 1.0,
        refresh_s: float = 1.0,
        stale_s: float = 3.0,
        prometheus: str = PROMETHEUS,
        racks: int = 0,
    ) -> None:
        self.tmp = tmp
        self.static_dir = static_dir
        self.scrape_s = scrape_s
        self.refresh_s = refresh_s
        self.stale_s = stale_s
        self.prometheus_bin = prometheus
        self.processes: dict[str, Process] = {}
        self.exporter: StaticExporter | None = None
        self.racks = racks
        self.rack_exporters: dict[str, StaticExporter] = {}
        self.ports = {name: free_port() for name in GPULENS_HOSTS}
        self.hosts = {name: f"http://{LOOPBACK}:{port}" for name, port in self.ports.items()}
        self.prometheus_url = f"http://{LOOPBACK}:{free_port()}"
        self.fleet_url = f"http://{LOOPBACK}:{free_port()}"
        self.dcgm_target = ""

    # -- life --------------------------------------------------------------------------

    def __enter__(self) -> FleetLab:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        self.exporter = StaticExporter(dcgm_metrics())
        self.dcgm_target = self.exporter.target
        for i in range(self.racks):
            name = f"rack-{i:02d}"
            self.rack_exporters[name] = StaticExporter(dcgm_metrics(name))
        for name, port in self.ports.items():
            env = gpulens_env(port, METRICS_HOSTNAME=name)
            self._spawn(name, gpulens_command(), env)
        self._write_prometheus_config()
        prometheus_port = self.prometheus_url.rsplit(":", 1)[1]
        self._spawn(
            "prometheus",
            [
                self.prometheus_bin,
                f"--config.file={self.tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.tmp / 'data'}",
                f"--web.listen-address={LOOPBACK}:{prometheus_port}",
                "--log.level=warn",
            ],
            dict(os.environ),
        )
        fleet_env = gpulens_env(
            int(self.fleet_url.rsplit(":", 1)[1]),
            METRICS_HOSTNAME="fleet-server",
            FLEET_PROMETHEUS_URL=self.prometheus_url,
            FLEET_REFRESH_S=f"{self.refresh_s:g}",
            FLEET_STALE_S=f"{self.stale_s:g}",
        )
        if self.static_dir is not None:
            fleet_env["STATIC_DIR"] = str(self.static_dir)
        self._spawn("fleet", gpulens_command(), fleet_env)
        with httpx.Client(timeout=2.0) as client:
            for name in (*GPULENS_HOSTS, "fleet"):
                url = self.fleet_url if name == "fleet" else self.hosts[name]
                self.until(f"{name} answers /api/health", functools.partial(_ok, client, url))
            self.until("Prometheus is ready", lambda: _ok(client, self.prometheus_url, "/-/ready"))

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.processes[name] = Process(name, command, self.tmp / f"{name}.log", env)

    def _write_prometheus_config(self) -> None:
        """The kit's prometheus.yml and rule files, scraping every ``scrape_s``."""
        config = yaml.safe_load((KIT / "prometheus.yml").read_text(encoding="utf-8"))
        every = f"{round(self.scrape_s * 1000)}ms"
        config["global"].update(
            scrape_interval=every, scrape_timeout=every, evaluation_interval=every
        )
        (self.tmp / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        for name in config.get("rule_files", []):
            shutil.copy(KIT / name, self.tmp / name)
        gpulens_targets = self.tmp / "targets" / "gpulens"
        dcgm_targets = self.tmp / "targets" / "dcgm"
        gpulens_targets.mkdir(parents=True, exist_ok=True)
        dcgm_targets.mkdir(parents=True, exist_ok=True)
        lines = [
            json.dumps({"targets": [f"{LOOPBACK}:{port}"], "labels": {"gpulens_url": f"{url}/"}})
            for port, url in ((self.ports[n], self.hosts[n]) for n in GPULENS_HOSTS)
        ]
        (gpulens_targets / "lab.yml").write_text("".join(f"- {line}\n" for line in lines))
        dcgm = [self.dcgm_target, *(e.target for e in self.rack_exporters.values())]
        (dcgm_targets / "lab.yml").write_text(f"- {json.dumps({'targets': dcgm})}\n")

    def stop_host(self, name: str) -> None:
        """Stops one of the gpulens hosts (alpha, beta or gamma), as a crash would leave it:
        Prometheus' scrapes of it fail from then on."""
        if name not in GPULENS_HOSTS:
            raise ValueError(f"no such gpulens host: {name}")
        self.processes[name].stop()

    def close(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()
        if self.exporter is not None:
            self.exporter.stop()
            self.exporter = None
        for exporter in self.rack_exporters.values():
            exporter.stop()
        self.rack_exporters = {}

    # -- helpers -----------------------------------------------------------------------

    def targets(self) -> dict[str, str]:
        """host name -> the instance Prometheus scrapes."""
        found = {name: f"{LOOPBACK}:{port}" for name, port in self.ports.items()}
        found[DCGM_HOST] = self.dcgm_target
        found.update((name, e.target) for name, e in self.rack_exporters.items())
        return found

    def logs(self) -> str:
        return "\n".join(p.tail() for p in self.processes.values())

    def check_running(self, *, but: tuple[str, ...] = ()) -> None:
        for name, process in self.processes.items():
            if name not in but and not process.running():
                raise LabError(f"{name} exited\n{self.logs()}")

    def until(
        self,
        what: str,
        check: Callable[[], T | None],
        *,
        within: float = START_S,
        but: tuple[str, ...] = (),
    ) -> T:
        """Polls ``check()`` until it returns something truthy, within ``within`` s; an
        httpx error counts as not yet. Every lab process (but ``but``) must keep running."""
        deadline = time.monotonic() + within
        last: object = None
        while True:
            self.check_running(but=but)
            try:
                result = check()
            except httpx.HTTPError as exc:
                last = exc
            else:
                if result:
                    return result
                last = result
            if time.monotonic() > deadline:
                raise LabError(f"{what}: not within {within:g} s (last: {last!r})\n{self.logs()}")
            time.sleep(0.2)

    def info(self) -> dict[str, Any]:
        return {
            "fleet": self.fleet_url,
            "prometheus": self.prometheus_url,
            "hosts": {**self.hosts, DCGM_HOST: f"http://{self.dcgm_target}"},
            "targets": self.targets(),
            "pids": {name: p.pid for name, p in self.processes.items()},
        }


def _ok(client: httpx.Client, base: str, path: str = "/api/health") -> bool:
    return client.get(f"{base}{path}").status_code == 200


# -- as a process (the browser tests) ---------------------------------------------------


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--static-dir", type=Path, help="the built page, for the fleet server")
    parser.add_argument("--refresh-s", type=float, default=1.0)
    parser.add_argument("--stale-s", type=float, default=3.0)
    parser.add_argument("--racks", type=int, default=0, help="more static dcgm-exporter hosts")
    args = parser.parse_args(argv)
    if not Path(PROMETHEUS).is_file():
        print(f"{PROMETHEUS} is missing: scripts/system-packages.sh prometheus", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    tmp = Path(tempfile.mkdtemp(prefix="gpulens-fleet-lab-"))
    try:
        with FleetLab(
            tmp,
            static_dir=args.static_dir,
            refresh_s=args.refresh_s,
            stale_s=args.stale_s,
            racks=args.racks,
        ) as lab:
            print(json.dumps(lab.info()), flush=True)
            for line in sys.stdin:
                command = line.split()
                if command[:1] == ["stop"] and len(command) == 2:
                    try:
                        lab.stop_host(command[1])
                    except ValueError as exc:
                        print(json.dumps({"error": str(exc)}), flush=True)
                    else:
                        print(json.dumps({"stopped": command[1]}), flush=True)
                elif command:
                    print(json.dumps({"error": f"unknown command: {line.strip()}"}), flush=True)
    except LabError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
