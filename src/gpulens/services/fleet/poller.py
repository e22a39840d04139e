"""The fleet loop: one refresh every FLEET_REFRESH_S, at most three PromQL queries, one frame.

Each refresh asks Prometheus (see docs/fleet.md, "The fleet server"):

1. every GPU series at once, each series' newest sample of the last FLEET_STALE_S
   (``last_over_time({__name__=~"DCGM_FI_DEV_GPU_UTIL|…|gpulens_build_info"}[45s])``): a
   target whose series all left the window is stale;
2. ``up[45s]``: every target's scrape result, joined to the GPUs on ``instance``;
3. every Nth refresh (each HISTORY_STEP_S), one range query for the utilization sparklines.

It builds one ``Fleet`` message, serialises it once, keeps it for new clients and
``/api/fleet``, and broadcasts it when it changed: the cost does not depend on how many
pages are open. A failed refresh keeps the last-known hosts, says which failure, and
doubles the wait (up to a minute) until Prometheus answers again.

Host states: ``up`` (up == 1, samples fresh), ``down`` (up == 0: its last-known GPUs stay,
marked down, never zeros), ``stale`` (no sample newer than FLEET_STALE_S). A target with
``up`` but no GPU series is a host with 0 GPUs when its job has GPU targets (a Prometheus
also scrapes itself, node exporters…: those are not GPU hosts).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlsplit

from gpulens.core.metrics.text import clean_name
from gpulens.services.fleet.client import PrometheusClient, PrometheusError, Series
from gpulens.services.fleet.model import (
    Exporter,
    Fleet,
    FleetGpu,
    FleetGpuState,
    FleetHistoryResponse,
    FleetHistorySeries,
    FleetHost,
    FleetHostState,
    FleetStatus,
    FleetTotals,
)

log = logging.getLogger("gpulens.fleet")

UTIL = "DCGM_FI_DEV_GPU_UTIL"
FB_USED = "DCGM_FI_DEV_FB_USED"
FB_FREE = "DCGM_FI_DEV_FB_FREE"
FB_RESERVED = "DCGM_FI_DEV_FB_RESERVED"
FB_TOTAL = "DCGM_FI_DEV_FB_TOTAL"  # gpulens exports it; dcgm-exporter only when configured
TEMP = "DCGM_FI_DEV_GPU_TEMP"
POWER = "DCGM_FI_DEV_POWER_USAGE"
GPU_UP = "gpulens_gpu_up"
BUILD = "gpulens_build_info"  # every gpulens target has it, GPUs or not
GPU_METRICS = (UTIL, FB_USED, FB_FREE, FB_RESERVED, FB_TOTAL, TEMP, POWER, GPU_UP)
HISTORY_METRICS = {
    UTIL: "utilization",
    FB_USED: "memory_used",
    TEMP: "temperature",
    POWER: "power_usage",
}

SPARK_WINDOW_S = 600
SPARK_STEP_S = 30
MAX_BACKOFF_S = 60.0
FORGET_AFTER_S = 3600.0  # a host gone from Prometheus for this long leaves the fleet
MAX_LABEL = 200
CLEAN_CACHE = 16384  # distinct label values remembered cleaned: 1000 hosts x 8 GPUs' UUIDs
CLEAN_CACHE_CHARS = MAX_LABEL * 8  # a longer value is cleaned each time, never kept


def duration(seconds: float) -> str:
    """A PromQL duration: whole milliseconds."""
    return f"{max(1, math.ceil(seconds * 1000))}ms"


def gpu_query(window_s: float) -> str:
    """Each GPU series' newest sample of the window, one point per series (last_over_time
    keeps the metric name): a ninth of the answer that the raw samples were at a 5 s scrape
    interval, and JSON decoding is most of a refresh's cost. Its time is the query's; when a
    target was last seen is kept by the poller (``_Known``)."""
    names = "|".join((*GPU_METRICS, BUILD))
    return f'last_over_time({{__name__=~"{names}"}}[{duration(window_s)}])'


def up_query(window_s: float) -> str:
    return f"up[{duration(window_s)}]"


SPARK_QUERY = UTIL
HISTORY_QUERY = '{__name__=~"' + "|".join(HISTORY_METRICS) + '"}'


@dataclass(frozen=True, slots=True)
class FleetOptions:
    refresh_s: float = 5.0
    stale_s: float = 45.0
    busy_pct: float = 10.0
    hot_c: float = 85.0
    link_label: str = "gpulens_url"


class Broadcaster(Protocol):
    """What the poller needs from the hub."""

    def broadcast(self, frame: str) -> None: ...

    def remember(self, kind: str, frame: str) -> None: ...


GpuKey = tuple[str, str]  # (gpu index label, UUID label)


@dataclass(slots=True)
class _Gpu:
    """One GPU's latest values, as read from its series."""

    gpu: str
    uuid: str | None = None
    name: str | None = None
    values: dict[str, float | None] = field(default_factory=dict)


