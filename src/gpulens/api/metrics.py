"""``GET /metrics``: the latest sample in the Prometheus text format, named like dcgm-exporter.

``SampleMetrics``, an observer of the stream, keeps the latest sample, its
status and the read durations; a scrape reads those (and the hub's client
counters) and never polls a GPU, so any number of scrapers costs nothing on
the GPU side.

GPU metrics carry dcgm-exporter's names, HELP texts, types, units and label
set, so Grafana dashboard 12239 and existing alert rules work unchanged:
``gpu``, ``UUID``, ``pci_bus_id``, ``device``, ``modelName``, ``Hostname``
and ``DCGM_FI_DRIVER_VERSION`` (a ``label`` field in dcgm-exporter's default
counters). The host label is ``Hostname``, as dcgm-exporter renders it before
May 2026, which dashboard 12239 and most fleets' rules were written against;
one host label only, never both (see docs/prometheus.md for relabelling).

A value gpulens does not have (``null``) has no sample line, never ``0``; a
failed GPU has no readings at all, only ``gpulens_gpu_up 0``.

Events are counters, kept as long as the process runs, so an alert on
``increase(...)`` sees every repeat, which a "last XID" gauge cannot show (see
deploy/prometheus/): ``gpulens_events_total`` counts each event once, at its
start; ``gpulens_xid_errors_total`` counts every XID the driver reported (the
detector folds repeats of a code into one active finding, this does not). The
findings active now are a gauge (``gpulens_findings_active``) whose rows vanish
when they end.
"""

from __future__ import annotations

import asyncio
import socket
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from fastapi import FastAPI
from prometheus_client import Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector, CollectorRegistry
from starlette.responses import PlainTextResponse, Response

from gpulens import __version__
from gpulens.config import Settings
from gpulens.core.metrics.providers.base import XidEvent
from gpulens.core.metrics.schema import GpuInfo, Telemetry
from gpulens.services.findings.model import Event
from gpulens.services.messages import ProviderStatus
from gpulens.services.stream import Update
from gpulens.services.websocket import Hub

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # what dcgm-exporter serves; every Prometheus reads it

# dcgm-exporter's label set, in its order.
GPU_LABELS = (
    "gpu",
    "UUID",
    "pci_bus_id",
    "device",
    "modelName",
    "Hostname",
    "DCGM_FI_DRIVER_VERSION",
)

# gpulens_gpu_up joins the DCGM series on gpu/UUID; it leaves out the camelCase
# modelName (and the driver version) so that gpulens' own metrics lint clean.
GPU_UP_LABELS = ("gpu", "UUID", "pci_bus_id", "device", "Hostname")

# Events and findings: what and where, in dcgm-exporter's GPU labels (never who: no pid or user).
EVENT_LABELS = ("kind", "severity", "gpu", "UUID", "Hostname")
XID_LABELS = ("gpu", "UUID", "xid", "Hostname")
# Event ids remembered to count each start once: the open episodes, and as many
# finished ones (a start told again after its end must not count twice).
SEEN_EVENT_IDS = 4096

SAMPLE_DURATION_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DcgmField:
    """One dcgm-exporter metric: name, Prometheus type, HELP text and how to read it."""

    name: str
    type: str  # "gauge" or "counter"
    help: str
    read: Callable[[GpuInfo], float | None]


def _mj(joules: float | None) -> float | None:
    return None if joules is None else round(joules * 1000, 3)


# HELP texts are dcgm-exporter's default-counters.csv, verbatim, where the field
# is there; the others (non-default DCGM fields) follow its style.
DCGM_FIELDS: tuple[DcgmField, ...] = (
    DcgmField("DCGM_FI_DEV_SM_CLOCK", "gauge", "SM clock frequency (in MHz).",
              lambda g: g.sm_clock),
    DcgmField("DCGM_FI_DEV_MEM_CLOCK", "gauge", "Memory clock frequency (in MHz).",
              lambda g: g.memory_clock),
    DcgmField("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C).",
              lambda g: g.temperature),
    DcgmField("DCGM_FI_DEV_SLOWDOWN_TEMP", "gauge", "Slowdown temperature threshold (in C).",
              lambda g: g.temperature_slowdown),
    DcgmField("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W).",
              lambda g: g.power_usage),
    DcgmField("DCGM_FI_DEV_POWER_MGMT_LIMIT", "gauge", "Power management limit (in W).",
              lambda g: g.power_limit),
    DcgmField("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter",
              "Total energy consumption since boot (in mJ).",
              lambda g: _mj(g.energy_consumed)),
    DcgmField("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %).",
              lambda g: g.utilization),
    DcgmField("DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", "Memory utilization (in %).",
              lambda g: g.memory_utilization),
    DcgmField("DCGM_FI_DEV_ENC_UTIL", "gauge", "Encoder utilization (in %).",
              lambda g: g.encoder_utilization),
    DcgmField("DCGM_FI_DEV_DEC_UTIL", "gauge", "Decoder utilization (in %).",
              lambda g: g.decoder_utilization),
    DcgmField("DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB).",
              lambda g: g.memory_free),
    DcgmField("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB).",
              lambda g: g.memory_used),
    DcgmField("DCGM_FI_DEV_FB_RESERVED", "gauge", "Framebuffer memory reserved (in MiB).",
              lambda g: g.memory_reserved),
    DcgmField("DCGM_FI_DEV_FB_TOTAL", "gauge", "Total framebuffer memory (in MiB).",
              lambda g: g.memory_total),
    DcgmField("DCGM_FI_DEV_FAN_SPEED", "gauge", "Fan speed for the device in percent 0-100.",
              lambda g: g.fan_speed),
    DcgmField("DCGM_FI_DEV_PSTATE", "gauge", "Performance state (P-State) 0-15.",
              lambda g: g.pstate),
    # NVML's volatile uncorrected total, which is what DCGM reads for this field.
    DcgmField("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "counter",
              "Total number of double-bit volatile ECC errors.",
              lambda g: g.ecc_errors_uncorrected),
)  # fmt: skip

