"""deploy/prometheus/: the lab's scrape configuration, the fleet recording rules and
the Grafana dashboard.

promtool checks the configuration (which checks both rule files and the targets
files too) and runs the rules' unit tests; the dashboard is checked as JSON (its
panels, its variables, that it queries only what gpulens, dcgm-exporter or the
recording rules provide); and a real Prometheus (Debian's) loads a copy of
prometheus.yml, scrapes a real ``gpulens serve`` in replay and three stand-ins
(one gpulens-shaped, two dcgm-exporter-shaped), and the targets, their
``gpulens_url`` and the recording rules' values are read back through its HTTP API.

promtool and prometheus come with Debian's ``prometheus`` package (``make test-py``
installs it through scripts/system-packages.sh); on CI a missing one fails, never
skips (see tests/deploy/test_alerts.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gpulens.api.metrics import DCGM_FIELDS, EVENT_LABELS, GPU_LABELS, XID_LABELS
from tests.deploy.test_alerts import exported, find_promtool
from tests.integration.test_prometheus import (
    LOOPBACK,
    PROMETHEUS,
    Process,
    free_port,
    gpulens_command,
    start,
)

ROOT = Path(__file__).resolve().parents[2]
KIT = ROOT / "deploy" / "prometheus"
CONFIG = KIT / "prometheus.yml"
FLEET_RULES = KIT / "fleet.rules.yml"
FLEET_TESTS = KIT / "fleet.rules.test.yml"
DASHBOARD = KIT / "grafana" / "gpulens-fleet.json"
DCGM_COUNTERS = ROOT / "tests" / "fixtures" / "dcgm-exporter" / "default-counters.csv"
PROMETHEUS_DOC = ROOT / "docs" / "prometheus.md"

LINK_LABEL = "gpulens_url"
# Grafana's current core panels (no Angular: graph, singlestat, table-old are gone in 11).
CORE_PANELS = {
    "timeseries", "stat", "table", "row", "gauge", "bargauge", "barchart", "state-timeline",
    "status-history", "heatmap", "histogram", "piechart", "text", "logs", "alertlist",
}  # fmt: skip
# Labels the queries may select on: the GPU series', the events', and the target's.
KNOWN_LABELS = set(GPU_LABELS) | set(EVENT_LABELS) | set(XID_LABELS)
KNOWN_LABELS |= {"instance", "job", LINK_LABEL}
PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
    "unless", "offset",
}  # fmt: skip


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def promtool() -> str:
    return find_promtool()


def run(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], capture_output=True, text=True, timeout=120, cwd=KIT)


def recording_rules() -> list[dict[str, Any]]:
    return [rule for group in load(FLEET_RULES)["groups"] for rule in group["rules"]]


# -- what the queries name -----------------------------------------------------------


def selectors(expr: str) -> list[tuple[str, str]]:
    """``(metric, labels)`` of every ``metric{labels}`` in a PromQL expression."""
    return re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}", expr)


def metric_names(expr: str) -> set[str]:
    """Every series name an expression reads: identifiers that are no function,
    keyword, label list, label matcher or range."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values, $host included
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\(?)", text)
    return {name for name, call in names if not call and name not in PROMQL_WORDS}


def test_metric_names_parser() -> None:
    expr = (
        'sum by (Hostname, gpu) (increase(gpulens_xid_errors_total{Hostname=~"$host"}'
        "[$__rate_interval])) / on (Hostname) group_left host:gpus:count >= bool 10"
    )
    assert metric_names(expr) == {"gpulens_xid_errors_total", "host:gpus:count"}
    assert selectors('a{x="1"} + b') == [("a", 'x="1"')]


def gpulens_metrics() -> set[str]:
    """What gpulens' /metrics exports: the DCGM fields, a scrape of its own families
    after events, and the tables of docs/prometheus.md (gpulens_gpu_up needs a sample)."""
    names = {field.name for field in DCGM_FIELDS} | set(exported())
    names |= set(re.findall(r"^\| `((?:DCGM_|gpulens_)\w+)` \|", PROMETHEUS_DOC.read_text(), re.M))
    return names


def dcgm_exporter_metrics() -> set[str]:
    """dcgm-exporter's default counters (the fixture copy of its default-counters.csv)."""
    lines = DCGM_COUNTERS.read_text().splitlines()
    return {line.split(",")[0].strip() for line in lines if line.strip() and line[0] != "#"}


