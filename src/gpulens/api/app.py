"""The FastAPI application factory: where the pipeline is put together.

    Sampler ──Sample──> Stream (+ findings detector) ──Update──> observers: Hub (clients),
                                                            /metrics, history (+ events, usage)

The sampler reads; the stream numbers, de-duplicates, keeps the backfill
ring and announces changes; each observer listed in ``create_app`` gets every
update (see ``services/stream.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path

from fastapi import FastAPI

from gpulens import __version__
from gpulens.api.access import AccessGate, AccessMiddleware, PeerMiddleware
from gpulens.api.events import router as events_router
from gpulens.api.fleet import router as fleet_router
from gpulens.api.history import router as history_router
from gpulens.api.metrics import install_metrics
from gpulens.api.routes import router
from gpulens.api.security import GuardMiddleware, HostPolicy
from gpulens.api.session import router as session_router
from gpulens.api.static import SpaFiles, find_static_dir
from gpulens.api.usage import router as usage_router
from gpulens.config import Settings
from gpulens.core.metrics.providers import Selection, select
from gpulens.core.metrics.providers.replay import ReplayProvider
from gpulens.core.metrics.system import SystemSource
from gpulens.services.findings.detector import FindingsDetector, Thresholds
from gpulens.services.fleet.client import Auth, PrometheusClient
from gpulens.services.fleet.poller import FleetOptions, FleetPoller
from gpulens.services.history.recorder import HistoryRecorder, Sample
from gpulens.services.history.seed import DEMO_PAST_STEP_S, replay_past
from gpulens.services.messages import ClientConfig, TemperatureThresholds
from gpulens.services.privacy import UserMask
from gpulens.services.sampler import Sampler
from gpulens.services.stream import Observer, Stream
from gpulens.services.websocket import Hub, run_housekeeping

log = logging.getLogger("gpulens")


def client_config(settings: Settings) -> ClientConfig:
    return ClientConfig(
        poll_interval_ms=settings.poll_interval_ms,
        ws_backlog=settings.ws_backlog,
        heartbeat_interval_ms=settings.heartbeat_interval_ms,
        max_rate=settings.ws_max_rate,
        hostname=socket.gethostname(),
        version=__version__,
        temperature_thresholds=TemperatureThresholds(
            warn=settings.temp_warn_c, hot=settings.temp_hot_c
        ),
        busy_utilization=settings.busy_utilization_pct,
        fleet=settings.fleet_prometheus_url is not None,
    )


def make_hub(settings: Settings) -> Hub:
    return Hub(
        max_clients=settings.ws_max_clients,
        queue_size=settings.ws_queue_size,
        send_timeout=settings.ws_send_timeout_ms / 1000,
        max_lag=settings.ws_max_lag_drops,
        max_rate=settings.ws_max_rate,
        heartbeat_interval=settings.heartbeat_interval_ms / 1000,
    )


def make_history(settings: Settings) -> HistoryRecorder | None:
    """The history recorder (None with HISTORY=off). With replay and no HISTORY_PATH the
    store is a throw-away file, so the demo never mixes with a real machine's past."""
    if not settings.history:
        return None
    path = settings.history_file()
    throwaway = settings.telemetry_provider == "replay" and settings.history_path is None
    if throwaway:
        path = Path(tempfile.mkdtemp(prefix="gpulens-replay-history-")) / "history.db"
    # Accounting counts at most three polls across a gap (a stopped service is not use);
    # the demo's seeded past has a sample every DEMO_PAST_STEP_S.
    gap = 3 * settings.poll_interval
    if throwaway:
        gap = max(gap, 3 * DEMO_PAST_STEP_S)
    return HistoryRecorder(
        path,
        max_bytes=settings.history_max_mb * 1024 * 1024,
        throwaway=throwaway,
        usage_gap_s=gap,
    )