# prometheus-client's text output names a counter ``<name>_total``; dcgm-exporter
# does not (its counters have no suffix), and queries use its names.
_UNSUFFIXED_COUNTERS = tuple(f.name for f in DCGM_FIELDS if f.type == "counter")


def gpu_labels(gpu: GpuInfo, hostname: str) -> list[str]:
    """dcgm-exporter's label values; a value gpulens does not know is the empty string."""
    return [
        str(gpu.id),
        gpu.uuid or "",
        gpu.pci_bus_id or "",
        f"nvidia{gpu.id}",  # dcgm uses the device minor number, which equals the index on
        # ordinary hosts; NVML-only sources do not expose it
        gpu.name,
        hostname,
        gpu.driver_version or "",
    ]


def sample_durations() -> Histogram:
    """The read-duration histogram, one per app (it belongs to no registry of its own)."""
    return Histogram(
        "gpulens_sample_duration_seconds",
        "Time one sample took to read (GPU provider and host), in seconds.",
        buckets=SAMPLE_DURATION_BUCKETS,
        registry=None,
    )


EventKey = tuple[str, str, str, str]  # kind, severity, gpu, UUID
XidKey = tuple[str, str, str]  # gpu, UUID, xid


def key_gpu(key: str, gpus: Iterable[GpuInfo]) -> tuple[str, str]:
    """The ``gpu`` and ``UUID`` labels of the GPU with this key (``GpuInfo.key``).

    The index comes from the sample's GPU of that key; a GPU not in the sample
    (gone since) keeps its UUID and an empty ``gpu``.
    """
    for gpu in gpus:
        if gpu.key == key:
            return str(gpu.id), gpu.uuid or ""
    if key.startswith("index:"):
        return key.removeprefix("index:"), ""
    return "", key


def event_gpu(event: Event) -> tuple[str, str]:
    """The ``gpu`` and ``UUID`` labels of an event's GPU, as ``gpu_labels`` writes them.

    ``gpu`` is the index, ``UUID`` the UUID when the GPU's key is one (a key
    ``index:<n>`` means the source has none); both ``""`` for an event of no GPU.
    """
    index = "" if event.gpu_index is None else str(event.gpu_index)
    key = event.gpu or ""
    return index, "" if key.startswith("index:") else key


class EventCounts:
    """Counts event starts, each event id once, with bounded memory; and XID errors.

    A start is an event first seen with ``end`` None (a finding begins), an
    instant event (``end == start``), or an episode first seen already ended
    (it began and ended between two looks). The end of an episode already
    counted does not count again, nor does a start told twice (or re-told with
    new numbers or a higher severity). XIDs are counted one by one as the
    driver reported them (``Sample.xid``), not as findings: a repeat of a code
    within an active xid finding is one more here. Counts only grow for as long
    as the process runs.
    """

    def __init__(self, remember: int = SEEN_EVENT_IDS) -> None:
        self.remember = remember
        self.events: dict[EventKey, int] = {}
        self.xids: dict[XidKey, int] = {}
        self._open: OrderedDict[str, None] = OrderedDict()  # started, end not seen yet
        self._done: OrderedDict[str, None] = OrderedDict()  # counted and over

    def add(self, event: Event) -> bool:
        """Count ``event`` if it is a start not counted yet; True when it was."""
        ended = event.end is not None
        if event.id in self._open:
            if ended:  # the end of a counted episode
                del self._open[event.id]
                self._remember(self._done, event.id)
            return False
        if event.id in self._done:
            return False
        self._remember(self._done if ended else self._open, event.id)
        gpu, uuid = event_gpu(event)
        key = (event.kind, event.severity, gpu, uuid)
        self.events[key] = self.events.get(key, 0) + 1
        return True

    def add_xid(self, xid: XidEvent, gpus: Iterable[GpuInfo]) -> None:
        """Count one XID error the driver reported."""
        key = (*key_gpu(xid.gpu, gpus), str(xid.code))
        self.xids[key] = self.xids.get(key, 0) + 1

    @property
    def remembered(self) -> int:
        """Event ids held to tell a repeat (at most twice ``remember``)."""
        return len(self._open) + len(self._done)

    def _remember(self, ids: OrderedDict[str, None], event_id: str) -> None:
        ids[event_id] = None
        while len(ids) > self.remember:
            ids.popitem(last=False)  # the oldest: long over, or an end that never came