def known_metrics() -> set[str]:
    return gpulens_metrics() | dcgm_exporter_metrics() | {r["record"] for r in recording_rules()}


def test_known_metrics_are_what_they_should_be() -> None:
    names = gpulens_metrics()
    assert {"DCGM_FI_DEV_GPU_UTIL", "gpulens_gpu_up", "gpulens_xid_errors_total"} <= names
    assert {"gpulens_events_total", "gpulens_findings_active"} <= names
    assert "DCGM_FI_DEV_XID_ERRORS" in dcgm_exporter_metrics()
    assert "DCGM_FI_DEV_POWER_VIOLATION" not in dcgm_exporter_metrics()  # commented out


# -- prometheus.yml and the targets files ------------------------------------------------


def test_promtool_check_config(promtool: str) -> None:
    """The configuration, both rule files it names, and the example targets files."""
    result = run(promtool, "check", "config", CONFIG.name)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "SUCCESS: 2 rule files found" in output
    assert f"SUCCESS: {len(recording_rules())} rules found" in output


def test_scrape_configuration() -> None:
    config = load(CONFIG)
    assert config["global"]["scrape_interval"] == "15s"
    assert config["rule_files"] == ["alerts.yml", FLEET_RULES.name]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"gpulens", "dcgm-exporter"}  # alerts.yml's GpulensDown reads job="gpulens"
    for name, folder in (("gpulens", "gpulens"), ("dcgm-exporter", "dcgm")):
        assert jobs[name]["file_sd_configs"] == [{"files": [f"targets/{folder}/*.yml"]}]
        assert "static_configs" not in jobs[name]
        assert (KIT / "targets" / folder / "example.yml").is_file()
    # gpulens' link label: from the targets file, else scheme://address/.
    (relabel,) = jobs["gpulens"]["relabel_configs"]
    assert relabel["target_label"] == LINK_LABEL
    assert relabel["source_labels"][0] == LINK_LABEL
    # dcgm-exporter's hosts end up with one host label, `Hostname`.
    drops = [r for r in jobs["dcgm-exporter"]["metric_relabel_configs"] if r.get("action")]
    assert drops == [{"action": "labeldrop", "regex": "hostname"}]


def test_the_fleet_view_reads_the_same_link_label() -> None:
    from gpulens.config import Settings

    field = Settings.model_fields.get("fleet_link_label")
    if field is None:
        pytest.skip("no fleet mode in this gpulens yet")
    assert field.default == LINK_LABEL


@pytest.mark.parametrize("folder", ["gpulens", "dcgm"])
def test_example_targets_are_one_line_per_host(folder: str) -> None:
    path = KIT / "targets" / folder / "example.yml"
    groups = load(path)
    entries = [line for line in path.read_text().splitlines() if line.startswith("- ")]
    assert len(entries) == len(groups) >= 2
    for group in groups:
        assert len(group["targets"]) == 1
        assert re.fullmatch(r"[\w.-]+:\d+", group["targets"][0])
        assert set(group) <= {"targets", "labels"}
    links = [group.get("labels", {}).get(LINK_LABEL) for group in groups]
    if folder == "gpulens":
        assert "https://gpu-box-1.lab/" in links  # the documented convention, shown
        assert None in links  # and its default


# -- fleet.rules.yml ----------------------------------------------------------------------


def test_promtool_check_rules(promtool: str) -> None:
    result = run(promtool, "check", "rules", FLEET_RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(recording_rules())} rules found" in result.stdout