@dataclass(slots=True)
class _Target:
    """What one refresh learnt about one instance."""

    instance: str
    job: str = ""
    hostname: str | None = None
    url: str | None = None
    gpulens: bool = False
    dcgm: bool = False
    last_sample: float | None = None
    gpus: dict[GpuKey, _Gpu] = field(default_factory=dict)

    def saw(self, when: float) -> None:
        if self.last_sample is None or when > self.last_sample:
            self.last_sample = when


@dataclass(slots=True)
class _Known:
    """A host as last seen up: what a down or stale host keeps showing."""

    host: str
    job: str
    exporter: Exporter
    url: str | None
    last_sample: float | None
    gpus: dict[GpuKey, _Gpu]


def clean(raw: str | None) -> str | None:
    """A label value as text: control characters and escapes out, length capped.

    Each series repeats its target's and its GPU's labels (100 hosts x 8 GPUs: about
    12,000 label values a refresh, a few thousand distinct): each distinct value is
    cleaned once and remembered (a bounded cache, short values only)."""
    if raw is None:
        return None
    if len(raw) > CLEAN_CACHE_CHARS:
        return clean_name(raw, MAX_LABEL)
    return _clean_cached(raw)


@functools.lru_cache(maxsize=CLEAN_CACHE)
def _clean_cached(raw: str) -> str | None:
    return clean_name(raw, MAX_LABEL)


def instance_host(instance: str) -> str:
    """The host part of ``host:port`` (``[::1]:9400`` → ``::1``)."""
    try:
        host = urlsplit(f"//{instance}").hostname
    except ValueError:
        host = None
    return host or instance


def link(raw: str | None) -> str | None:
    """A host's page URL from its link label: http(s) with a host, else nothing."""
    if not raw:
        return None
    text = clean(raw)
    if text is None or text != raw.strip():
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return text


def gpu_order(gpu: FleetGpu) -> tuple[int, str, str]:
    return (int(gpu.gpu) if gpu.gpu.isdigit() else 1 << 30, gpu.gpu, gpu.uuid or "")


