"""The one sampler: polls the provider on a drift-free schedule, whatever the number of clients.

It reads and nothing else: each tick becomes one ``Sample`` (the payload, the
provider's status, how long the read took) handed to ``publish`` (the stream
stage, in the app). It knows nothing of clients, numbering or repeats.

Blocking reads (NVML calls, subprocesses) run on one dedicated thread, under
a timeout; at most one read is ever in flight. A read that fails or hangs
does not stop the stream: the GPUs are reported as failed with the reason,
system metrics keep flowing, and the status says what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from gpulens.config import Settings
from gpulens.core.metrics.collector import build_payload
from gpulens.core.metrics.providers import ProviderError, Selection, select
from gpulens.core.metrics.providers.base import EventSource, XidEvent, XidStatus
from gpulens.core.metrics.schema import GpuInfo, Telemetry
from gpulens.core.metrics.system import SystemCollector, SystemSource
from gpulens.services.messages import ProviderStatus

log = logging.getLogger("gpulens.sampler")

# With no GPU source, look again after 2 s, then 4, 8… up to every 30 s: at boot the driver
# and the persistence daemon often come up a few seconds after the service.
PROBE_FIRST_S = 2.0
REPROBE_INTERVAL_S = 30.0


@dataclass(frozen=True, slots=True)
class Sample:
    """One read of the sources, as the sampler hands it on."""

    payload: Telemetry  # seq 0: numbering belongs to the stream (a repeat gets no number)
    status: ProviderStatus
    duration: float  # seconds the read took (provider and host), failed or not
    xid: tuple[XidEvent, ...] = ()  # XID errors the driver reported since the last sample


class Sampler:
    def __init__(
        self,
        settings: Settings,
        selection: Selection,
        publish: Callable[[Sample], object],
        system: SystemSource | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        reselect: Callable[[], Selection] | None = None,
    ) -> None:
        self.settings = settings
        self.selection = selection
        self._publish = publish
        self.system = system or SystemCollector(settings.disk_path)
        self.interval = settings.poll_interval
        self.timeout = settings.sample_timeout_ms / 1000
        self.clock = clock
        self._reselect = reselect or (lambda: select(settings))
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gpulens-read")
        self._inflight: Future[Telemetry] | None = None
        self._last_gpus: list[GpuInfo] = []
        self._probe_wait = PROBE_FIRST_S
        self._next_probe = clock() + self._probe_wait
        self._logged: tuple[str, str | None] = ("ok", None)  # last state and reason logged
        self.ticks = 0
        self.started_at = clock()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self.selection.provider is not None:
            with contextlib.suppress(Exception):
                self.selection.provider.close()

    # -- the loop ------------------------------------------------------------

    async def run(self) -> None:
        start = self.clock()
        tick = 0
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not stop the stream
                log.exception("sample failed unexpectedly")
            tick += 1
            due = start + tick * self.interval
            now = self.clock()
            if due <= now:  # overran: skip the missed ticks instead of bursting
                tick = int((now - start) / self.interval) + 1
                due = start + tick * self.interval
            await asyncio.sleep(due - now)

    def _read(self) -> Telemetry:
        """On the read thread: the provider, then the host, as one payload."""
        provider = self.selection.provider
        gpus = provider.sample() if provider is not None else []
        return build_payload(0, self.selection, gpus, self.system)

    async def tick(self) -> Sample:
        """Read once and publish what was read, whatever happened."""
        began = time.perf_counter()
        payload, status = await self._collect()
        sample = Sample(payload, status, time.perf_counter() - began, self._drain_events())
        self._publish(sample)
        self._log_change(status)
        self.ticks += 1
        return sample

    def _drain_events(self) -> tuple[XidEvent, ...]:
        """What the provider's event watcher (NVML's XID thread) received; never blocks."""
        provider = self.selection.provider
        if not isinstance(provider, EventSource):
            return ()
        try:
            return tuple(provider.drain_events())
        except Exception:  # the watcher is an extra: a bug there must not stop the samples
            log.exception("reading the GPU error events failed")
            return ()

    def events_status(self) -> XidStatus:
        """The XID watcher's state, for /api/health."""
        provider = self.selection.provider
        if not isinstance(provider, EventSource):
            name = provider.name if provider is not None else "no GPU source"
            return XidStatus("unsupported", f"{name} reports no driver events (NVML only)")
        return provider.events_status()

    def _log_change(self, status: ProviderStatus) -> None:
        """One log line when the source's state or reason changes, not one per sample."""
        key = (status.state, status.reason)
        if key == self._logged:
            return
        self._logged = key
        if status.state == "ok":
            log.info("GPU source %s: ok", status.provider)
        elif status.provider is None:
            log.warning("no GPU source: %s", status.reason)
        else:
            log.warning("GPU source %s degraded: %s", status.provider, status.reason)

    async def _collect(self) -> tuple[Telemetry, ProviderStatus]:
        provider = self.selection.provider
        name = provider.name if provider is not None else None
        if provider is None and self.clock() >= self._next_probe:
            await self._probe()
            provider = self.selection.provider
            name = provider.name if provider is not None else None
        if self._inflight is not None and not self._inflight.done():
            return self._degraded(f"a GPU read is still running after {self.timeout:g} s", name)
        future = self._executor.submit(self._read)
        self._inflight = future
        try:
            payload = await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
        except TimeoutError:
            return self._degraded(f"GPU read did not finish within {self.timeout:g} s", name)
        except ProviderError as exc:
            return self._degraded(str(exc), name)
        except Exception as exc:
            reason = f"{exc.__class__.__name__}: {exc}"
            if reason != self._logged[1]:  # a bug: its traceback once, not every sample
                log.exception("%s: read failed", name)
            return self._degraded(reason, name)
        self._inflight = None
        self._last_gpus = payload.gpus
        return payload, self._status(payload.gpus, name)

    def _status(self, gpus: list[GpuInfo], name: str | None) -> ProviderStatus:
        unavailable = self.selection.unavailable
        if name is None:
            if len(unavailable) == 1:  # one source named in TELEMETRY_PROVIDER
                [(source, why)] = unavailable.items()
                reason = f"{source} is not available yet, retrying: {why}"
            else:
                reason = "no GPU source found, retrying (see unavailable)"
            return ProviderStatus(
                state="unavailable", provider=None, reason=reason, unavailable=unavailable
            )
        failed = [g for g in gpus if g.status == "failed"]
        if failed:
            reason = "; ".join(f"GPU {g.id}: {g.error}" for g in failed)
            return ProviderStatus(
                state="degraded", provider=name, reason=reason, unavailable=unavailable
            )
        return ProviderStatus(state="ok", provider=name, unavailable=unavailable)

    def _degraded(self, reason: str, name: str | None) -> tuple[Telemetry, ProviderStatus]:
        """The last GPUs seen, each marked failed with the reason; the host still read."""
        gpus = [g.as_failed(reason) for g in self._last_gpus]
        status = ProviderStatus(
            state="degraded", provider=name, reason=reason, unavailable=self.selection.unavailable
        )
        return build_payload(0, self.selection, gpus, self.system), status

    async def _probe(self) -> None:
        """No GPU source: look again, less and less often (a driver may have been loaded)."""
        self._probe_wait = min(self._probe_wait * 2, REPROBE_INTERVAL_S)
        self._next_probe = self.clock() + self._probe_wait
        loop = asyncio.get_running_loop()
        try:
            selection = await asyncio.wait_for(
                loop.run_in_executor(self._executor, self._reselect), self.timeout * 3
            )
        except Exception:
            return
        if selection.provider is not None:
            log.info("GPU source found: %s", selection.provider.name)
        self.selection = selection