class SampleMetrics:
    """An observer of the stream: what ``/metrics`` reports of the samples.

    Every sample counts, a repeated one included: the latest payload (GPU
    readings, its time), the provider status, and how long the read took; the
    XID errors and events since the last sample (events counted once per
    start) and the findings active now.

    Observers and scrapes both run on the event loop, so nothing here is shared
    across threads.
    """

    def __init__(self) -> None:
        self.latest: Telemetry | None = None
        self.status = ProviderStatus(state="unavailable", provider=None)
        self.durations = sample_durations()
        self.counts = EventCounts()
        self.findings: dict[EventKey, int] = {}

    def observe(self, update: Update) -> None:
        sample = update.sample
        self.latest = sample.payload
        self.status = sample.status
        self.durations.observe(sample.duration)
        for xid in sample.xid:
            self.counts.add_xid(xid, sample.payload.gpus)
        for event in update.events:
            self.counts.add(event)
        findings: dict[EventKey, int] = {}
        for finding in update.findings:
            key = (finding.kind, finding.severity, *event_gpu(finding))
            findings[key] = findings.get(key, 0) + 1
        self.findings = findings


class GpulensCollector(Collector):
    """Builds every family from the latest sample and the hub's counters, at scrape time."""

    def __init__(self, samples: SampleMetrics, hub: Hub, hostname: str) -> None:
        self.samples = samples
        self.hub = hub
        self.hostname = hostname

    def collect(self) -> Iterable[Metric]:
        latest = self.samples.latest
        if latest is not None:
            yield from self._gpu_families(latest)
        yield from self._own_families(latest)
        yield from self._event_families()

    def _gpu_families(self, latest: Telemetry) -> Iterator[Metric]:
        readable = [(gpu, gpu_labels(gpu, self.hostname)) for gpu in latest.gpus]
        for spec in DCGM_FIELDS:
            family: GaugeMetricFamily | CounterMetricFamily
            if spec.type == "counter":
                family = CounterMetricFamily(spec.name, spec.help, labels=GPU_LABELS)
            else:
                family = GaugeMetricFamily(spec.name, spec.help, labels=GPU_LABELS)
            for gpu, labels in readable:
                if gpu.status != "ok":
                    continue  # a failed GPU has no readings, never stale or zero ones
                value = spec.read(gpu)
                if value is not None:
                    family.add_metric(labels, float(value))
            if family.samples:
                yield family
        up = GaugeMetricFamily(
            "gpulens_gpu_up",
            "1 when the GPU was read, 0 when it is marked failed (it then has no DCGM_* readings).",
            labels=GPU_UP_LABELS,
        )
        keep = [GPU_LABELS.index(name) for name in GPU_UP_LABELS]
        for gpu, labels in readable:
            up.add_metric([labels[i] for i in keep], 1.0 if gpu.status == "ok" else 0.0)
        yield up

    def _own_families(self, latest: Telemetry | None) -> Iterator[Metric]:
        yield InfoMetricFamily("gpulens_build", "gpulens version.", {"version": __version__})
        status, hub = self.samples.status, self.hub
        provider = status.provider or ""
        yield _one(
            "gpulens_provider_up",
            "1 when the GPU provider's last read succeeded for every GPU, else 0.",
            {"provider": provider},
            1.0 if status.state == "ok" else 0.0,
        )
        yield InfoMetricFamily(
            "gpulens_provider",
            "The GPU provider in use and its state (ok, degraded, unavailable).",
            {"provider": provider, "state": status.state},
        )
        if latest is not None:
            yield GaugeMetricFamily(
                "gpulens_gpus", "GPUs in the latest sample, failed ones included.", len(latest.gpus)
            )
            yield GaugeMetricFamily(
                "gpulens_last_sample_timestamp_seconds",
                "Unix time of the latest sample.",
                latest.timestamp.timestamp(),
            )
        for family in self.samples.durations.collect():
            # prometheus-client adds a ``_created`` series; gpulens never exported one.
            family.samples = [s for s in family.samples if not s.name.endswith("_created")]
            yield family
        yield GaugeMetricFamily(
            "gpulens_websocket_clients", "Dashboards connected to /ws/gpu.", len(hub.clients)
        )
        stats = hub.stats
        yield CounterMetricFamily(
            "gpulens_websocket_frames_dropped",
            "Frames dropped because a client's queue was full.",
            stats.frames_dropped,
        )
        yield CounterMetricFamily(
            "gpulens_websocket_clients_closed_slow",
            "Clients closed because they fell too far behind.",
            stats.clients_closed_slow,
        )
        try:  # a scrape runs on the event loop; outside it (tests) there is nothing to count
            tasks = len(asyncio.all_tasks())
        except RuntimeError:
            return
        yield GaugeMetricFamily(
            "gpulens_event_loop_tasks",
            "asyncio tasks alive in the server (about three per client).",
            tasks,
        )

    def _event_families(self) -> Iterator[Metric]:
        counts, host = self.samples.counts, self.hostname
        events = CounterMetricFamily(
            "gpulens_events",
            "Events that started (a finding began, or an instant change such as a GPU "
            "added or removed), by kind and severity; each event once.",
            labels=EVENT_LABELS,
        )
        for key, value in sorted(counts.events.items()):
            events.add_metric([*key, host], float(value))
        xids = CounterMetricFamily(
            "gpulens_xid_errors",
            "XID errors the driver reported, by GPU and XID code; every one, repeats included.",
            labels=XID_LABELS,
        )
        for (gpu, uuid, code), value in sorted(counts.xids.items()):
            xids.add_metric([gpu, uuid, code, host], float(value))
        active = GaugeMetricFamily(
            "gpulens_findings_active",
            "Findings active now (idle holders, unowned memory, throttling...), by kind "
            "and severity; a finding that ended has no row.",
            labels=EVENT_LABELS,
        )
        for key, value in sorted(self.samples.findings.items()):
            active.add_metric([*key, host], float(value))
        for family in (events, xids, active):
            if family.samples:  # nothing happened yet: no empty family, as for the DCGM ones
                yield family


