"""``GET /metrics``: dcgm-exporter names, types, units and labels from the latest sample."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from gpulens.api.app import create_app
from gpulens.api.metrics import (
    DCGM_FIELDS,
    EVENT_LABELS,
    GPU_LABELS,
    XID_LABELS,
    EventCounts,
    GpulensCollector,
    SampleMetrics,
    render,
)
from gpulens.config import Settings
from gpulens.core.metrics import recording
from gpulens.core.metrics.providers import Selection
from gpulens.core.metrics.providers.base import XidEvent
from gpulens.core.metrics.providers.replay import default_recording
from gpulens.core.metrics.schema import GpuInfo, SystemInfo, Telemetry
from gpulens.services.findings.detector import FindingsDetector, Thresholds
from gpulens.services.findings.model import Detection, Event, EventKind, Severity
from gpulens.services.messages import ClientConfig, ProviderStatus, TemperatureThresholds
from gpulens.services.sampler import Sample as Reading
from gpulens.services.stream import Stream
from gpulens.services.websocket import Hub

DCGM = Path(__file__).parent.parent / "fixtures" / "dcgm-exporter"
TEST_HOST = "testserver"  # TestClient's Host header, allowed below
HOSTNAME = "gpubox-test"

# The dcgm-exporter label set, with a host label named as before May 2026.
LABELS = {"gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname", "DCGM_FI_DRIVER_VERSION"}


# -- helpers -------------------------------------------------------------------


class CountingProvider:
    """Returns the same GPUs on every read and counts the reads."""

    def __init__(self, gpus: list[GpuInfo], name: str = "nvml") -> None:
        self.name = name
        self.gpus = gpus
        self.calls = 0

    def sample(self) -> list[GpuInfo]:
        self.calls += 1
        return list(self.gpus)

    def close(self) -> None:
        return None


class StillSystem:
    def sample(self) -> SystemInfo:
        return SystemInfo(
            cpu_usage=1.0, memory_usage=2.0, load_average=(0.0, 0.0, 0.0), uptime=10,
            disk_utilization=3.0,
        )  # fmt: skip


@dataclass
class Sample:
    name: str
    labels: dict[str, str]
    value: float


@dataclass
class Exposition:
    text: str
    types: dict[str, str] = field(default_factory=dict)
    helps: dict[str, str] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)

    def values(self, name: str) -> dict[str, float]:
        """``{gpu label: value}`` for one metric."""
        return {s.labels.get("gpu", ""): s.value for s in self.samples if s.name == name}

    def one(self, name: str, **labels: str) -> float:
        found = [
            s.value
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        ]
        assert len(found) == 1, f"{name}{labels}: {found}"
        return found[0]


_SAMPLE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> Exposition:
    """A strict little reader of the text format (it keeps names exactly as written)."""
    out = Exposition(text)
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            out.helps[name] = help_text
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            out.types[name] = kind
        elif line:
            match = _SAMPLE.match(line)
            assert match, f"not a sample line: {line!r}"
            labels = dict(_LABEL.findall(match.group(2) or ""))
            out.samples.append(Sample(match.group(1), labels, float(match.group(3))))
    return out


def demo_gpus() -> list[GpuInfo]:
    """The two GPUs of the shipped demo recording's first frame (an H100 trace)."""
    return list(recording.load(default_recording()).frames[0].gpus)


def full_gpu(index: int = 0, **extra: object) -> GpuInfo:
    """A GPU with every field gpulens knows set (the demo lacks energy, fan, ECC...)."""
    values: dict[str, object] = {
        "id": index,
        "name": "NVIDIA H200",
        "uuid": f"GPU-0000000{index}-aaaa-bbbb-cccc-dddddddddddd",
        "pciBusId": f"00000000:00:0{6 + index}.0",
        "driverVersion": "580.159.04",
        "utilization": 57,
        "memoryUtilization": 31,
        "memoryUsed": 9194,
        "memoryTotal": 143771,
        "memoryFree": 134000,
        "memoryReserved": 577,
        "temperature": 58,
        "temperatureSlowdown": 87,
        "powerUsage": 502.25,
        "powerLimit": 700.0,
        "fanSpeed": 41,
        "encoderUtilization": 3,
        "decoderUtilization": 4,
        "smClock": 1890,
        "memoryClock": 3201,
        "pstate": 0,
        "eccErrorsUncorrected": 2,
        "energyConsumed": 1234.567,
    }
    values.update(extra)
    return GpuInfo.model_validate(values)