def test_promtool_test_rules(promtool: str) -> None:
    result = run(promtool, "test", "rules", FLEET_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rule_names_and_grouping() -> None:
    names = [rule["record"] for rule in recording_rules()]
    assert len(names) == len(set(names))
    assert all("alert" not in rule for rule in recording_rules())
    for rule in recording_rules():
        level = rule["record"].split(":")[0]
        assert level in {"host", "fleet"}, rule["record"]
        expr = " ".join(rule["expr"].split())
        if level == "host":
            assert expr.startswith(("sum by (Hostname)", "avg by (Hostname)", "max by (Hostname)",
                                    "count by (Hostname)")), rule["record"]  # fmt: skip
    required = {
        "host:gpu_utilization:avg", "host:gpu_memory_used:sum", "host:gpu_memory_total:sum",
        "host:gpu_power:sum", "host:gpus:count", "host:gpus_busy:count", "host:gpus_hot:count",
        "fleet:hosts:count", "fleet:gpus:count", "fleet:gpus_busy:count",
    }  # fmt: skip
    assert required <= set(names)


def test_every_rule_is_unit_tested() -> None:
    tested = {
        name
        for group in load(FLEET_TESTS)["tests"]
        for case in group.get("promql_expr_test", [])
        for name in metric_names(case["expr"])
    }
    assert load(FLEET_TESTS)["rule_files"] == [FLEET_RULES.name]
    assert {rule["record"] for rule in recording_rules()} - tested == set()


def test_rules_read_exported_series_and_labels() -> None:
    """Raw series only through selectors with a Hostname (a series without one counts nowhere)."""
    defined: set[str] = set()
    exports = gpulens_metrics() | dcgm_exporter_metrics()
    for rule in recording_rules():
        expr = rule["expr"]
        used = metric_names(expr)
        assert used, rule["record"]
        assert used - exports - defined == set(), rule["record"]  # earlier rules only
        for _, labels in selectors(expr):
            assert set(re.findall(r"(\w+)\s*[=!]~?", labels)) <= KNOWN_LABELS, rule["record"]
        for label_list in re.findall(r"\b(?:by|on)\s*\(([^)]*)\)", expr):
            assert {label.strip() for label in label_list.split(",")} <= KNOWN_LABELS
        raw = [labels for name, labels in selectors(expr) if name in exports]
        if used & exports:
            assert raw, rule["record"]
            assert all('Hostname!=""' in labels for labels in raw), rule["record"]
        defined.add(rule["record"])


# -- the Grafana dashboard ----------------------------------------------------------------


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def panels() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for panel in dashboard()["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))  # a collapsed row holds its panels
    return out


def targets() -> list[tuple[str, dict[str, Any]]]:
    return [(p["title"], t) for p in panels() for t in p.get("targets", [])]


def test_dashboard_is_current_grafana() -> None:
    board = dashboard()
    assert board["schemaVersion"] >= 36
    assert board["uid"] == "gpulens-fleet"
    kinds = {p["type"] for p in panels()}
    assert kinds <= CORE_PANELS, kinds - CORE_PANELS
    assert {"timeseries", "stat", "table"} <= kinds
    ids = [p["id"] for p in panels()]
    assert len(ids) == len(set(ids))
    for panel in panels():
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]


def test_dashboard_variables() -> None:
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    host = variables["host"]
    assert host["type"] == "query"
    query = host["query"]["query"] if isinstance(host["query"], dict) else host["query"]
    assert query == "label_values(DCGM_FI_DEV_GPU_UTIL, Hostname)"
    assert host["multi"] is True and host["includeAll"] is True
    assert host["datasource"]["uid"] == "${datasource}"


def test_every_panel_queries_the_selected_hosts() -> None:
    for panel in panels():
        if panel["type"] == "row":
            assert not panel.get("targets"), panel["title"]
            continue
        assert panel.get("targets"), panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
    for title, target in targets():
        assert target["datasource"]["uid"] == "${datasource}", title
        found = selectors(target["expr"])
        assert found, (title, target["expr"])
        for name, labels in found:
            assert 'Hostname=~"$host"' in labels, (title, name)


def test_dashboard_queries_only_known_series_and_labels() -> None:
    known = known_metrics()
    for title, target in targets():
        expr = target["expr"]
        used = metric_names(expr)
        assert used, (title, expr)
        assert used - known == set(), (title, used - known)
        for _, labels in selectors(expr):
            assert set(re.findall(r"(\w+)\s*[=!]~?", labels)) <= KNOWN_LABELS, title
        for label_list in re.findall(r"\b(?:by|on)\s*\(([^)]*)\)", expr):
            assert {label.strip() for label in label_list.split(",")} <= KNOWN_LABELS, title


def test_dashboard_says_which_host_a_gpu_is_on() -> None:
    """Dashboard 12239's legends name the GPU only; here per-GPU series name the host."""
    per_gpu = [(title, t) for title, t in targets() if t["expr"].startswith("DCGM_FI_DEV_")]
    assert {title for title, _ in per_gpu} >= {
        "GPU utilization", "GPU memory used", "GPU temperature", "GPU power",
    }  # fmt: skip
    for title, target in per_gpu:
        assert target["legendFormat"] == "{{Hostname}} GPU {{gpu}}", title
    titles = {title for title, _ in targets()}
    assert {"Hosts", "GPUs", "Busy GPUs", "Hot GPUs", "XID errors", "Findings active"} <= titles
    used = {name for _, t in targets() for name in metric_names(t["expr"])}
    assert {"gpulens_xid_errors_total", "gpulens_events_total", "gpulens_findings_active"} <= used


# -- a real Prometheus on a copy of prometheus.yml ---------------------------------------

WAIT_S = 60.0


def dcgm_body(hostname: tuple[str, str] | None, gpus: int, utilization: float) -> bytes:
    """dcgm-exporter's exposition for ``gpus`` GPUs, host label ``hostname`` (name, value)."""
    lines = []
    values = {
        "DCGM_FI_DEV_GPU_UTIL": utilization, "DCGM_FI_DEV_FB_USED": 1024.0,
        "DCGM_FI_DEV_FB_FREE": 80_000.0, "DCGM_FI_DEV_FB_RESERVED": 512.0,
        "DCGM_FI_DEV_GPU_TEMP": 50.0, "DCGM_FI_DEV_POWER_USAGE": 120.5,
    }  # fmt: skip
    for name, value in values.items():
        lines += [f"# HELP {name} {name}.", f"# TYPE {name} gauge"]
        for gpu in range(gpus):
            labels = f'gpu="{gpu}",UUID="GPU-{gpu:08d}",device="nvidia{gpu}",modelName="H200"'
            if hostname is not None:
                labels += f',{hostname[0]}="{hostname[1]}"'
            lines.append(f"{name}{{{labels}}} {value}")
    return ("\n".join(lines) + "\n").encode()


class Exporter:
    """A stand-in exporter on 127.0.0.1 that serves a fixed /metrics body."""

    def __init__(self, body: bytes) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200 if self.path == "/metrics" else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.target = f"{LOOPBACK}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Lab:
    prometheus_url: str
    gpulens: str  # the real gpulens' target
    box2: str  # gpulens-shaped stand-in, no gpulens_url in the targets file
    dgx_new: str  # dcgm-exporter writing `hostname` (releases after May 2026)
    anonymous: str  # dcgm-exporter writing no host label
    processes: list[Process]

    def logs(self) -> str:
        return "\n".join(p.tail() for p in self.processes)

    def get(self, client: httpx.Client, path: str, **params: str) -> Any:
        response = client.get(f"{self.prometheus_url}{path}", params=params)
        response.raise_for_status()
        body = response.json()
        assert body["status"] == "success", body
        return body["data"]

    def until(self, what: str, check: Any) -> Any:
        """Polls ``check(client)`` until it returns something truthy, within WAIT_S."""
        deadline = time.monotonic() + WAIT_S
        last: object = None
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                for process in self.processes:
                    assert process.popen.poll() is None, self.logs()
                try:
                    last = check(client)
                except httpx.HTTPError as exc:  # not listening yet
                    last = exc
                else:
                    if last:
                        return last
                time.sleep(0.25)
        pytest.fail(f"{what} not within {WAIT_S:g} s: {last}\n{self.logs()}")


def find_prometheus() -> str:
    if not Path(PROMETHEUS).is_file():
        find_promtool()  # installs Debian's prometheus (both tools) where it can, else skips
    if not Path(PROMETHEUS).is_file():
        pytest.skip(f"{PROMETHEUS} is missing (scripts/system-packages.sh prometheus)")
    return PROMETHEUS


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    prometheus = find_prometheus()
    tmp = tmp_path_factory.mktemp("kit")
    # The kit as shipped, with a 1 s scrape and evaluation instead of 15 s.
    config = load(CONFIG)
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    (tmp / CONFIG.name).write_text(yaml.safe_dump(config, sort_keys=False))
    for name in config["rule_files"]:
        shutil.copy(KIT / name, tmp / name)

    stand_ins = [
        Exporter(dcgm_body(("Hostname", "kit-box-2"), 1, 80.0)),
        Exporter(dcgm_body(("hostname", "dgx-new"), 2, 5.0)),
        Exporter(dcgm_body(None, 1, 100.0)),
    ]
    box2, dgx_new, anonymous = (e.target for e in stand_ins)
    gpulens_target = f"{LOOPBACK}:{free_port()}"
    (tmp / "targets" / "gpulens").mkdir(parents=True)
    (tmp / "targets" / "dcgm").mkdir(parents=True)
    (tmp / "targets" / "gpulens" / "lab.yml").write_text(
        f'- {{targets: ["{gpulens_target}"], labels: {{gpulens_url: "https://kit-box-1.lab/"}}}}\n'
        f'- {{targets: ["{box2}"]}}\n'
    )
    (tmp / "targets" / "dcgm" / "lab.yml").write_text(
        f'- {{targets: ["{dgx_new}"]}}\n- {{targets: ["{anonymous}"]}}\n'
    )
    env = {k: v for k, v in os.environ.items() if k != "STATIC_DIR"}
    env.update(
        TELEMETRY_PROVIDER="replay",
        HOST=LOOPBACK,
        PORT=gpulens_target.rsplit(":", 1)[1],
        POLL_INTERVAL_MS="250",
        METRICS_ENABLED="true",
        METRICS_HOSTNAME="kit-box-1",
        LOG_LEVEL="WARNING",
    )
    env.pop("FLEET_PROMETHEUS_URL", None)
    prometheus_port = free_port()
    processes: list[Process] = []
    try:
        processes.append(start("gpulens", gpulens_command(), tmp, env))
        processes.append(
            start(
                "prometheus",
                [
                    prometheus,
                    f"--config.file={tmp / CONFIG.name}",
                    f"--storage.tsdb.path={tmp / 'data'}",
                    f"--web.listen-address={LOOPBACK}:{prometheus_port}",
                    "--log.level=warn",
                ],
                tmp,
            )
        )
        yield Lab(
            prometheus_url=f"http://{LOOPBACK}:{prometheus_port}",
            gpulens=gpulens_target,
            box2=box2,
            dgx_new=dgx_new,
            anonymous=anonymous,
            processes=processes,
        )
    finally:
        for process in reversed(processes):
            process.stop()
        for exporter in stand_ins:
            exporter.stop()


@pytest.mark.integration
def test_a_real_prometheus_on_the_kit(lab: Lab) -> None:
    def targets_up(client: httpx.Client) -> dict[str, dict[str, str]] | None:
        active = lab.get(client, "/api/v1/targets", state="active")["activeTargets"]
        if len(active) == 4 and all(t["health"] == "up" for t in active):
            return {t["labels"]["instance"]: t["labels"] for t in active}
        return None

    labels = lab.until("all four targets up", targets_up)
    assert labels[lab.gpulens]["job"] == "gpulens"
    assert labels[lab.gpulens][LINK_LABEL] == "https://kit-box-1.lab/"  # from the targets file
    assert labels[lab.box2][LINK_LABEL] == f"http://{lab.box2}/"  # the default
    assert labels[lab.dgx_new]["job"] == "dcgm-exporter"
    assert LINK_LABEL not in labels[lab.dgx_new] and LINK_LABEL not in labels[lab.anonymous]

    expected = {"kit-box-1": 2.0, "kit-box-2": 1.0, "dgx-new": 2.0, LOOPBACK: 1.0}

    def gpus_per_host(client: httpx.Client) -> dict[str, float] | None:
        result = lab.get(client, "/api/v1/query", query="host:gpus:count")["result"]
        found = {s["metric"].get("Hostname", ""): float(s["value"][1]) for s in result}
        return found if found == expected else None

    lab.until(f"host:gpus:count == {expected}", gpus_per_host)

    def fleet_gpus(client: httpx.Client) -> list[Any] | None:
        result = lab.get(client, "/api/v1/query", query="fleet:gpus:count")["result"]
        return result if [float(s["value"][1]) for s in result] == [6.0] else None

    lab.until("fleet:gpus:count == 6", fleet_gpus)

    with httpx.Client(timeout=5.0) as client:
        query = "/api/v1/query"
        # One host label across the lab: dcgm-exporter's `hostname` became `Hostname`.
        assert lab.get(client, query, query='count({hostname!=""})')["result"] == []
        # The link label rides on every series of the target (the Fleet view reads it).
        util = lab.get(client, query, query='DCGM_FI_DEV_GPU_UTIL{Hostname="kit-box-1"}')
        assert {s["metric"][LINK_LABEL] for s in util["result"]} == {"https://kit-box-1.lab/"}
        busy = lab.get(client, query, query="host:gpus_busy:count")["result"]
        assert {s["metric"]["Hostname"]: s["value"][1] for s in busy}.keys() == expected.keys()
        rules = lab.get(client, "/api/v1/rules")["groups"]
        assert {g["name"] for g in rules} == {"gpulens", "gpulens-fleet"}
        assert all(r["health"] != "err" for g in rules for r in g["rules"]), rules