class FleetPoller:
    """The one loop that asks Prometheus about the fleet and tells every page."""

    def __init__(
        self,
        client: PrometheusClient,
        options: FleetOptions,
        hub: Broadcaster | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self.options = options
        self.hub = hub
        self.clock = clock
        self.sleep = sleep
        self.interval = options.refresh_s
        self.message: Fleet | None = None
        self.frame: str | None = None  # the message, serialised once
        self.refreshes = 0
        self.broadcasts = 0
        self._known: dict[str, _Known] = {}
        self._gpu_jobs: set[str] = set()
        self._spark: dict[tuple[str, GpuKey], list[float | None]] = {}
        self._spark_every = max(1, round(SPARK_STEP_S / options.refresh_s))
        self._spark_due = True
        self._fingerprint: object = None
        self._last_success: float | None = None

    # -- the loop -----------------------------------------------------------------------

    async def run(self) -> None:
        """Refresh forever; a failure waits longer each time (up to a minute)."""
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug here must not end fleet mode, nor touch the rest
                log.exception("fleet refresh failed")
                self._back_off()
            await self.sleep(self.interval)

    def _back_off(self) -> None:
        cap = max(MAX_BACKOFF_S, self.options.refresh_s)
        self.interval = min(cap, max(self.interval, self.options.refresh_s) * 2)

    @property
    def state(self) -> FleetStatus | None:
        return None if self.message is None else self.message.status

    async def refresh(self) -> Fleet:
        """One refresh: the queries, the message, the broadcast when it changed."""
        started = time.perf_counter()
        first_query = self.client.queries
        now = self.clock()
        window = self.options.stale_s
        problems: list[str] = []
        try:
            gpu_series = await self.client.query(gpu_query(window), at=now, last_only=True)
        except PrometheusError as exc:
            return self._publish(self._failed(exc.reason, now, started, first_query))
        try:
            up_series: list[Series] | None = await self.client.query(
                up_query(window), at=now, last_only=True
            )
        except PrometheusError as exc:
            up_series = None
            problems.append(f"up: {exc.reason}")
        if self._spark_due or self.refreshes % self._spark_every == 0:
            try:
                await self._sparklines(now)
                self._spark_due = False
            except PrometheusError as exc:
                self._spark_due = True
                problems.append(f"sparklines: {exc.reason}")
        self.refreshes += 1
        hosts = self._hosts(gpu_series, up_series, now)
        status = FleetStatus(
            state="degraded" if problems else "ok",
            reason="; ".join(problems) or None,
            last_refresh=round(self.clock(), 3),
            last_success=round(now, 3),
            queries=self.client.queries - first_query,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        self._last_success = status.last_success
        if problems:
            self._back_off()
        else:
            self.interval = self.options.refresh_s
        return self._publish(self._message(hosts, status, now))

    def _failed(self, reason: str, now: float, started: float, first_query: int) -> Fleet:
        """Prometheus could not be asked: the last-known hosts stay, the status says why."""
        self._back_off()
        status = FleetStatus(
            state="unavailable",
            reason=reason,
            last_refresh=round(self.clock(), 3),
            last_success=self._last_success,
            queries=self.client.queries - first_query,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        hosts = [] if self.message is None else list(self.message.hosts)
        return self._message(hosts, status, now)

    def _message(self, hosts: list[FleetHost], status: FleetStatus, now: float) -> Fleet:
        gpus = [g for h in hosts for g in h.gpus]
        states = Counter(g.state for g in gpus)
        totals = FleetTotals(
            hosts=len(hosts),
            hosts_down=sum(1 for h in hosts if h.state != "up"),
            gpus=len(gpus),
            busy=states["busy"],
            idle=states["idle"],
            hot=states["hot"],
        )
        return Fleet(
            timestamp=datetime.fromtimestamp(now, UTC), status=status, hosts=hosts, totals=totals
        )

    def _publish(self, message: Fleet) -> Fleet:
        was = self.message.status.state if self.message is not None else None
        if message.status.state != was:
            if message.status.state == "unavailable":
                log.warning("fleet: Prometheus unavailable: %s", message.status.reason)
            elif message.status.state == "degraded":
                log.warning("fleet: partly unavailable: %s", message.status.reason)
            elif was is not None:
                log.info("fleet: Prometheus answers again")
        self.message = message
        self.frame = message.model_dump_json(by_alias=True)  # once, whatever the page count
        status = message.status
        fingerprint = (message.hosts, status.state, status.reason)
        if self.hub is not None:
            self.hub.remember("fleet", self.frame)
            if fingerprint != self._fingerprint:
                self.hub.broadcast(self.frame)
                self.broadcasts += 1
        self._fingerprint = fingerprint
        return message

    # -- building the hosts -------------------------------------------------------------

    def _collect(self, gpu_series: Iterable[Series]) -> dict[str, _Target]:
        targets: dict[str, _Target] = {}
        # Every series repeats its target's and GPU's labels: each raw instance and
        # (instance, gpu, UUID) is cleaned and looked up once a refresh, not once a series.
        by_instance: dict[str | None, _Target] = {}
        by_gpu: dict[tuple[str | None, str | None, str | None], _Gpu] = {}
        label = self.options.link_label
        for series in gpu_series:
            points = series.points
            if not points:
                continue
            when, value = points[-1]
            labels = series.labels
            raw_instance = labels.get("instance")
            target = by_instance.get(raw_instance)
            if target is None:
                instance = clean(raw_instance) or ""
                target = targets.get(instance)
                if target is None:
                    job = clean(labels.get("job")) or ""
                    target = targets[instance] = _Target(instance, job=job)
                by_instance[raw_instance] = target
            target.saw(when)
            if target.url is None:
                target.url = link(labels.get(label))
            name = labels.get("__name__", "")
            if name.startswith("gpulens_"):
                target.gpulens = True
            else:
                target.dcgm = True
            if name == BUILD:
                continue
            if target.hostname is None:
                target.hostname = clean(labels.get("Hostname") or labels.get("hostname"))
            raw_key = (raw_instance, labels.get("gpu"), labels.get("UUID"))
            entry = by_gpu.get(raw_key)
            if entry is None:
                gpu = clean(raw_key[1]) or ""
                uuid = clean(raw_key[2])
                key = (gpu, uuid or "")
                entry = target.gpus.get(key)
                if entry is None:
                    entry = target.gpus[key] = _Gpu(gpu=gpu, uuid=uuid)
                by_gpu[raw_key] = entry
            if entry.name is None:
                entry.name = clean(labels.get("modelName"))
            entry.values[name] = value
        return targets

    def _hosts(
        self, gpu_series: list[Series], up_series: list[Series] | None, now: float
    ) -> list[FleetHost]:
        targets = self._collect(gpu_series)
        self._gpu_jobs.update(t.job for t in targets.values())
        ups: dict[str, tuple[float | None, float, dict[str, str]]] = {}
        for series in up_series or ():
            last = series.last
            if last is not None:
                instance = clean(series.labels.get("instance")) or ""
                ups[instance] = (last[1], last[0], series.labels)
        wanted = set(targets) | set(self._known)
        wanted |= {i for i, (_, _, lab) in ups.items() if clean(lab.get("job")) in self._gpu_jobs}
        hosts: list[FleetHost] = []
        for instance in wanted:
            host = self._host(instance, targets.get(instance), ups.get(instance), now)
            if host is not None:
                hosts.append(host)
        names = Counter(h.host for h in hosts)
        hosts = [
            h if names[h.host] == 1 else h.model_copy(update={"label": f"{h.host} ({h.instance})"})
            for h in hosts
        ]
        hosts.sort(key=lambda h: (h.label.lower(), h.instance))
        return hosts

    def _host(
        self,
        instance: str,
        target: _Target | None,
        up: tuple[float | None, float, dict[str, str]] | None,
        now: float,
    ) -> FleetHost | None:
        known = self._known.get(instance)
        state: FleetHostState
        reason: str | None = None
        if up is not None and up[0] != 1:
            state = "down"
            reason = "Prometheus cannot scrape it (up = 0)"
        elif up is not None:
            state = "up"
        elif target is not None and target.last_sample is not None:
            # No `up` for it: the up query failed, or its series reach Prometheus without a
            # scrape of their own (honor_labels, federation, remote write). Its samples' own
            # time says: up while fresh, stale after FLEET_STALE_S; never dropped.
            if now - target.last_sample <= self.options.stale_s:
                state = "up"
            else:
                state = "stale"
                reason = f"no sample for over {self.options.stale_s:g} s"
        else:
            if known is None or (
                known.last_sample is not None and now - known.last_sample > FORGET_AFTER_S
            ):
                self._known.pop(instance, None)
                return None
            state = "stale"
            reason = f"no sample for over {self.options.stale_s:g} s"
        up_labels = up[2] if up is not None else {}
        job = (
            clean(up_labels.get("job"))
            or (target.job if target else "")
            or (known.job if known else "")
        )
        url = link(up_labels.get(self.options.link_label)) or (target.url if target else None)
        name = (target.hostname if target else None) or (known.host if known else None)
        host = name or instance_host(instance)
        exporter: Exporter = "unknown"
        if target is not None and target.gpulens:
            exporter = "gpulens"
        elif target is not None and target.dcgm:
            exporter = "dcgm-exporter"
        elif known is not None:
            exporter = known.exporter
        last_sample = target.last_sample if target else None
        if up is not None and (last_sample is None or up[1] > last_sample):
            last_sample = up[1]
        if state == "up":
            gpus = target.gpus if target is not None else {}
            self._known[instance] = _Known(host, job, exporter, url, last_sample, dict(gpus))
        else:
            gpus = known.gpus if known is not None else (target.gpus if target else {})
            if known is not None:
                # When it was last seen up (the failed scrapes of a down host are newer).
                last_sample = known.last_sample if known.last_sample is not None else last_sample
                url = url or known.url
        override: FleetGpuState | None = None if state == "up" else state
        fleet_gpus = sorted(
            (self._gpu(instance, key, g, override) for key, g in gpus.items()), key=gpu_order
        )
        return FleetHost(
            key=instance,
            host=host,
            label=host,
            instance=instance,
            job=job,
            exporter=exporter,
            state=state,
            last_sample=last_sample,
            url=url,
            reason=reason,
            gpus=fleet_gpus,
        )

    def _gpu(
        self, instance: str, key: GpuKey, gpu: _Gpu, override: FleetGpuState | None
    ) -> FleetGpu:
        values = gpu.values
        used, free = values.get(FB_USED), values.get(FB_FREE)
        total = values.get(FB_TOTAL)
        if total is None and used is not None and free is not None:
            total = used + free + (values.get(FB_RESERVED) or 0.0)
        util, temp = values.get(UTIL), values.get(TEMP)
        state: FleetGpuState
        if override is not None:
            state = override
        elif GPU_UP in values and values[GPU_UP] != 1:
            state = "down"
        elif temp is not None and temp >= self.options.hot_c:
            state = "hot"
        elif util is not None and util >= self.options.busy_pct:
            state = "busy"
        else:
            state = "idle"
        return FleetGpu(
            gpu=gpu.gpu,
            uuid=gpu.uuid,
            name=gpu.name,
            utilization=util,
            memory_used=used,
            memory_total=total,
            temperature=temp,
            power_usage=values.get(POWER),
            state=state,
            history=self._spark.get((instance, key), []),
        )

    async def _sparklines(self, now: float) -> None:
        """The last ten minutes of utilization, one point per 30 s, for every GPU."""
        end = math.floor(now / SPARK_STEP_S) * SPARK_STEP_S
        start = end - SPARK_WINDOW_S
        series = await self.client.query_range(SPARK_QUERY, start, end, SPARK_STEP_S)
        count = SPARK_WINDOW_S // SPARK_STEP_S + 1
        spark: dict[tuple[str, GpuKey], list[float | None]] = {}
        for s in series:
            instance = clean(s.labels.get("instance")) or ""
            key = (clean(s.labels.get("gpu")) or "", clean(s.labels.get("UUID")) or "")
            spark[(instance, key)] = aligned(s.points, start, SPARK_STEP_S, count)
        self._spark = spark

    # -- history (GET /api/fleet/history) ----------------------------------------------

    async def history(self, start: float, end: float, step: float) -> FleetHistoryResponse:
        """Every GPU's utilization, memory, temperature and power over [start, end]: one
        range query. A failure is in ``status``, with no series."""
        started = time.perf_counter()
        first = self.client.queries
        count = int((end - start) // step) + 1
        times = [round(start + i * step, 3) for i in range(count)]
        try:
            answer = await self.client.query_range(HISTORY_QUERY, start, end, step)
        except PrometheusError as exc:
            status = FleetStatus(
                state="unavailable",
                reason=exc.reason,
                last_refresh=round(self.clock(), 3),
                last_success=self._last_success,
                queries=self.client.queries - first,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
            return FleetHistoryResponse.model_validate(
                {"from": start, "to": end, "step": step, "series": [], "status": status}
            )
        rows: dict[tuple[str, GpuKey], dict[str, object]] = {}
        for s in answer:
            field_name = HISTORY_METRICS.get(s.labels.get("__name__", ""))
            if field_name is None:
                continue
            instance = clean(s.labels.get("instance")) or ""
            gpu = clean(s.labels.get("gpu")) or ""
            uuid = clean(s.labels.get("UUID"))
            row = rows.get((instance, (gpu, uuid or "")))
            if row is None:
                hostname = clean(s.labels.get("Hostname") or s.labels.get("hostname"))
                row = rows[(instance, (gpu, uuid or ""))] = {
                    "key": instance,
                    "host": hostname or instance_host(instance),
                    "instance": instance,
                    "gpu": gpu,
                    "uuid": uuid,
                    "name": clean(s.labels.get("modelName")),
                    "times": times,
                    **{f: [None] * count for f in HISTORY_METRICS.values()},
                }
            if row["name"] is None:
                row["name"] = clean(s.labels.get("modelName"))
            row[field_name] = aligned(s.points, start, step, count)
        series = [
            FleetHistorySeries.model_validate(r)
            for _, r in sorted(rows.items(), key=lambda item: item[0])
        ]
        status = FleetStatus(
            state="ok",
            last_refresh=round(self.clock(), 3),
            last_success=round(self.clock(), 3),
            queries=self.client.queries - first,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return FleetHistoryResponse.model_validate(
            {"from": start, "to": end, "step": step, "series": series, "status": status}
        )


def aligned(
    points: list[tuple[float, float | None]], start: float, step: float, count: int
) -> list[float | None]:
    """Points on the grid start + i·step (i < count); a missing point is None (a gap)."""
    out: list[float | None] = [None] * count
    for when, value in points:
        i = round((when - start) / step)
        if 0 <= i < count:
            out[i] = value
    return out