@dataclass
class Running:
    app: FastAPI
    client: TestClient
    provider: CountingProvider

    def scrape(self) -> Exposition:
        response = self.client.get("/metrics")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        return parse(response.text)


def settings(**kw: Any) -> Settings:
    base: dict[str, Any] = {
        "metrics_hostname": HOSTNAME,
        "poll_interval_ms": 60_000,
        "allowed_hosts": [TEST_HOST],
    }
    base.update(kw)
    return Settings(_env_file=None, **base)


class Serve(Protocol):
    def __call__(self, gpus: list[GpuInfo], **kw: Any) -> Running: ...


@pytest.fixture
def serve() -> Iterator[Serve]:
    """``serve(gpus)``: a started app (lifespan run) whose provider returns ``gpus``."""
    stack: list[TestClient] = []

    def start(gpus: list[GpuInfo], **kw: Any) -> Running:
        provider = CountingProvider(gpus)
        app = create_app(settings(**kw), selection=Selection(provider), system=StillSystem())
        client = TestClient(app)
        client.__enter__()
        stack.append(client)
        # The lifespan reads once, then the loop reads once at once and sleeps a minute:
        # wait for that second read so that nothing else reads while the test looks.
        deadline = time.monotonic() + 10
        while app.state.sampler.ticks < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert app.state.sampler.ticks == 2
        return Running(app, client, provider)

    yield start
    for client in stack:
        client.__exit__(None, None, None)


# -- dcgm-exporter compatibility -------------------------------------------------


def default_counters() -> dict[str, tuple[str, str]]:
    """default-counters.csv (commented-out fields included): name -> (type, help)."""
    table: dict[str, tuple[str, str]] = {}
    for line in (DCGM / "default-counters.csv").read_text().splitlines():
        row = line.lstrip("# ").strip()
        if not row.startswith("DCGM_FI_"):
            continue
        name, kind, help_text = (part.strip() for part in next(csv.reader([row]))[:3])
        table[name] = (kind, help_text)
    return table


def test_types_and_help_texts_are_dcgm_exporters() -> None:
    counters = default_counters()
    checked = 0
    for spec in DCGM_FIELDS:
        if spec.name in counters:
            assert (spec.type, spec.help) == counters[spec.name], spec.name
            checked += 1
    assert checked == 13
    # Real DCGM fields that dcgm-exporter exports when listed in its counters file.
    assert {spec.name for spec in DCGM_FIELDS} - set(counters) == {
        "DCGM_FI_DEV_FB_TOTAL",
        "DCGM_FI_DEV_SLOWDOWN_TEMP",
        "DCGM_FI_DEV_POWER_MGMT_LIMIT",
        "DCGM_FI_DEV_FAN_SPEED",
        "DCGM_FI_DEV_PSTATE",
    }


