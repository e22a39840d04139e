"""Fleet mode end to end: a real Prometheus (Debian's) scraping three ``gpulens serve`` in
replay (alpha, beta, gamma) and one static dcgm-exporter endpoint (delta), read by a
fourth gpulens with FLEET_PROMETHEUS_URL (tests/integration/fleet_lab.py).

Checked through ``GET /api/fleet`` and the WebSocket: every host with its GPUs, its
exporter and its link; then beta stops and is shown down (or stale) with its last-known
GPUs while the others stay up, on the first refresh after Prometheus' first failed
scrape of it (counted in Prometheus, not timed); then a fleet server pointed at a closed
port says so, while its own host's page keeps working. Everything is polled against
deadlines; no assertion is about time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.deploy.test_prometheus_kit import find_prometheus
from tests.integration.fleet_lab import (
    DCGM_HOST,
    DCGM_MODEL,
    DCGM_VALUES,
    GPULENS_HOSTS,
    LOOPBACK,
    FleetLab,
    Process,
    free_port,
    gpulens_command,
    gpulens_env,
)

pytestmark = pytest.mark.integration

ALL_HOSTS = {*GPULENS_HOSTS, DCGM_HOST}
DEMO_GPUS = 2  # the shipped replay: two H100s
WAIT_S = 60.0  # the lab coming up and Prometheus' first scrapes (2 shared CPU cores)
DOWN_WAIT_S = 20.0  # a give-up bound: what is checked is the scrapes counted in Prometheus
MAX_QUERIES = 3


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetLab]:
    prometheus = find_prometheus()  # installs it where it can; on CI a missing one fails
    with FleetLab(tmp_path_factory.mktemp("fleet"), prometheus=prometheus) as running:
        yield running


def get_fleet(client: httpx.Client, base: str) -> dict[str, Any] | None:
    response = client.get(f"{base}/api/fleet")
    if response.status_code == 503:  # no refresh has ended yet
        return None
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def by_host(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    hosts: dict[str, dict[str, Any]] = {}
    for host in message["hosts"]:
        assert host["host"] not in hosts, f"two hosts named {host['host']}: {message['hosts']}"
        hosts[host["host"]] = host
    return hosts


def whole_fleet_up(message: dict[str, Any] | None) -> dict[str, Any] | None:
    """The message, once every host is there, up, with all its GPUs and their values."""
    if message is None or message["status"]["state"] != "ok":
        return None
    hosts = by_host(message)
    if set(hosts) != ALL_HOSTS or any(h["state"] != "up" for h in hosts.values()):
        return None
    for host in hosts.values():
        if len(host["gpus"]) != DEMO_GPUS:
            return None
        if any(g["utilization"] is None or g["memoryUsed"] is None for g in host["gpus"]):
            return None
    return message


@pytest.fixture(scope="module")
def fleet_up(lab: FleetLab) -> dict[str, Any]:
    with httpx.Client(timeout=5.0) as client:
        return lab.until(
            "every host up in /api/fleet",
            lambda: whole_fleet_up(get_fleet(client, lab.fleet_url)),
            within=WAIT_S,
        )


def check_gpu_values(host: str, gpu: dict[str, Any]) -> None:
    where = f"{host} GPU {gpu['gpu']}: {gpu}"
    assert gpu["gpu"].isdigit(), where
    assert gpu["uuid"] and gpu["uuid"].startswith("GPU-"), where
    assert 0 <= gpu["utilization"] <= 100, where
    assert 0 < gpu["memoryTotal"] <= 200 * 1024, where  # MiB
    assert 0 <= gpu["memoryUsed"] <= gpu["memoryTotal"], where
    assert 0 < gpu["temperature"] < 120, where  # °C
    assert 0 < gpu["powerUsage"] < 2000, where  # W
    assert gpu["state"] in {"busy", "idle", "hot"}, where
    assert all(v is None or 0 <= v <= 100 for v in gpu["history"]), where


def test_every_host_and_gpu(lab: FleetLab, fleet_up: dict[str, Any]) -> None:
    hosts = by_host(fleet_up)
    targets = lab.targets()
    for name, host in hosts.items():
        assert host["instance"] == host["key"] == targets[name], host
        assert host["label"] == name  # no two hosts share a name
        assert host["reason"] is None, host
        assert [g["gpu"] for g in host["gpus"]] == ["0", "1"], host
        for gpu in host["gpus"]:
            check_gpu_values(name, gpu)
    for name in GPULENS_HOSTS:
        assert hosts[name]["exporter"] == "gpulens"
        assert hosts[name]["job"] == "gpulens"
        assert hosts[name]["url"] == f"{lab.hosts[name]}/"  # the gpulens_url target label
        assert {g["name"] for g in hosts[name]["gpus"]} == {"NVIDIA H100 80GB HBM3"}
    delta = hosts[DCGM_HOST]
    assert delta["exporter"] == "dcgm-exporter"
    assert delta["job"] == "dcgm-exporter"
    assert delta["url"] is None  # no gpulens page, no link
    for i, gpu in enumerate(delta["gpus"]):
        assert gpu["name"] == DCGM_MODEL
        values = {name: v[1][i] for name, v in DCGM_VALUES.items()}
        assert gpu["utilization"] == values["DCGM_FI_DEV_GPU_UTIL"]
        assert gpu["memoryUsed"] == values["DCGM_FI_DEV_FB_USED"]
        # dcgm-exporter has no FB_TOTAL: used + free.
        assert gpu["memoryTotal"] == values["DCGM_FI_DEV_FB_USED"] + values["DCGM_FI_DEV_FB_FREE"]
        assert gpu["temperature"] == values["DCGM_FI_DEV_GPU_TEMP"]
        assert gpu["powerUsage"] == values["DCGM_FI_DEV_POWER_USAGE"]
    assert [g["state"] for g in delta["gpus"]] == ["busy", "idle"]  # 73 % and 4 %

    gpus = [g for h in hosts.values() for g in h["gpus"]]
    totals = fleet_up["totals"]
    assert totals["hosts"] == 4 and totals["hostsDown"] == 0
    assert totals["gpus"] == len(gpus) == 4 * DEMO_GPUS
    for state in ("busy", "idle", "hot"):
        assert totals[state] == sum(1 for g in gpus if g["state"] == state), totals
    assert totals["busy"] + totals["idle"] + totals["hot"] == totals["gpus"]

    status = fleet_up["status"]
    assert status["state"] == "ok" and status["reason"] is None
    assert 1 <= status["queries"] <= MAX_QUERIES
    assert status["lastSuccess"] is not None and status["durationMs"] is not None


def test_at_most_three_queries_every_refresh(lab: FleetLab, fleet_up: dict[str, Any]) -> None:
    """Several refreshes in a row (one of them with the sparklines' range query)."""
    seen: dict[float, int] = {}

    def refreshes(client: httpx.Client) -> bool:
        message = get_fleet(client, lab.fleet_url)
        assert message is not None
        status = message["status"]
        assert status["state"] == "ok", status
        seen[status["lastRefresh"]] = status["queries"]
        return len(seen) >= 4

    with httpx.Client(timeout=5.0) as client:
        lab.until("four refreshes", lambda: refreshes(client), within=WAIT_S)
    assert all(1 <= q <= MAX_QUERIES for q in seen.values()), seen


def test_fleet_message_after_the_hello(lab: FleetLab, fleet_up: dict[str, Any]) -> None:
    address = lab.fleet_url.removeprefix("http://")
    with connect(f"ws://{address}/ws/gpu", max_size=2**22, open_timeout=10) as ws:
        first = json.loads(ws.recv(timeout=10))
        assert first["type"] == "hello", first["type"]
        deadline = time.monotonic() + 15
        kinds: list[str] = []
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no fleet message after the hello (got {kinds})"
            message = json.loads(ws.recv(timeout=left))
            kinds.append(message["type"])
            if message["type"] == "fleet":
                break
    assert {h["host"] for h in message["hosts"]} == ALL_HOSTS
    assert message["totals"]["gpus"] == 4 * DEMO_GPUS
    assert message["status"]["state"] == "ok"


def failed_scrapes(client: httpx.Client, lab: FleetLab, host: str, at: float) -> int:
    """How many scrapes of ``host`` Prometheus had recorded as failed (``up == 0``) at
    ``at``, a fleet refresh's query time: what that refresh could see."""
    response = client.get(
        f"{lab.prometheus_url}/api/v1/query",
        params={"query": f'up{{instance="{lab.targets()[host]}"}}[5m]', "time": f"{at:.3f}"},
    )
    response.raise_for_status()
    (series,) = response.json()["data"]["result"]
    return sum(1 for _, value in series["values"] if float(value) == 0)


def test_a_stopped_host_is_down_with_its_last_known_gpus(
    lab: FleetLab, fleet_up: dict[str, Any]
) -> None:
    """Runs last against the lab: it stops beta. Down within two scrape intervals, counted
    in scrapes: the fleet (refreshing once a scrape interval) shows beta down by the time
    Prometheus has recorded its second failed scrape of it."""
    with httpx.Client(timeout=5.0) as client:
        before = by_host(lab.until("fleet", lambda: get_fleet(client, lab.fleet_url)))["beta"]
        assert before["state"] == "up"
        lab.stop_host("beta")

        def beta_down() -> dict[str, Any] | None:
            message = get_fleet(client, lab.fleet_url)
            if message is None or by_host(message)["beta"]["state"] == "up":
                return None
            return message

        message = lab.until("beta down", beta_down, within=DOWN_WAIT_S, but=("beta",))
        failed = failed_scrapes(client, lab, "beta", message["status"]["lastSuccess"])
        assert 1 <= failed <= 2, f"beta shown down after {failed} failed scrapes"
        # One more refresh: beta stays down, the others stay up.
        refreshed = message["status"]["lastRefresh"]

        def next_refresh() -> dict[str, Any] | None:
            found = get_fleet(client, lab.fleet_url)
            return found if found and found["status"]["lastRefresh"] > refreshed else None

        later = lab.until("the next refresh", next_refresh, within=DOWN_WAIT_S, but=("beta",))
    for seen in (message, later):
        hosts = by_host(seen)
        assert set(hosts) == ALL_HOSTS, hosts.keys()
        beta = hosts["beta"]
        assert beta["state"] in {"down", "stale"}, beta
        assert beta["reason"], beta
        assert beta["url"] == before["url"] and beta["exporter"] == "gpulens"
        # Its GPUs as last known, marked with the host's state: never zeros, never gone.
        assert [g["gpu"] for g in beta["gpus"]] == ["0", "1"], beta
        for gpu in beta["gpus"]:
            assert gpu["state"] == beta["state"], gpu
            for key in ("utilization", "memoryUsed", "memoryTotal", "temperature", "powerUsage"):
                assert gpu[key] is not None, gpu
            assert gpu["memoryTotal"] > 0 and gpu["temperature"] > 0 and gpu["powerUsage"] > 0
        for name in ALL_HOSTS - {"beta"}:
            assert hosts[name]["state"] == "up", hosts[name]
            assert all(g["state"] in {"busy", "idle", "hot"} for g in hosts[name]["gpus"])
        assert seen["totals"]["hosts"] == 4 and seen["totals"]["hostsDown"] == 1
        assert seen["totals"]["gpus"] == 4 * DEMO_GPUS
        assert seen["status"]["state"] == "ok"


def closed_port() -> int:
    """A loopback port nothing listens on (free_port's socket is closed on return)."""
    return free_port()


def test_prometheus_unreachable(tmp_path: Path) -> None:
    """A fleet server whose Prometheus is not there: the fleet says why; the host's own
    page (health, the live stream) does not care."""
    port = free_port()
    base = f"http://{LOOPBACK}:{port}"
    env = gpulens_env(
        port,
        METRICS_HOSTNAME="lonely",
        FLEET_PROMETHEUS_URL=f"http://{LOOPBACK}:{closed_port()}",
        FLEET_REFRESH_S="1",
        FLEET_STALE_S="3",
        FLEET_TIMEOUT_S="2",
    )
    server = Process("fleet-unreachable", gpulens_command(), tmp_path / "fleet.log", env)
    try:
        deadline = time.monotonic() + WAIT_S
        message: dict[str, Any] | None = None
        with httpx.Client(timeout=5.0) as client:
            while message is None:
                assert server.running(), server.tail()
                assert time.monotonic() < deadline, f"no fleet answer\n{server.tail()}"
                try:
                    message = get_fleet(client, base)
                except httpx.HTTPError:
                    message = None
                if message is None:
                    time.sleep(0.2)
            status = message["status"]
            assert status["state"] == "unavailable", status
            assert "connection" in (status["reason"] or "").lower(), status
            assert status["lastSuccess"] is None
            assert message["hosts"] == [] and message["totals"]["hosts"] == 0

            def healthy() -> dict[str, Any] | None:
                body: dict[str, Any] = client.get(f"{base}/api/health").json()
                return body if body["status"] == "ok" else None

            health = None
            while health is None:
                assert server.running(), server.tail()
                assert time.monotonic() < deadline, f"never healthy\n{server.tail()}"
                health = healthy()
                if health is None:
                    time.sleep(0.2)
            assert health["fleet"]["state"] == "unavailable", health["fleet"]
            assert "connection" in health["fleet"]["reason"].lower(), health["fleet"]

        with connect(f"ws://{LOOPBACK}:{port}/ws/gpu", max_size=2**22, open_timeout=10) as ws:
            hello = json.loads(ws.recv(timeout=10))
            assert hello["type"] == "hello"
            kinds: set[str] = set()
            seqs: list[int] = []
            stop = time.monotonic() + 20
            while len(seqs) < 2 or "fleet" not in kinds:
                assert time.monotonic() < stop, f"stream: {kinds}, {seqs}"
                frame = json.loads(ws.recv(timeout=max(0.1, stop - time.monotonic())))
                kinds.add(frame["type"])
                if frame["type"] == "telemetry":
                    seqs.append(frame["seq"])
                    assert len(frame["gpus"]) == DEMO_GPUS
                if frame["type"] == "fleet":
                    assert frame["status"]["state"] == "unavailable"
            assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    finally:
        server.stop()