def _one(name: str, documentation: str, labels: dict[str, str], value: float) -> Metric:
    family = GaugeMetricFamily(name, documentation, labels=list(labels))
    family.add_metric(list(labels.values()), value)
    return family


def render(registry: CollectorRegistry) -> bytes:
    """The Prometheus text format (0.0.4), with dcgm-exporter's counter names kept as they are."""
    text = generate_latest(registry).decode("utf-8")
    return _strip_counter_suffix(text, _UNSUFFIXED_COUNTERS).encode("utf-8")


def _strip_counter_suffix(text: str, names: Iterable[str]) -> str:
    prefixes = []
    for name in names:
        suffixed = f"{name}_total"
        prefixes += [
            (f"# HELP {suffixed} ", f"# HELP {name} "),
            (f"# TYPE {suffixed} ", f"# TYPE {name} "),
            (f"{suffixed}{{", f"{name}{{"),
            (f"{suffixed} ", f"{name} "),
        ]
    lines = text.split("\n")
    for index, line in enumerate(lines):
        for old, new in prefixes:
            if line.startswith(old):
                lines[index] = new + line[len(old) :]
                break
    return "\n".join(lines)


def install_metrics(app: FastAPI, settings: Settings, hub: Hub) -> SampleMetrics | None:
    """Add ``GET /metrics`` (or a 404 there when METRICS_ENABLED=false).

    Call it before anything is mounted at ``/``. Returns the observer that feeds
    it, for ``create_app`` to register with the stream (``None`` when disabled).
    """
    if not settings.metrics_enabled:

        async def disabled() -> Response:
            return PlainTextResponse("metrics are disabled (METRICS_ENABLED=false)", 404)

        app.add_api_route("/metrics", disabled, methods=["GET"], include_in_schema=False)
        return None

    samples = SampleMetrics()
    registry = CollectorRegistry(auto_describe=False)
    hostname = settings.metrics_hostname or socket.gethostname()
    registry.register(GpulensCollector(samples, hub, hostname))

    async def metrics() -> Response:
        """Prometheus metrics from the latest sample (never triggers a GPU read)."""
        return Response(render(registry), media_type=CONTENT_TYPE)

    app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
    return samples


__all__ = [
    "DCGM_FIELDS",
    "EVENT_LABELS",
    "GPU_LABELS",
    "XID_LABELS",
    "EventCounts",
    "GpulensCollector",
    "SampleMetrics",
    "install_metrics",
    "render",
]