def test_each_metric_for_both_demo_gpus(serve: Serve) -> None:
    gpus = demo_gpus()
    out = serve(gpus).scrape()
    assert len(gpus) == 2

    # Units: %, MiB, C, W, MHz, as dcgm-exporter; the demo's first frame, read off an H100.
    expected = {
        "DCGM_FI_DEV_GPU_UTIL": {"0": 0, "1": 48},
        "DCGM_FI_DEV_MEM_COPY_UTIL": {"0": 0, "1": 14},
        "DCGM_FI_DEV_ENC_UTIL": {"0": 0, "1": 0},
        "DCGM_FI_DEV_DEC_UTIL": {"0": 0, "1": 0},
        "DCGM_FI_DEV_FB_USED": {"0": 480, "1": 28384},
        "DCGM_FI_DEV_FB_FREE": {"0": 81079, "1": 53175},
        "DCGM_FI_DEV_FB_TOTAL": {"0": 81559, "1": 81559},
        "DCGM_FI_DEV_GPU_TEMP": {"0": 40, "1": 55},
        "DCGM_FI_DEV_POWER_USAGE": {"0": 74.5, "1": 503.19},
        "DCGM_FI_DEV_POWER_MGMT_LIMIT": {"0": 700.0, "1": 700.0},
        "DCGM_FI_DEV_SM_CLOCK": {"0": 345, "1": 1920},
        "DCGM_FI_DEV_MEM_CLOCK": {"0": 2619, "1": 2619},
        "DCGM_FI_DEV_PSTATE": {"0": 0, "1": 0},
    }
    for name, values in expected.items():
        assert out.values(name) == values, name
        assert out.types[name] == "gauge", name

    for gpu in gpus:
        samples = [
            s for s in out.samples if s.name.startswith("DCGM_") and s.labels["gpu"] == str(gpu.id)
        ]
        assert len(samples) == len(expected)
        for sample in samples:
            assert sample.labels == {
                "gpu": str(gpu.id),
                "UUID": gpu.uuid,
                "pci_bus_id": gpu.pci_bus_id,
                "device": f"nvidia{gpu.id}",
                "modelName": "NVIDIA H100 80GB HBM3",
                "Hostname": HOSTNAME,
                "DCGM_FI_DRIVER_VERSION": "580.159.04",
            }
    assert {s.labels["UUID"] for s in out.samples if s.name == "DCGM_FI_DEV_GPU_UTIL"} == {
        "GPU-14beeae4-c99f-cf9b-c3b0-1e4e8d6b8c46",
        "GPU-8bdc187f-8a0f-5d33-899a-e5e718bf488d",
    }


def test_null_values_have_no_sample_line(serve: Serve) -> None:
    # The demo has no energy counter, fan, ECC count, reserved memory or slowdown temperature.
    out = serve(demo_gpus()).scrape()
    for name in (
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
        "DCGM_FI_DEV_FAN_SPEED",
        "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",
        "DCGM_FI_DEV_FB_RESERVED",
        "DCGM_FI_DEV_SLOWDOWN_TEMP",
    ):
        assert name not in out.text, name  # not even an empty family

    partial = full_gpu(0, utilization=None, temperature=None, powerUsage=None)
    out = serve([partial, full_gpu(1)]).scrape()
    for name in ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE"):
        assert set(out.values(name)) == {"1"}, name  # absent for GPU 0, never 0
    assert out.values("DCGM_FI_DEV_SM_CLOCK") == {"0": 1890, "1": 1890}


def test_every_field_with_its_unit(serve: Serve) -> None:
    out = serve([full_gpu(0)]).scrape()
    expected = {
        "DCGM_FI_DEV_GPU_UTIL": 57,
        "DCGM_FI_DEV_MEM_COPY_UTIL": 31,
        "DCGM_FI_DEV_ENC_UTIL": 3,
        "DCGM_FI_DEV_DEC_UTIL": 4,
        "DCGM_FI_DEV_FB_USED": 9194,
        "DCGM_FI_DEV_FB_FREE": 134000,
        "DCGM_FI_DEV_FB_RESERVED": 577,
        "DCGM_FI_DEV_FB_TOTAL": 143771,
        "DCGM_FI_DEV_GPU_TEMP": 58,
        "DCGM_FI_DEV_SLOWDOWN_TEMP": 87,
        "DCGM_FI_DEV_POWER_USAGE": 502.25,
        "DCGM_FI_DEV_POWER_MGMT_LIMIT": 700.0,
        "DCGM_FI_DEV_FAN_SPEED": 41,
        "DCGM_FI_DEV_SM_CLOCK": 1890,
        "DCGM_FI_DEV_MEM_CLOCK": 3201,
        "DCGM_FI_DEV_PSTATE": 0,
        "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL": 2,
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": 1234567,  # J x 1000 = mJ
    }
    assert {s.name for s in out.samples if s.name.startswith("DCGM_")} == set(expected)
    for name, value in expected.items():
        assert out.one(name, gpu="0") == value, name


def test_counters_keep_dcgm_exporter_names(serve: Serve) -> None:
    out = serve([full_gpu(0)]).scrape()
    for name in ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL"):
        assert out.types[name] == "counter"
        assert f"{name}_total" not in out.text
        assert out.helps[name] == default_counters()[name][1]
    assert out.types["gpulens_websocket_frames_dropped_total"] == "counter"


