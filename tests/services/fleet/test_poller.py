"""The fleet loop against a fake Prometheus serving what gpulens' own /metrics and
dcgm-exporter give: hosts, GPUs and states, every fault of the issue, the query budget,
one serialisation, backoff."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import TypeAdapter

from gpulens.services.fleet.client import PrometheusClient
from gpulens.services.fleet.model import Fleet, FleetHost
from gpulens.services.fleet.poller import MAX_BACKOFF_S, FleetOptions, FleetPoller
from gpulens.services.messages import ServerMessage, protocol_json_schema
from tests.services.fleet.fakeprom import (
    FakePrometheus,
    Sample,
    Target,
    dcgm_metrics,
    gpulens_metrics,
    serve,
)


class RecordingHub:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.latest: dict[str, str] = {}

    def broadcast(self, frame: str) -> None:
        self.sent.append(frame)

    def remember(self, kind: str, frame: str) -> None:
        self.latest[kind] = frame


@pytest.fixture
def prom() -> Iterator[FakePrometheus]:
    fake = FakePrometheus()
    fake.targets = [
        Target("box-1:5000", series=gpulens_metrics("box-1"),
               labels={"gpulens_url": "http://box-1:5000/"}),
        Target("box-2:5000", series=gpulens_metrics("box-2")),
        Target("box-3:5000", series=gpulens_metrics("box-3", gpus=1)),
        Target("dgx-1:9400", job="dcgm", series=dcgm_metrics("dgx-1", gpus=8)),
        Target("localhost:9090", job="prometheus"),  # Prometheus itself: not a GPU host
    ]  # fmt: skip
    with serve(fake) as running:
        yield running


def poller(prom: FakePrometheus, hub: RecordingHub | None = None, **kw: Any) -> FleetPoller:
    timeout = kw.pop("timeout", 3)
    clock = kw.pop("clock", time.time)
    options = FleetOptions(**{"refresh_s": 5.0, "stale_s": 45.0, **kw})
    return FleetPoller(PrometheusClient(prom.url, timeout=timeout), options, hub, clock=clock)


def refresh(p: FleetPoller, times: int = 1) -> Fleet:
    async def go() -> Fleet:
        message = await p.refresh()
        for _ in range(times - 1):
            message = await p.refresh()
        return message

    return asyncio.run(go())


def by_key(message: Fleet) -> dict[str, FleetHost]:
    return {h.key: h for h in message.hosts}


def test_every_host_of_both_exporters_with_at_most_three_queries(prom: FakePrometheus) -> None:
    message = refresh(poller(prom))
    assert message.status.state == "ok" and message.status.reason is None
    assert message.status.queries == 3 == len(prom.requests)
    hosts = by_key(message)
    assert set(hosts) == {"box-1:5000", "box-2:5000", "box-3:5000", "dgx-1:9400"}
    assert [h.label for h in message.hosts] == ["box-1", "box-2", "box-3", "dgx-1"]
    box = hosts["box-1:5000"]
    assert (box.host, box.job, box.exporter, box.state) == ("box-1", "gpulens", "gpulens", "up")
    assert box.url == "http://box-1:5000/"
    assert box.last_sample is not None
    first = box.gpus[0]
    assert (first.gpu, first.uuid, first.name) == ("0", "GPU-00000000", "NVIDIA H200")
    assert first.memory_used == 1000 and first.memory_total == 143771  # FB_TOTAL
    assert first.temperature == 50 and first.power_usage == 300
    assert first.utilization is not None and first.state in ("busy", "idle")
    assert len(first.history) == 21 and first.history[-1] == first.utilization
    dgx = hosts["dgx-1:9400"]
    assert (dgx.exporter, len(dgx.gpus), dgx.url) == ("dcgm-exporter", 8, None)
    assert [g.gpu for g in dgx.gpus] == [str(i) for i in range(8)]
    assert dgx.gpus[0].memory_total == 81000  # USED + FREE + RESERVED
    assert dgx.gpus[0].state == "busy"
    assert message.totals.model_dump() == {
        "hosts": 4, "hosts_down": 0, "gpus": 13,
        "busy": message.totals.busy, "idle": message.totals.idle, "hot": 0,
    }  # fmt: skip
    assert message.totals.busy + message.totals.idle == 13


def test_the_sparkline_query_runs_once_per_step_not_every_refresh(prom: FakePrometheus) -> None:
    p = poller(prom)  # 5 s refreshes, 30 s sparkline step: one range query in six refreshes
    refresh(p, times=6)
    ranges = [r for r in prom.requests if r[0] == "/api/v1/query_range"]
    assert len(ranges) == 1 and len(prom.requests) == 6 * 2 + 1
    assert p.message is not None and p.message.status.queries == 2


def test_the_message_validates_against_the_published_protocol(prom: FakePrometheus) -> None:
    hub = RecordingHub()
    refresh(poller(prom, hub))
    frame = hub.sent[0]
    Draft202012Validator(protocol_json_schema()).validate(json.loads(frame))
    parsed = TypeAdapter(ServerMessage).validate_json(frame)
    assert isinstance(parsed, Fleet)


def test_one_serialisation_sent_only_when_changed_and_kept_for_new_clients(
    prom: FakePrometheus,
) -> None:
    hub = RecordingHub()
    p = poller(prom, hub, clock=lambda: 1_800_000_000.0)  # no new scrape between refreshes
    refresh(p, times=3)
    assert len(hub.sent) == 1  # nothing changed after the first
    assert hub.latest["fleet"] == p.frame  # the newest frame, for the next client's hello
    prom.targets[1].up = 0
    refresh(p)
    assert len(hub.sent) == 2
    assert json.loads(hub.sent[-1])["totals"]["hostsDown"] == 1


def test_a_down_target_keeps_its_gpus_marked_down_never_zeros(prom: FakePrometheus) -> None:
    p = poller(prom)
    before = by_key(refresh(p))["box-2:5000"]
    prom.targets[1].up = 0
    after = by_key(refresh(p))["box-2:5000"]
    assert after.state == "down" and after.reason == "Prometheus cannot scrape it (up = 0)"
    assert [g.state for g in after.gpus] == ["down", "down"]
    assert [g.memory_used for g in after.gpus] == [g.memory_used for g in before.gpus]
    assert all(g.utilization is not None for g in after.gpus)  # last known, not 0 or None


def test_a_flapping_target_follows_up(prom: FakePrometheus) -> None:
    p = poller(prom)
    states = []
    for up in (1.0, 0.0, 1.0, 0.0, 1.0):
        prom.targets[0].up = up
        states.append(by_key(refresh(p))["box-1:5000"].state)
    assert states == ["up", "down", "up", "down", "up"]


def test_a_target_without_recent_samples_is_stale(prom: FakePrometheus) -> None:
    p = poller(prom)
    refresh(p)
    prom.targets[2].age_s = 120  # nothing newer than FLEET_STALE_S
    host = by_key(refresh(p))["box-3:5000"]
    assert host.state == "stale" and host.reason == "no sample for over 45 s"
    assert [g.state for g in host.gpus] == ["stale"]
    assert host.gpus[0].memory_used == 1000


def test_gpu_series_with_no_up_are_shown_by_their_own_freshness_never_dropped(
    prom: FakePrometheus,
) -> None:
    # honor_labels exporters, federation, remote write: fresh GPU series, the `up` query
    # works (the other targets are in it) but has no series for this instance
    prom.targets.append(Target("fed-1:9400", job="federate", series=dcgm_metrics("fed-1"),
                               scraped=False))  # fmt: skip
    p = poller(prom, stale_s=20)
    message = refresh(p)
    assert message.status.state == "ok"
    host = by_key(message)["fed-1:9400"]
    assert (host.state, host.reason, host.host, host.exporter) == (
        "up",
        None,
        "fed-1",
        "dcgm-exporter",
    )
    assert [g.state for g in host.gpus] == ["busy", "busy"]
    assert host.gpus[0].memory_used == 40000 and host.last_sample is not None
    assert message.totals.hosts == 5 and message.totals.gpus == 15
    prom.targets[-1].age_s = 30  # its newest sample is older than FLEET_STALE_S
    host = by_key(refresh(p))["fed-1:9400"]
    assert (host.state, host.reason) == ("stale", "no sample for over 20 s")
    assert [g.state for g in host.gpus] == ["stale", "stale"]
    assert host.gpus[0].memory_used == 40000  # last known, not zeros
    prom.targets[-1].age_s = 120  # no sample at all in the window: the last-known host
    host = by_key(refresh(p))["fed-1:9400"]
    assert host.state == "stale" and [g.memory_used for g in host.gpus] == [40000, 40000]
    # First seen already silent: Prometheus returns nothing of it in the window and it has no
    # `up`, so a poller that never saw it cannot know it (one that did keeps it, above).
    assert "fed-1:9400" not in by_key(refresh(poller(prom, stale_s=20)))


def test_a_target_up_with_no_gpu_series_is_a_host_with_zero_gpus(prom: FakePrometheus) -> None:
    build = [s for s in gpulens_metrics("empty") if s[0] == "gpulens_build_info"]
    prom.targets.append(Target("empty:5000", series=build))
    host = by_key(refresh(poller(prom)))["empty:5000"]
    assert (host.state, host.gpus, host.exporter) == ("up", [], "gpulens")
    assert host.host == "empty"  # no Hostname label: the instance's host part
    bare = Target("bare:9400", job="dcgm")  # up, in a GPU job, no series at all
    prom.targets.append(bare)
    host = by_key(refresh(poller(prom)))["bare:9400"]
    assert (host.state, host.gpus, host.exporter) == ("up", [], "unknown")


def test_nan_and_infinite_values_are_none(prom: FakePrometheus) -> None:
    series: list[Sample] = []
    for name, labels, value in dcgm_metrics("odd", gpus=1):
        if name == "DCGM_FI_DEV_GPU_UTIL":
            value = float("nan")
        elif name == "DCGM_FI_DEV_GPU_TEMP":
            value = float("inf")
        elif name == "DCGM_FI_DEV_POWER_USAGE":
            value = float("-inf")
        series.append((name, labels, value))
    prom.targets = [Target("odd:9400", job="dcgm", series=series)]
    gpu = refresh(poller(prom)).hosts[0].gpus[0]
    assert (gpu.utilization, gpu.temperature, gpu.power_usage) == (None, None, None)
    assert gpu.memory_used == 40000 and gpu.state == "idle"
    assert gpu.history and all(v is None for v in gpu.history)


def test_partial_data_leaves_what_is_missing_empty(prom: FakePrometheus) -> None:
    series = [s for s in dcgm_metrics("part", gpus=1) if s[0] != "DCGM_FI_DEV_GPU_TEMP"]
    series = [s for s in series if s[0] != "DCGM_FI_DEV_FB_FREE"]
    prom.targets = [Target("part:9400", job="dcgm", series=series)]
    message = refresh(poller(prom))
    gpu = message.hosts[0].gpus[0]
    assert message.status.state == "ok"
    assert gpu.temperature is None and gpu.memory_total is None and gpu.memory_used == 40000


def test_missing_labels(prom: FakePrometheus) -> None:
    bare = [(n, {"gpu": labels["gpu"]}, v) for n, labels, v in dcgm_metrics("x", gpus=1)]
    prom.targets = [Target("10.0.0.7:9400", job="dcgm", series=bare)]
    host = refresh(poller(prom)).hosts[0]
    assert host.host == "10.0.0.7" and host.label == "10.0.0.7"
    gpu = host.gpus[0]
    assert (gpu.gpu, gpu.uuid, gpu.name) == ("0", None, None)
    assert gpu.utilization == 80


def test_duplicate_hostnames_on_different_instances_are_kept_apart(prom: FakePrometheus) -> None:
    prom.targets = [
        Target("10.0.0.1:5000", series=gpulens_metrics("twin")),
        Target("10.0.0.2:5000", series=gpulens_metrics("twin")),
    ]
    message = refresh(poller(prom))
    assert [h.label for h in message.hosts] == ["twin (10.0.0.1:5000)", "twin (10.0.0.2:5000)"]
    assert {h.host for h in message.hosts} == {"twin"} and message.totals.gpus == 4


def test_label_values_with_html_and_control_characters_are_text(prom: FakePrometheus) -> None:
    evil = '<img src=x onerror="alert(1)">\x1b[31mred\x07\n'
    series = [
        (n, {**labels, "Hostname": evil, "modelName": "A100\x00<script>"}, v)
        for n, labels, v in dcgm_metrics("x", gpus=1)
    ]
    prom.targets = [Target("h:9400", job="dcgm", series=series,
                           labels={"gpulens_url": "javascript:alert(1)"})]  # fmt: skip
    hub = RecordingHub()
    host = refresh(poller(prom, hub)).hosts[0]
    assert host.host.startswith('<img src=x onerror="alert(1)">')
    assert not any(ord(c) < 32 or c == "\x7f" for c in host.host + (host.gpus[0].name or ""))
    assert host.gpus[0].name == "A100\ufffd<script>"
    assert host.url is None  # only http(s) links
    frame = json.loads(hub.sent[0])
    assert frame["hosts"][0]["host"] == host.host  # JSON text, for the page to show as text


def test_a_failed_gpu_is_down_and_a_hot_one_hot(prom: FakePrometheus) -> None:
    series = []
    for name, labels, value in gpulens_metrics("b"):
        if name == "gpulens_gpu_up" and labels["gpu"] == "1":
            value = 0.0
        if name == "DCGM_FI_DEV_GPU_TEMP" and labels["gpu"] == "0":
            value = 90.0
        series.append((name, labels, value))
    prom.targets = [Target("b:5000", series=series)]
    gpus = refresh(poller(prom, hot_c=85)).hosts[0].gpus
    assert [g.state for g in gpus] == ["hot", "down"]


def test_prometheus_down_keeps_the_last_hosts_says_why_and_backs_off(
    prom: FakePrometheus,
) -> None:
    p = poller(prom)
    refresh(p)
    good = p.message
    assert good is not None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    p.client = PrometheusClient(dead, timeout=3)
    intervals = []
    for _ in range(6):
        message = refresh(p)
        intervals.append(p.interval)
    assert message.status.state == "unavailable"
    assert message.status.reason == "connection refused"
    assert message.status.queries == 1  # nothing more is asked of a server that is not there
    assert message.hosts == good.hosts  # last known, not emptied, not zeroed
    assert message.status.last_success == good.status.last_success
    assert intervals == [10, 20, 40, 60, 60, 60] and MAX_BACKOFF_S == 60
    p.client = PrometheusClient(prom.url, timeout=3)
    assert refresh(p).status.state == "ok" and p.interval == 5


@pytest.mark.parametrize(
    ("fail", "reason"),
    [
        ("500", "not a Prometheus API answer (HTTP 500, text/plain)"),
        ("error", "Prometheus error (HTTP 422): execution: query timed out"),
        ("html", "not a Prometheus API answer (HTTP 200, text/html)"),
    ],
)
def test_errors_make_the_fleet_unavailable_with_the_reason(
    prom: FakePrometheus, fail: str, reason: str
) -> None:
    prom.fail = fail
    message = refresh(poller(prom))
    assert (message.status.state, message.status.reason) == ("unavailable", reason)
    assert message.hosts == []


def test_a_slow_prometheus_is_a_timeout(prom: FakePrometheus) -> None:
    prom.delay_s = 1.2
    message = refresh(poller(prom, timeout=0.5))
    assert message.status.reason == "Prometheus did not answer within 0.5 s"


def test_a_failing_up_query_degrades_but_keeps_the_gpus(prom: FakePrometheus) -> None:
    original = prom.answer

    def answer(path: str, params: dict[str, str], headers: dict[str, str]) -> Any:
        if params.get("query", "").startswith("up["):
            return 500, "text/plain", "boom"
        return original(path, params, headers)

    prom.answer = answer  # type: ignore[method-assign]
    p = poller(prom)
    message = refresh(p)
    assert message.status.state == "degraded"
    assert message.status.reason == "up: not a Prometheus API answer (HTTP 500, text/plain)"
    assert message.totals.gpus == 13 and p.interval == 10  # backs off too


def test_history_is_one_range_query_aligned_per_gpu(prom: FakePrometheus) -> None:
    p = poller(prom)
    answer = asyncio.run(p.history(1_000_000.0, 1_000_600.0, 60.0))
    assert answer.status.state == "ok" and answer.status.queries == 1
    assert len(answer.series) == 13
    row = next(s for s in answer.series if s.key == "dgx-1:9400" and s.gpu == "0")
    assert (row.host, row.name, row.uuid) == ("dgx-1", "NVIDIA A100-SXM4-80GB", "GPU-dcgm-0")
    assert len(row.times) == 11 == len(row.utilization) == len(row.power_usage)
    assert row.utilization[0] == 80 and row.memory_used[-1] == 40000
    prom.fail = "500"
    failed = asyncio.run(p.history(1_000_000.0, 1_000_600.0, 60.0))
    assert failed.status.state == "unavailable" and failed.series == []