def make_fleet(settings: Settings, hub: Hub) -> FleetPoller | None:
    """The fleet loop (None without FLEET_PROMETHEUS_URL). The secrets are read here, at
    start-up, from their files (checked by the settings), and go nowhere but the headers."""
    if settings.fleet_prometheus_url is None:
        return None
    auth = Auth(
        username=settings.fleet_username,
        password=settings.fleet_secret("password"),
        token=settings.fleet_secret("token"),
    )
    client = PrometheusClient(
        settings.fleet_prometheus_url,
        timeout=settings.fleet_timeout_s,
        auth=auth,
        ca_file=settings.fleet_ca_file,
    )
    options = FleetOptions(
        refresh_s=settings.fleet_refresh_s,
        stale_s=settings.fleet_stale_s,
        busy_pct=settings.busy_utilization_pct,
        hot_c=settings.temp_hot_c,
        link_label=settings.fleet_link_label,
    )
    return FleetPoller(client, options, hub)


def create_app(
    settings: Settings,
    selection: Selection | None = None,
    selector: Callable[[Settings], Selection] = select,
    system: SystemSource | None = None,
) -> FastAPI:
    """Build the app. ``selection`` (a provider already opened) or ``selector`` is injected."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        chosen = selection if selection is not None else await asyncio.to_thread(selector, settings)
        if chosen.provider is not None:  # the sampler logs it when there is none
            log.info("GPU source: %s", chosen.provider.name)
        sampler = Sampler(
            settings, chosen, stream.publish, system, reselect=lambda: selector(settings)
        )
        app.state.sampler = sampler
        if history is not None:
            past: Iterable[Sample] = ()
            if history.throwaway and isinstance(chosen.provider, ReplayProvider):
                past = replay_past(chosen.provider, until=time.time())
            history.start(prefill=past)
        await sampler.tick()  # the first sample is ready before the first client arrives
        tasks = [
            asyncio.create_task(sampler.run(), name="sampler"),
            asyncio.create_task(run_housekeeping(hub), name="housekeeping"),
        ]
        if fleet is not None:  # one loop for every page; never in the sampler's way
            log.info("fleet mode: Prometheus at %s", fleet.client.base_url)
            tasks.append(asyncio.create_task(fleet.run(), name="fleet"))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            sampler.close()
            if fleet is not None:
                await fleet.client.aclose()
            if history is not None:
                await asyncio.to_thread(history.stop)

    app = FastAPI(
        title="gpulens",
        version=__version__,
        summary="Real-time telemetry for NVIDIA GPU workstations.",
        lifespan=lifespan,
        # No Swagger/ReDoc page: both load their scripts from a CDN, which the CSP (rightly)
        # blocks and offline GPU boxes cannot reach. The schema is at /api/openapi.json.
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.include_router(router)
    app.include_router(history_router)
    app.include_router(events_router)
    app.include_router(usage_router)
    app.include_router(fleet_router)
    app.include_router(session_router)
    hub = make_hub(settings)
    fleet = make_fleet(settings, hub)
    app.state.fleet = fleet
    metrics = install_metrics(app, settings, hub)  # before the dashboard's catch-all mount at /
    # The stream's observers: each gets every update; none relies on another or on this order.
    observers: list[Observer] = [hub]  # /ws/gpu: delivers the frames to the clients
    if metrics is not None:
        observers.append(metrics)  # /metrics: the latest sample, its status, read durations
    history = make_history(settings)
    if history is not None:
        observers.append(history)  # /api/history: every sample, written on its own thread
    mask = UserMask() if settings.hide_users else None
    detector = FindingsDetector(Thresholds.from_settings(settings)) if settings.findings else None
    stream = Stream(
        client_config(settings),
        observers,
        backlog=settings.ws_backlog,
        detector=detector,
        mask=mask,
    )
    app.state.mask = mask
    app.state.hub = hub
    app.state.history = history
    app.state.stream = stream
    app.state.policy = HostPolicy(settings)
    app.state.access = AccessGate(settings)
    static = find_static_dir(settings.static_dir)
    if static is not None:
        app.mount("/", SpaFiles(directory=static, html=True), name="dashboard")
        log.info("serving the dashboard from %s", static)
    # Outermost first: the peer kept, then X-Forwarded-*; Host; then who may look.
    app.add_middleware(AccessMiddleware, gate=app.state.access)
    app.add_middleware(GuardMiddleware, policy=app.state.policy)
    app.add_middleware(PeerMiddleware, forwarded_allow_ips=settings.forwarded_allow_ips)
    return app