def test_failed_gpu_has_no_readings(serve: Serve) -> None:
    broken = GpuInfo(
        id=1, name="NVIDIA H200", uuid="GPU-broken", pci_bus_id="00000000:00:07.0",
        memory_total=143771, power_limit=700.0, status="failed", error="GPU is lost",
    )  # fmt: skip
    out = serve([full_gpu(0), broken]).scrape()
    dcgm = [s for s in out.samples if s.name.startswith("DCGM_")]
    assert dcgm
    assert all(s.labels["gpu"] == "0" for s in dcgm)  # not even memory total or power limit
    assert out.one("gpulens_gpu_up", gpu="0") == 1
    assert out.one("gpulens_gpu_up", gpu="1", UUID="GPU-broken") == 0
    assert out.one("gpulens_gpus") == 2
    assert out.one("gpulens_provider_up", provider="nvml") == 0  # degraded
    assert out.one("gpulens_provider_info", provider="nvml", state="degraded") == 1


def test_unknown_identity_is_an_empty_label(serve: Serve) -> None:
    anonymous = GpuInfo(id=0, name="NVIDIA H200", utilization=12)
    response = serve([anonymous]).client.get("/metrics")
    line = next(x for x in response.text.splitlines() if x.startswith("DCGM_FI_DEV_GPU_UTIL{"))
    for label in ("UUID", "pci_bus_id", "DCGM_FI_DRIVER_VERSION"):
        assert f'{label}=""' in line
    assert parse(response.text).one("DCGM_FI_DEV_GPU_UTIL", gpu="0", device="nvidia0") == 12


def test_hostname_defaults_to_this_host(serve: Serve) -> None:
    import socket

    out = serve([full_gpu(0)], metrics_hostname=None).scrape()
    assert out.samples[0].labels["Hostname"] == socket.gethostname()
    assert all("hostname" not in s.labels for s in out.samples)  # one host label only


# -- gpulens' own metrics --------------------------------------------------------


def test_own_metrics(serve: Serve) -> None:
    running = serve(demo_gpus())
    hub = running.app.state.hub
    hub.stats.frames_dropped = 7
    hub.stats.clients_closed_slow = 2
    out = running.scrape()
    assert out.one("gpulens_provider_up", provider="nvml") == 1
    assert out.one("gpulens_provider_info", provider="nvml", state="ok") == 1
    assert out.one("gpulens_gpus") == 2
    assert out.one("gpulens_websocket_clients") == 0
    assert out.one("gpulens_websocket_frames_dropped_total") == 7
    assert out.one("gpulens_websocket_clients_closed_slow_total") == 2
    assert out.types["gpulens_sample_duration_seconds"] == "histogram"
    assert out.one("gpulens_sample_duration_seconds_count") == 2  # both reads, via observers
    assert out.one("gpulens_sample_duration_seconds_bucket", le="+Inf") == 2
    assert out.one("gpulens_sample_duration_seconds_sum") > 0
    assert [s.labels["le"] for s in out.samples if s.name.endswith("_bucket")] == [
        "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5",
        "5.0", "10.0", "30.0", "60.0", "+Inf",
    ]  # fmt: skip
    assert "_created" not in out.text  # prometheus-client's extra series stays out, as before
    assert out.one("gpulens_last_sample_timestamp_seconds") > 1.7e9
    assert out.one("gpulens_build_info") == 1


def test_websocket_clients_gauge() -> None:
    provider = CountingProvider(demo_gpus())
    app = create_app(
        settings(poll_interval_ms=250), selection=Selection(provider), system=StillSystem()
    )
    with TestClient(app) as client, client.websocket_connect("/ws/gpu") as ws:
        assert ws.receive_json()["type"] == "hello"
        assert parse(client.get("/metrics").text).one("gpulens_websocket_clients") == 1


def test_no_process_details_in_labels(serve: Serve) -> None:
    out = serve(demo_gpus()).scrape()
    for sample in out.samples:
        assert not {"pid", "command", "process", "user"} & set(sample.labels)
    assert "python3" not in out.text


def test_a_scrape_never_reads_the_gpus(serve: Serve) -> None:
    running = serve(demo_gpus())
    reads = running.provider.calls
    for _ in range(5):
        running.scrape()
    assert running.provider.calls == reads == 2


