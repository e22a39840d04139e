"""A real ``gpulens serve`` (replay) scraped by a real Prometheus; dashboard 12239's queries answer.

Everything listens on 127.0.0.1 only. Both processes are always stopped.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

DASHBOARD = (
    Path(__file__).parent.parent / "fixtures" / "dcgm-exporter" / "dcgm-exporter-dashboard.json"
)
PROMETHEUS = "/usr/bin/prometheus"
LOOPBACK = "127.0.0.1"
WAIT_S = 30.0
DEMO_GPUS = {"0", "1"}

# Every query of Grafana dashboard 12239 ("NVIDIA DCGM Exporter Dashboard"), as in
# the fixture; test_expressions_are_the_dashboards checks this list against it.
DASHBOARD_EXPRESSIONS = (
    'DCGM_FI_DEV_GPU_TEMP{instance=~"$instance", gpu=~"$gpu"}',
    'avg(DCGM_FI_DEV_GPU_TEMP{instance=~"$instance", gpu=~"$gpu"})',
    'DCGM_FI_DEV_POWER_USAGE{instance=~"$instance", gpu=~"$gpu"}',
    'sum(DCGM_FI_DEV_POWER_USAGE{instance=~"$instance", gpu=~"$gpu"})',
    'DCGM_FI_DEV_SM_CLOCK{instance=~"$instance", gpu=~"$gpu"} * 1000000',
    'DCGM_FI_DEV_GPU_UTIL{instance=~"$instance", gpu=~"$gpu"}',
    'DCGM_FI_DEV_FB_USED{instance=~"$instance", gpu=~"$gpu"}',
)
# The dashboard's "Tensor Core Utilization" panel: a DCGM profiling field that NVML
# does not expose, so gpulens cannot provide it and the panel stays empty.
NOT_PROVIDED = ('DCGM_FI_PROF_PIPE_TENSOR_ACTIVE{instance=~"$instance", gpu=~"$gpu"}',)
# Its template variables: label_values(DCGM_FI_DEV_GPU_TEMP, instance) and (…, gpu).
TEMPLATE_VARIABLES = {"instance": "DCGM_FI_DEV_GPU_TEMP", "gpu": "DCGM_FI_DEV_GPU_TEMP"}

LABELS = {"gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname", "instance", "job"}


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


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.name} (exit {self.popen.poll()}) ---\n{text[-3000:]}"

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


def start(name: str, command: list[str], tmp: Path, env: dict[str, str] | None = None) -> Process:
    log = tmp / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp)
    return Process(name, popen, log)


@dataclass
class Stack:
    gpulens_url: str
    prometheus_url: str
    target: str
    processes: list[Process]

    def logs(self) -> str:
        return "\n".join(p.tail() for p in self.processes)

    def query(self, client: httpx.Client, expression: str) -> list[dict[str, Any]]:
        response = client.get(f"{self.prometheus_url}/api/v1/query", params={"query": expression})
        response.raise_for_status()
        body = response.json()
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not Path(PROMETHEUS).is_file():
        pytest.skip("prometheus is not installed (scripts/system-packages.sh promtool)")
    tmp = tmp_path_factory.mktemp("prometheus")
    gpulens_port, prometheus_port = free_port(), free_port()
    target = f"{LOOPBACK}:{gpulens_port}"
    env = {k: v for k, v in os.environ.items() if k != "STATIC_DIR"}
    env.update(
        TELEMETRY_PROVIDER="replay",
        HOST=LOOPBACK,
        PORT=str(gpulens_port),
        POLL_INTERVAL_MS="250",
        METRICS_ENABLED="true",
        LOG_LEVEL="WARNING",
    )
    env.pop("METRICS_HOSTNAME", None)
    (tmp / "prom.yml").write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  scrape_timeout: 1s\n"
        "  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: gpulens\n"
        "    static_configs:\n"
        f"      - targets: ['{target}']\n"
    )
    processes: list[Process] = []
    try:
        processes.append(start("gpulens", gpulens_command(), tmp, env))
        processes.append(
            start(
                "prometheus",
                [
                    PROMETHEUS,
                    f"--config.file={tmp / 'prom.yml'}",
                    f"--storage.tsdb.path={tmp / 'data'}",
                    f"--web.listen-address={LOOPBACK}:{prometheus_port}",
                    "--log.level=warn",
                ],
                tmp,
            )
        )
        yield Stack(
            gpulens_url=f"http://{target}",
            prometheus_url=f"http://{LOOPBACK}:{prometheus_port}",
            target=target,
            processes=processes,
        )
    finally:
        for process in reversed(processes):
            process.stop()


@pytest.fixture(scope="module")
def scraped(stack: Stack) -> list[dict[str, Any]]:
    """Waits (bounded) until Prometheus holds DCGM_FI_DEV_GPU_UTIL for both demo GPUs."""
    deadline = time.monotonic() + WAIT_S
    last: object = None
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            for process in stack.processes:
                assert process.popen.poll() is None, stack.logs()
            try:
                result = stack.query(client, "DCGM_FI_DEV_GPU_UTIL")
            except httpx.HTTPError as exc:  # not listening yet
                last = exc
            else:
                last = result
                if {series["metric"].get("gpu") for series in result} == DEMO_GPUS:
                    return result
            time.sleep(0.25)
    pytest.fail(f"Prometheus never had both demo GPUs within {WAIT_S:g} s: {last}\n{stack.logs()}")


def test_expressions_are_the_dashboards() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]
    assert sorted(expressions) == sorted(DASHBOARD_EXPRESSIONS + NOT_PROVIDED)
    variables = {
        v["name"]: v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"
    }
    assert variables == {
        name: f"label_values({metric}, {name})" for name, metric in TEMPLATE_VARIABLES.items()
    }


def test_both_demo_gpus_with_dcgm_labels(stack: Stack, scraped: list[dict[str, Any]]) -> None:
    for series in scraped:
        labels = series["metric"]
        assert set(labels) >= LABELS, labels
        assert labels["instance"] == stack.target
        assert labels["UUID"].startswith("GPU-")
        assert re.fullmatch(
            r"[0-9A-F]{8}:[0-9A-F]{2}:[0-9A-F]{2}\.[0-9A-F]", labels["pci_bus_id"], re.I
        )
        assert labels["device"] == f"nvidia{labels['gpu']}"
        assert labels["modelName"] == "NVIDIA H100 80GB HBM3"
        assert labels["Hostname"] == socket.gethostname()
        assert "hostname" not in labels
        assert 0 <= float(series["value"][1]) <= 100


def test_every_dashboard_query_has_data(stack: Stack, scraped: list[dict[str, Any]]) -> None:
    with httpx.Client(timeout=5.0) as client:
        for template in DASHBOARD_EXPRESSIONS:
            expression = template.replace("$instance", ".*").replace("$gpu", ".*")
            result = stack.query(client, expression)
            assert result, f"{expression}: no data\n{stack.logs()}"
            if not expression.startswith(("avg(", "sum(")):
                assert {s["metric"]["gpu"] for s in result} == DEMO_GPUS, expression
            if "SM_CLOCK" in expression:  # MHz x 1e6 = Hz, as the panel expects
                assert all(float(s["value"][1]) >= 1e8 for s in result), result
        # The template variables ($instance, $gpu) offer this target and both GPUs.
        for name, metric in TEMPLATE_VARIABLES.items():
            response = client.get(
                f"{stack.prometheus_url}/api/v1/label/{name}/values", params={"match[]": metric}
            )
            values = set(response.json()["data"])
            assert values == ({stack.target} if name == "instance" else DEMO_GPUS), values
        # What gpulens cannot provide stays empty, rather than showing zeros.
        for template in NOT_PROVIDED:
            expression = template.replace("$instance", ".*").replace("$gpu", ".*")
            assert stack.query(client, expression) == []


def test_scrape_is_healthy(stack: Stack, scraped: list[dict[str, Any]]) -> None:
    with httpx.Client(timeout=5.0) as client:
        up = stack.query(client, f'up{{instance="{stack.target}"}}')
        assert [float(s["value"][1]) for s in up] == [1.0]
        provider = stack.query(client, "gpulens_provider_up")
        assert [(s["metric"]["provider"], s["value"][1]) for s in provider] == [("replay", "1")]
        assert stack.query(client, "gpulens_sample_duration_seconds_count")
        # gpulens itself answers /metrics (same app, security headers on).
        response = client.get(f"{stack.gpulens_url}/metrics")
        assert response.status_code == 200
        assert response.headers["x-content-type-options"] == "nosniff"