def test_each_app_has_its_own_registry(serve: Serve) -> None:
    first, second = serve([full_gpu(0)]), serve([full_gpu(0, utilization=9)])
    assert first.scrape().one("DCGM_FI_DEV_GPU_UTIL") == 57
    assert second.scrape().one("DCGM_FI_DEV_GPU_UTIL") == 9
    assert first.scrape().one("gpulens_sample_duration_seconds_count") == 2


def test_disabled_is_404_even_with_the_dashboard(serve: Serve, tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>gpulens</title>")
    running = serve(demo_gpus(), metrics_enabled=False, static_dir=tmp_path)
    response = running.client.get("/metrics")
    assert response.status_code == 404
    assert "gpulens" not in response.text  # not the SPA fallback


def test_metrics_go_through_the_host_check_and_headers(serve: Serve) -> None:
    running = serve(demo_gpus())
    ok = running.client.get("/metrics")
    assert ok.headers["x-content-type-options"] == "nosniff"
    assert running.client.get("/metrics", headers={"host": "evil.example"}).status_code == 403


def test_served_with_the_dashboard_mounted(serve: Serve, tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>gpulens</title>")
    out = serve(demo_gpus(), static_dir=tmp_path).scrape()  # not shadowed by the mount at /
    assert out.values("DCGM_FI_DEV_GPU_UTIL") == {"0": 0, "1": 48}


# -- promtool ------------------------------------------------------------------

# What promtool's linter says about dcgm-exporter's own naming, which gpulens keeps on
# purpose (dashboards and rules query these exact names): the ``modelName`` label is
# camelCase, and dcgm-exporter's counters have no ``_total`` suffix.
DCGM_LINT = (
    re.compile(r"^DCGM_FI_\w+ label names should be written in 'snake_case' not 'camelCase'$"),
    re.compile(
        r"^(DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION|DCGM_FI_DEV_ECC_DBE_VOL_TOTAL) "
        r'counter metrics should have "_total" suffix$'
    ),
)


def promtool(text: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.skip("promtool is not installed (scripts/system-packages.sh promtool)")
    return subprocess.run(
        [binary, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )


def family(line: str) -> str:
    """The metric a line of the text format belongs to."""
    if line.startswith("# "):
        return line.split(" ")[2]
    return re.split(r"[{ ]", line, maxsplit=1)[0]


def test_promtool_check_metrics(serve: Serve) -> None:
    broken = GpuInfo(id=2, name="NVIDIA H200", status="failed", error="lost")
    running = serve([*demo_gpus(), full_gpu(3), broken])
    text = running.client.get("/metrics").text
    result = promtool(text)
    problems = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    # Exit status 3 is "lint problems", 1 a file it could not parse.
    assert result.returncode in (0, 3), problems
    unexpected = [p for p in problems if not any(rule.match(p) for rule in DCGM_LINT)]
    assert unexpected == []
    assert problems, "expected promtool to flag dcgm-exporter's camelCase modelName label"

    own = "".join(line + "\n" for line in text.splitlines() if not family(line).startswith("DCGM_"))
    assert "gpulens_gpus" in own
    clean = promtool(own)
    assert clean.returncode == 0, clean.stdout + clean.stderr  # gpulens' own metrics lint clean


def test_labels_constant_matches_dcgm_exporter() -> None:
    assert set(GPU_LABELS) == LABELS
    readme = (DCGM / "README.md").read_text()
    for label in ("gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname"):
        assert f"`{label}" in readme or f"{label}=" in readme, label


# -- events and findings -------------------------------------------------------

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
UUID0 = "GPU-00000000-aaaa-bbbb-cccc-dddddddddddd"


def event(
    event_id: str,
    kind: EventKind = "idleHolding",
    *,
    severity: Severity = "warning",
    end: datetime | None = None,
    gpu: str | None = UUID0,
    index: int | None = 0,
    value: float | None = None,
) -> Event:
    return Event(
        id=event_id, kind=kind, severity=severity, start=T0, end=end, gpu=gpu, gpu_index=index,
        pid=4242, process="python3", user="alice", summary="what happened", action="what to do",
        value=value,
    )  # fmt: skip


def ended(started: Event) -> Event:
    return started.model_copy(update={"end": T0 + timedelta(minutes=5)})


def instant(event_id: str, kind: EventKind, **kw: Any) -> Event:
    return event(event_id, kind, end=T0, **kw)


class ScriptedDetector:
    """Hands the stream the next ``(events, findings)`` on each sample."""

    def __init__(self) -> None:
        self.next: tuple[tuple[Event, ...], tuple[Event, ...]] = ((), ())

    def step(self, sample: Any, changes: Any, status_changed: bool) -> Detection:
        events, findings = self.next
        return Detection(findings, True, events)


class Watched:
    """A real stream with a scripted detector and the /metrics observer, scraped as text."""

    def __init__(self) -> None:
        self.detector = ScriptedDetector()
        self.metrics = SampleMetrics()
        self.stream = Stream(
            ClientConfig(
                poll_interval_ms=250, ws_backlog=5, heartbeat_interval_ms=1000, max_rate=5.0,
                hostname=HOSTNAME, version="test", busy_utilization=10,
                temperature_thresholds=TemperatureThresholds(warn=70, hot=85),
            ),
            [self.metrics],
            detector=self.detector,
        )  # fmt: skip
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(GpulensCollector(self.metrics, Hub(), HOSTNAME))
        self.readings = 0

    def step(
        self, *events: Event, findings: tuple[Event, ...] = (), xids: tuple[XidEvent, ...] = ()
    ) -> Exposition:
        self.detector.next = (events, findings)
        self.readings += 1  # a new reading each time, though a repeat would be counted too
        gpus = [full_gpu(0, utilization=self.readings % 100)]
        payload = Telemetry.model_validate(
            {"seq": 0, "timestamp": datetime.now(UTC), "source": "nvml", "gpus": gpus,
             "system": StillSystem().sample()}
        )  # fmt: skip
        update = self.stream.publish(
            Reading(payload, ProviderStatus(state="ok", provider="nvml"), 0.001, xids)
        )
        assert update.events == events
        return self.scrape()

    def scrape(self) -> Exposition:
        return parse(render(self.registry).decode())


Labels = tuple[tuple[str, str], ...]


def events_of(out: Exposition, name: str = "gpulens_events_total") -> dict[Labels, float]:
    return {tuple(sorted(s.labels.items())): s.value for s in out.samples if s.name == name}


def test_an_event_counts_once_per_start_not_per_end() -> None:
    watched = Watched()
    assert "gpulens_events" not in watched.scrape().text  # nothing yet: no empty family

    idle = event("idle-1")
    out = watched.step(idle, findings=(idle,))
    labels = {"kind": "idleHolding", "severity": "warning", "gpu": "0", "UUID": UUID0,
              "Hostname": HOSTNAME}  # fmt: skip
    assert out.one("gpulens_events_total", **labels) == 1
    assert out.one("gpulens_findings_active", **labels) == 1
    assert out.types["gpulens_events_total"] == "counter"
    assert out.types["gpulens_findings_active"] == "gauge"

    out = watched.step(idle, findings=(idle,))  # the same start told again
    assert out.one("gpulens_events_total", **labels) == 1

    out = watched.step(ended(idle))  # its end: the finding is over, the count stays
    assert out.one("gpulens_events_total", **labels) == 1
    assert "gpulens_findings_active" not in out.text  # a gauge row that ended is gone
    out = watched.step(ended(idle))
    out = watched.step(idle)  # a start told after its end is still the same episode
    assert out.one("gpulens_events_total", **labels) == 1

    again = event("idle-2")  # a new episode of the same kind on the same GPU
    out = watched.step(again, findings=(again,))
    assert out.one("gpulens_events_total", **labels) == 2
    out = watched.step(ended(again))
    out = watched.step()
    assert out.one("gpulens_events_total", **labels) == 2  # never down, never gone
    for sample in out.samples:
        assert not {"pid", "process", "user", "container"} & set(sample.labels)
    assert "alice" not in out.text
    assert "python3" not in out.text


def test_an_episode_first_seen_ended_counts_once() -> None:
    watched = Watched()
    short = ended(event("hot-1", "hot"))  # began and ended between two looks
    out = watched.step(short)
    assert out.one("gpulens_events_total", kind="hot") == 1
    out = watched.step(short)
    assert out.one("gpulens_events_total", kind="hot") == 1


def test_instant_events_and_labels() -> None:
    watched = Watched()
    out = watched.step(
        instant("removed-1", "gpuRemoved", severity="critical"),
        instant("xid-1", "xid", severity="critical", value=79),
        instant("xid-2", "xid", severity="critical", value=79),
        instant("xid-3", "xid", severity="critical", value=48.0, gpu="index:3", index=3),
        instant("provider-1", "provider", severity="info", gpu=None, index=None),
    )
    assert events_of(out) == {
        (("Hostname", HOSTNAME), ("UUID", UUID0), ("gpu", "0"), ("kind", "gpuRemoved"),
         ("severity", "critical")): 1,
        (("Hostname", HOSTNAME), ("UUID", UUID0), ("gpu", "0"), ("kind", "xid"),
         ("severity", "critical")): 2,
        (("Hostname", HOSTNAME), ("UUID", ""), ("gpu", "3"), ("kind", "xid"),
         ("severity", "critical")): 1,  # a GPU keyed by index has no UUID
        (("Hostname", HOSTNAME), ("UUID", ""), ("gpu", ""), ("kind", "provider"),
         ("severity", "info")): 1,  # an event of no GPU
    }  # fmt: skip
    assert set(EVENT_LABELS) == {"kind", "severity", "gpu", "UUID", "Hostname"}
    assert "gpulens_xid_errors" not in out.text  # counted from the driver's XIDs, below


def test_every_xid_the_driver_reported_counts() -> None:
    watched = Watched()
    now = time.time()
    first = instant("xid-1", "xid", severity="critical", value=79)
    # Two XID 79 in one sample: the detector makes one finding of them, the counter two.
    out = watched.step(
        first,
        findings=(first,),
        xids=(XidEvent(UUID0, 79, now), XidEvent(UUID0, 79, now),
              XidEvent("index:3", 48, now),  # a GPU with no UUID
              XidEvent("GPU-gone", 13, now)),  # a GPU no longer in the sample
    )  # fmt: skip
    assert events_of(out, "gpulens_xid_errors_total") == {
        (("Hostname", HOSTNAME), ("UUID", UUID0), ("gpu", "0"), ("xid", "79")): 2,
        (("Hostname", HOSTNAME), ("UUID", ""), ("gpu", "3"), ("xid", "48")): 1,
        (("Hostname", HOSTNAME), ("UUID", "GPU-gone"), ("gpu", ""), ("xid", "13")): 1,
    }
    assert out.types["gpulens_xid_errors_total"] == "counter"
    assert set(XID_LABELS) == {"gpu", "UUID", "xid", "Hostname"}
    assert out.one("gpulens_events_total", kind="xid") == 1

    # A repeat while the finding is active: the detector re-tells it (same id), the
    # XID counter goes up, the event count does not.
    out = watched.step(first, findings=(first,), xids=(XidEvent(UUID0, 79, now + 1),))
    assert out.one("gpulens_xid_errors_total", xid="79") == 3
    assert out.one("gpulens_events_total", kind="xid") == 1
    out = watched.step(ended(first))
    assert out.one("gpulens_xid_errors_total", xid="79") == 3  # kept after the finding ends
    assert "gpulens_findings_active" not in out.text


def test_findings_gauge_follows_the_active_findings() -> None:
    watched = Watched()
    a, b = event("idle-a"), event("idle-b")
    hot = event("hot-1", "hot", severity="critical", gpu="GPU-other", index=1)
    out = watched.step(a, b, hot, findings=(hot, a, b))
    assert out.one("gpulens_findings_active", kind="idleHolding", gpu="0") == 2
    assert out.one("gpulens_findings_active", kind="hot", severity="critical", gpu="1",
                   UUID="GPU-other") == 1  # fmt: skip
    out = watched.step(ended(a), findings=(hot, b))
    assert out.one("gpulens_findings_active", kind="idleHolding", gpu="0") == 1
    out = watched.step(ended(hot), ended(b))
    assert "gpulens_findings_active" not in out.text
    assert out.one("gpulens_events_total", kind="idleHolding") == 2
    assert out.one("gpulens_events_total", kind="hot") == 1


def test_event_families_parse_as_the_text_format() -> None:
    watched = Watched()
    idle = event("idle-1")
    watched.step(idle, findings=(idle,), xids=(XidEvent(UUID0, 31, time.time()),))
    text = render(watched.registry).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["gpulens_events"].type == "counter"
    assert families["gpulens_events"].documentation.startswith("Events that started")
    assert families["gpulens_xid_errors"].type == "counter"
    assert families["gpulens_findings_active"].type == "gauge"
    assert families["gpulens_findings_active"].documentation
    xid = families["gpulens_xid_errors"].samples
    assert [(s.name, s.labels, s.value) for s in xid] == [
        ("gpulens_xid_errors_total",
         {"gpu": "0", "UUID": UUID0, "xid": "31", "Hostname": HOSTNAME}, 1.0),
    ]  # fmt: skip
    assert "_created" not in text
    own = "".join(line + "\n" for line in text.splitlines() if not family(line).startswith("DCGM_"))
    result = promtool(own)
    assert result.returncode == 0, result.stdout + result.stderr  # lints clean


def test_remembered_event_ids_are_bounded() -> None:
    counts = EventCounts(remember=8)
    for n in range(100):
        assert counts.add(instant(f"x-{n}", "gpuAdded", severity="info"))
        assert counts.add(event(f"open-{n}"))  # ends that never come
        assert counts.remembered <= 16
    assert counts.events[("gpuAdded", "info", "0", UUID0)] == 100
    assert not counts.add(instant("x-99", "gpuAdded", severity="info"))  # recent: a repeat
    assert not counts.add(ended(event("open-99")))


def test_the_real_detector_through_the_stream() -> None:
    """XID repeats, a lost GPU that returns: the counters and gauge the detector's events give."""
    metrics = SampleMetrics()
    stream = Stream(
        ClientConfig(
            poll_interval_ms=1000, ws_backlog=5, heartbeat_interval_ms=1000, max_rate=5.0,
            hostname=HOSTNAME, version="test", busy_utilization=10,
            temperature_thresholds=TemperatureThresholds(warn=70, hot=85),
        ),
        [metrics],
        detector=FindingsDetector(Thresholds(), host_pids=True, pid_exists=lambda pid: True),
    )  # fmt: skip
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GpulensCollector(metrics, Hub(), HOSTNAME))
    t0 = T0.timestamp()
    gpu = full_gpu(0, memoryUsed=300)  # little used, no process listed: no unowned memory

    def step(t: int, gpus: list[GpuInfo], xids: tuple[XidEvent, ...] = ()) -> Exposition:
        payload = Telemetry(
            seq=0, timestamp=datetime.fromtimestamp(t0 + t, UTC), source="nvml", gpus=gpus,
            system=StillSystem().sample(),
        )  # fmt: skip
        stream.publish(Reading(payload, ProviderStatus(state="ok", provider="nvml"), 0.001, xids))
        return parse(render(registry).decode())

    for t in range(50):  # XID 79 every 5 s: one finding, ten errors
        out = step(t, [gpu], (XidEvent(gpu.key, 79, t0 + t),) if t % 5 == 0 else ())
    assert out.one("gpulens_xid_errors_total", gpu="0", UUID=gpu.uuid or "", xid="79") == 10
    assert out.one("gpulens_events_total", kind="xid", severity="critical", gpu="0") == 1
    assert out.one("gpulens_findings_active", kind="xid", gpu="0") == 1
    for t in range(50, 130):  # quiet: the finding ends, the counts stay
        out = step(t, [gpu])
    assert "gpulens_findings_active" not in out.text
    assert out.one("gpulens_xid_errors_total", xid="79") == 10
    assert out.one("gpulens_events_total", kind="xid") == 1

    lost = gpu.as_failed("GPU is lost (NVML_ERROR_GPU_IS_LOST)")
    for t in range(130, 160):
        out = step(t, [lost])
    assert out.one("gpulens_events_total", kind="gpuLost", severity="critical", gpu="0") == 1
    assert out.one("gpulens_findings_active", kind="gpuLost", gpu="0") == 1
    for t in range(160, 240):
        out = step(t, [gpu])
    assert out.one("gpulens_events_total", kind="gpuLost") == 1
    assert "gpulens_findings_active" not in out.text
