"""The findings detector: what is wrong now, and what started, ended or changed.

``FindingsDetector.step`` is the stream's ``Detector``: it is called on the
event loop with every sample and returns a ``Detection`` (the active findings,
most severe first; whether that set or one of its records changed; the events
of this step). What each finding means and says is in ``rules.py``.

Findings (defaults from the settings in ``config.py``):

* **idleHolding** (warning): a process holds ≥ IDLE_HOLDING_GIB (1) with its
  own SM at 0 % for IDLE_HOLDING_S (600). Where the source gives no SM share
  for it, it counts as idle when the GPU is at 0 %, or when the GPU reports
  per-process SM for its other processes (NVML lists only processes that ran
  in the period: not listed = no work). One finding per (GPU, pid, start time):
  a reused pid is another session and another finding.
* **unownedMemory** (warning): memoryUsed - the listed processes' memory ≥
  UNOWNED_MEMORY_GIB (1) for UNOWNED_MEMORY_S (120); judged only where the
  source lists processes with their memory (NVML, nvidia-smi, or a source
  seen doing so in this run: never nvtop) and only when every listed process
  has its memory. memoryUsed excludes the driver's reserved memory on drivers
  ≥ 515 (NVML v2); on older ones the reserved part counts as unowned.
* **deadHolder** (warning): a listed pid with no ``/proc/<pid>`` for
  DEAD_HOLDER_S (10) and at least 2 consecutive samples (a process that exits
  between the driver's listing and the lookup is not listed at the next
  sample, so it is never reported). Only processes whose name or user could
  not be resolved are checked, each pid at most every DEAD_HOLDER_S / 2.
  Never when gpulens is in a child PID namespace (the pids are not ours to
  check: ``host_pids``).
* **throttling** (info for sw_power_cap alone, warning once a thermal or
  hardware reason appears in the episode): slowdown reasons active for
  THROTTLING_S (10); value = MHz below smClockMax (else below the highest
  clock seen on that GPU in this run, and it says so); the end tells the
  duration and the mean MHz lost.
* **hot** (warning; critical at or above the slowdown temperature): the
  temperature ≥ temperatureSlowdown - HOT_MARGIN_C (5), from the first
  sample; it holds until the temperature is below that minus 2 °C.
* **eccErrors** (critical): the uncorrected ECC counter rose since the GPU's
  previous sample (value = errors added); a counter that goes down (driver
  reload) only resets the baseline.
* **xid** (critical for fatal codes, see ``rules.XIDS``, warning otherwise):
  one finding per (GPU, code); a repeat while it is active adds to its count.
* **gpuLost** (critical): the GPU reads as failed; it ends "returned" once it
  reads ok again (or "no longer listed" when it went away).
* Instant events (end == start): **gpuAdded** (info) / **gpuRemoved**
  (warning) for each of the stream's GPU changes, and **provider** (info when
  ok, warning degraded, critical unavailable) when the source's state changed.

Hysteresis (no event storms): a finding starts only after its condition held
at every sample for its time (the *_S setting above; 0 for hot, eccErrors,
xid and gpuLost); once active it ends only after the condition was false at
every sample for FINDING_CLEAR_S (60), and hot's condition is the lower one
(2 °C band) while it is active. eccErrors and xid are pulses: they stay active
FINDING_CLEAR_S after the last increase or XID. A subject that is no longer
listed (a process gone, a GPU removed) counts as the condition being false.
So a value flapping around a threshold at every sample gives at most one
start and one end. A record's ``start`` is when its condition began to hold,
its ``end`` when it stopped (the first sample where it was false), not when
that was decided; its id (``kind:gpu:pid:start-ms``) is the same at start and
end. An active record's numbers are re-told at most every 60 s (or at once
when its severity rises), so ``changed`` is not set by every sample.

Clock: time is the sample's timestamp; durations are measured on the
detector's own clock, which advances by the step between two samples when
that step is between 0 and max(60 s, 10 x POLL_INTERVAL) and by nothing
otherwise. Such a jump (the clock set back, or forward by hours, or the
machine suspended) restarts every timer: pending conditions must hold for
their full time again and active findings' clear time starts over. A jump
thus never makes pending conditions fire at once, and no duration is ever
negative.

Cost: one pass over the GPUs and their processes per sample, no allocation of
records unless something starts, ends or is re-told; ``pid_exists`` only as
said for deadHolder.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from gpulens.config import Settings
from gpulens.core.metrics.processes import in_host_pid_namespace
from gpulens.core.metrics.providers.base import XidEvent
from gpulens.core.metrics.schema import GpuInfo, ProcessInfo
from gpulens.services.findings.model import Detection, Event, FindingKind, Severity
from gpulens.services.findings.rules import (
    HOT_BAND_C,
    MIB_PER_GIB,
    REFRESH_S,
    SEVERITY_RANK,
    SLOWDOWN_REASONS,
    Track,
    Wording,
    describe,
    severity_now,
)
from gpulens.services.messages import GpuChange, ProviderStatus
from gpulens.services.sampler import Sample

# Sources that list processes with their GPU memory even when they list none.
LISTS_PROCESS_MEMORY = frozenset({"nvml", "nvidia-smi"})
PROVIDER_SEVERITY: dict[str, Severity] = {
    "ok": "info",
    "degraded": "warning",
    "unavailable": "critical",
}
MAX_REASON = 200  # characters of a provider's reason quoted in an event


def pid_exists(pid: int) -> bool:
    """Whether ``/proc/<pid>`` exists (in gpulens' own PID namespace)."""
    return os.path.exists(f"/proc/{pid}")


def sees_host_pids() -> bool:
    """Whether the pids the driver lists are ours to check in ``/proc``: gpulens is in
    the host's PID namespace (``processes.in_host_pid_namespace``) and has a ``/proc``."""
    return os.path.isdir("/proc/self") and in_host_pid_namespace()


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The detector's settings (``Thresholds.from_settings``); defaults as in ``Settings``."""

    idle_holding_gib: float = 1.0
    idle_holding_s: float = 600.0
    unowned_memory_gib: float = 1.0
    unowned_memory_s: float = 120.0
    dead_holder_s: float = 10.0
    throttling_s: float = 10.0
    hot_margin_c: int = 5
    finding_clear_s: float = 60.0
    poll_interval_s: float = 1.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        return cls(
            idle_holding_gib=settings.idle_holding_gib,
            idle_holding_s=float(settings.idle_holding_s),
            unowned_memory_gib=settings.unowned_memory_gib,
            unowned_memory_s=float(settings.unowned_memory_s),
            dead_holder_s=float(settings.dead_holder_s),
            throttling_s=float(settings.throttling_s),
            hot_margin_c=settings.hot_margin_c,
            finding_clear_s=float(settings.finding_clear_s),
            poll_interval_s=settings.poll_interval_ms / 1000,
        )

    @property
    def max_step_s(self) -> float:
        """A step between samples beyond this (or negative) is a clock jump."""
        return max(60.0, 10 * self.poll_interval_s)


class _PidCheck:
    __slots__ = ("at", "missing", "seen")

    def __init__(self, at: float, missing: bool, seen: int) -> None:
        self.at = at
        self.missing = missing
        self.seen = seen


def _when(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def _order(event: Event) -> tuple[int, float, str]:
    return (-SEVERITY_RANK[event.severity], event.start.timestamp(), event.id)


class FindingsDetector:
    """Findings and events from each sample (see the module's docstring for the rules)."""

    def __init__(
        self,
        thresholds: Thresholds,
        *,
        pid_exists: Callable[[int], bool] = pid_exists,
        host_pids: bool | None = None,
    ) -> None:
        t = thresholds
        self.thresholds = t
        self.host_pids = sees_host_pids() if host_pids is None else host_pids
        self.clock_jumps = 0  # steps taken as a clock jump (timers restarted)
        self._pid_exists = pid_exists
        self._wording = Wording(
            idle_holding_gib=t.idle_holding_gib,
            unowned_memory_gib=t.unowned_memory_gib,
            hot_margin_c=t.hot_margin_c,
            finding_clear_s=t.finding_clear_s,
            host_pids=self.host_pids,
        )
        self._idle_mib = t.idle_holding_gib * MIB_PER_GIB
        self._unowned_mib = t.unowned_memory_gib * MIB_PER_GIB
        self._check_every = t.dead_holder_s / 2
        self._max_step = t.max_step_s
        self._tracks: dict[tuple[object, ...], Track] = {}
        self._checks: dict[int, _PidCheck] = {}
        self._ecc: dict[str, int] = {}  # GPU key -> last uncorrected ECC counter
        self._top_clock: dict[str, int] = {}  # GPU key -> highest SM clock seen (no maximum)
        self._lists_memory: set[str | None] = set(LISTS_PROCESS_MEMORY)
        self._now = 0.0  # the detector's clock: seconds, jumps removed
        self._wall: float | None = None
        self._epoch = 0  # +1 at each clock jump: timers of an older epoch restart
        self._step = 0
        self._seen = 0  # tracks whose condition held at this step
        self._checked = 0  # pid checks of processes listed at this step
        self._gpus: Sequence[GpuInfo] = ()
        self._events: list[Event] = []
        self._dirty = False
        self._findings: tuple[Event, ...] = ()
        self._quiet = Detection((), False, ())

    # -- the step ----------------------------------------------------------

    def step(self, sample: Sample, changes: Sequence[GpuChange], status_changed: bool) -> Detection:
        payload = sample.payload
        wall = payload.timestamp.timestamp()
        self._tick(wall)
        self._events = []
        self._dirty = False
        self._gpus = gpus = payload.gpus
        source = payload.source
        for gpu in gpus:
            self._gpu(gpu, source)
        if sample.xid:
            self._xids(sample.xid, gpus)
        if changes:
            self._changes(changes)
        if status_changed:
            self._provider(sample.status, wall)
        self._sweep()
        if not self._dirty and not self._events:
            return self._quiet
        if self._dirty:
            active = [t.record for t in self._tracks.values() if t.record is not None]
            self._findings = tuple(sorted(active, key=_order))
            self._quiet = Detection(self._findings, False, ())
        return Detection(self._findings, self._dirty, tuple(self._events))

    @property
    def findings(self) -> tuple[Event, ...]:
        """The findings active after the last step, most severe first."""
        return self._findings

    def _tick(self, wall: float) -> None:
        if self._wall is not None:
            gap = wall - self._wall
            if 0.0 <= gap <= self._max_step:
                self._now += gap
            else:
                self._epoch += 1
                self.clock_jumps += 1
        self._wall = wall
        self._step += 1
        self._seen = 0
        self._checked = 0

    # -- per GPU and process (the hot path) --------------------------------

    def _gpu(self, gpu: GpuInfo, source: str | None) -> None:
        key = gpu.uuid or f"index:{gpu.id}"
        if gpu.status == "failed":
            track = self._hold("gpuLost", ("gpuLost", key), gpu, key)
            track.error = gpu.error
            self._settle(track, 0.0)
            return
        ecc = gpu.ecc_errors_uncorrected
        if ecc is not None:
            before = self._ecc.get(key)
            if before != ecc:
                self._ecc[key] = ecc
                if before is not None and ecc > before:
                    self._ecc_added(gpu, key, ecc - before, ecc)
        temperature = gpu.temperature
        slowdown = gpu.temperature_slowdown
        if temperature is not None and slowdown is not None:
            self._hot(gpu, key, temperature, slowdown)
        clock = gpu.sm_clock
        if clock is not None and gpu.sm_clock_max is None and clock > self._top_clock.get(key, 0):
            self._top_clock[key] = clock
        reasons = gpu.clock_event_reasons
        if reasons:
            slow = tuple(r for r in reasons if r in SLOWDOWN_REASONS)
            if slow:
                self._throttling(gpu, key, slow, clock)
        processes = gpu.processes
        listed = 0
        complete = True
        if processes:
            idle_mib = self._idle_mib
            busy = gpu.utilization != 0
            check = self.host_pids
            unsure: list[tuple[ProcessInfo, int]] | None = None
            for process in processes:
                memory = process.used_memory_mib
                if memory is None:
                    complete = False
                else:
                    listed += memory
                    if memory >= idle_mib:
                        sm = process.sm_utilization
                        if sm == 0:
                            self._idle(gpu, key, process, memory, False)
                        elif sm is None:
                            if not busy:
                                self._idle(gpu, key, process, memory, True)
                            elif unsure is None:
                                unsure = [(process, memory)]
                            else:
                                unsure.append((process, memory))
                if check and (process.name is None or process.user is None):
                    self._dead(gpu, key, process, memory)
            if unsure is not None and any(p.sm_utilization is not None for p in processes):
                for process, memory in unsure:  # NVML left it out of the SM samples: no work
                    self._idle(gpu, key, process, memory, False)
            if complete and source not in self._lists_memory:
                self._lists_memory.add(source)
        used = gpu.memory_used
        if (
            complete
            and used is not None
            and used - listed >= self._unowned_mib
            and source in self._lists_memory
        ):
            self._unowned(gpu, key, used, listed, len(processes))

    def _idle(self, gpu: GpuInfo, key: str, p: ProcessInfo, memory: int, per_gpu: bool) -> None:
        ident = ("idleHolding", key, p.pid, p.start_time)
        track = self._tracks.get(ident)
        if track is None or track.epoch != self._epoch:
            track = self._hold("idleHolding", ident, gpu, key)
        else:  # the common case, inlined: an idle holder seen at the previous step
            if track.seen != self._step:
                track.seen = self._step
                self._seen += 1
            track.count += 1
            track.false_since = None
        track.pid = p.pid
        track.process = p.name
        track.user = p.user
        track.container = p.container
        track.value = memory / MIB_PER_GIB
        track.per_gpu = per_gpu
        if track.record is None or self._now - track.shown_at >= REFRESH_S:
            self._settle(track, self.thresholds.idle_holding_s)

    def _unowned(self, gpu: GpuInfo, key: str, used: int, listed: int, count: int) -> None:
        track = self._hold("unownedMemory", ("unownedMemory", key), gpu, key)
        track.value = (used - listed) / MIB_PER_GIB
        track.peak = max(track.peak, track.value)
        track.number = used
        track.total = listed
        track.nprocs = count
        self._settle(track, self.thresholds.unowned_memory_s)

    def _dead(self, gpu: GpuInfo, key: str, p: ProcessInfo, memory: int | None) -> None:
        pid = p.pid
        check = self._checks.get(pid)
        if check is None or self._now - check.at >= self._check_every or check.at > self._now:
            if check is None or check.seen != self._step:
                self._checked += 1
            check = self._checks[pid] = _PidCheck(self._now, not self._pid_exists(pid), self._step)
        elif check.seen != self._step:
            check.seen = self._step
            self._checked += 1
        if not check.missing:
            return
        ident = ("deadHolder", key, pid, p.start_time)
        track = self._tracks.get(ident)
        if track is None or track.epoch != self._epoch:
            track = self._hold("deadHolder", ident, gpu, key)
        else:
            if track.seen != self._step:
                track.seen = self._step
                self._seen += 1
            track.count += 1
            track.false_since = None
        self._who(track, p)
        track.number = memory or 0
        track.value = (memory or 0) / MIB_PER_GIB
        if track.record is None or self._now - track.shown_at >= REFRESH_S:
            self._settle(track, self.thresholds.dead_holder_s, min_count=2)

    def _throttling(self, gpu: GpuInfo, key: str, slow: tuple[str, ...], clock: int | None) -> None:
        track = self._hold("throttling", ("throttling", key), gpu, key)
        if slow != track.reasons:
            track.reasons += tuple(r for r in slow if r not in track.reasons)
        top = gpu.sm_clock_max
        track.estimated = top is None
        if top is None:
            top = self._top_clock.get(key)
        lost = max(0, top - clock) if top is not None and clock is not None else 0
        track.value = lost
        track.number = clock or 0
        track.total = top or 0
        track.lost_sum += lost
        track.lost_n += 1
        self._settle(track, self.thresholds.throttling_s, escalates=True)

    def _hot(self, gpu: GpuInfo, key: str, temperature: int, slowdown: int) -> None:
        starts_at = slowdown - self.thresholds.hot_margin_c
        if temperature < starts_at - HOT_BAND_C:
            return
        if temperature < starts_at:  # in the band: only an active finding goes on holding
            active = self._tracks.get(("hot", key))
            if active is None or active.record is None:
                return
        track = self._hold("hot", ("hot", key), gpu, key)
        track.value = temperature
        track.peak = max(track.peak, temperature)
        track.limit = slowdown
        self._settle(track, 0.0, escalates=True)

    def _ecc_added(self, gpu: GpuInfo, key: str, added: int, counter: int) -> None:
        track = self._hold("eccErrors", ("eccErrors", key), gpu, key)
        track.value += added
        track.number = counter
        self._settle(track, 0.0)

    def _xids(self, xids: Sequence[XidEvent], gpus: Sequence[GpuInfo]) -> None:
        by_key = {gpu.key: gpu for gpu in gpus}
        wall = self._wall or 0.0
        for xid in xids:
            when = xid.when if abs(xid.when - wall) <= self._max_step else wall
            key = ("xid", xid.gpu, xid.code)
            track = self._hold("xid", key, by_key.get(xid.gpu), xid.gpu, when)
            track.value = xid.code
            track.number += 1
            self._settle(track, 0.0)

    # -- the state machine -------------------------------------------------

    def _hold(
        self,
        kind: FindingKind,
        key: tuple[object, ...],
        gpu: GpuInfo | None,
        gpu_key: str,
        wall: float | None = None,
    ) -> Track:
        """The track of ``key``, its condition holding at this step."""
        track = self._tracks.get(key)
        if track is None:
            when = self._wall if wall is None else wall
            track = Track(kind, key, gpu_key, self._epoch, self._step - 1, self._now, when or 0.0)
            if gpu is not None:
                track.gpu_index = gpu.id
                track.gpu_name = gpu.name
            self._tracks[key] = track
        elif track.epoch != self._epoch:  # a clock jump since: its timers start over
            track.epoch = self._epoch
            if track.record is None:
                when = self._wall if wall is None else wall
                track.since = self._now
                track.since_wall = when or 0.0
                track.count = 0
        if track.seen != self._step:
            track.seen = self._step
            self._seen += 1
        track.count += 1
        track.false_since = None
        return track

    def _settle(
        self, track: Track, need: float, *, min_count: int = 1, escalates: bool = False
    ) -> None:
        """Start the finding once it held long enough; re-tell an active one's numbers
        (at most every REFRESH_S, or at once when its severity rises: ``escalates``)."""
        record = track.record
        if record is None:
            if self._now - track.since >= need and track.count >= min_count:
                self._start(track)
        elif self._now - track.shown_at >= REFRESH_S or (
            escalates and SEVERITY_RANK[severity_now(track)] > SEVERITY_RANK[record.severity]
        ):
            self._refresh(track)

    def _start(self, track: Track) -> None:
        text = describe(track, self._now, self._wording, ended=False)
        start = track.since_wall
        pid = "" if track.pid is None else track.pid
        event = Event(
            id=f"{track.kind}:{track.gpu}:{pid}:{int(start * 1000)}",
            kind=track.kind,
            severity=text.severity,
            start=_when(start),
            gpu=track.gpu,
            gpu_index=track.gpu_index,
            gpu_name=track.gpu_name,
            pid=track.pid,
            process=track.process,
            user=track.user,
            container=track.container,
            summary=text.summary,
            action=text.action,
            value=text.value,
        )
        track.record = event
        track.shown_at = self._now
        self._events.append(event)
        self._dirty = True

    def _refresh(self, track: Track) -> None:
        record = track.record
        assert record is not None
        track.shown_at = self._now
        text = describe(track, self._now, self._wording, ended=False)
        update = {
            "severity": text.severity,
            "summary": text.summary,
            "action": text.action,
            "value": text.value,
            "process": track.process,
            "user": track.user,
            "container": track.container,
        }
        if any(getattr(record, name) != value for name, value in update.items()):
            track.record = record.model_copy(update=update)
            self._dirty = True

    def _end(self, track: Track) -> None:
        record = track.record
        assert record is not None
        if track.kind == "gpuLost":
            track.gone = not any(gpu.key == track.gpu for gpu in self._gpus)
        text = describe(track, self._now, self._wording, ended=True)
        end = max(track.false_wall, record.start.timestamp())
        ended = record.model_copy(
            update={
                "end": _when(end),
                "summary": text.summary,
                "action": text.action,
                "value": text.value,
            }
        )
        track.record = None
        self._events.append(ended)
        self._dirty = True

    def _sweep(self) -> None:
        """Tracks whose condition did not hold at this step: drop, or count toward the end."""
        step = self._step
        if self._checked < len(self._checks):
            gone = [pid for pid, check in self._checks.items() if check.seen != step]
            for pid in gone:
                del self._checks[pid]
        if self._seen == len(self._tracks):
            return  # every track held at this step: nothing to drop or to count toward an end
        done: list[tuple[object, ...]] | None = None
        clear = self.thresholds.finding_clear_s
        for key, track in self._tracks.items():
            if track.seen == step:
                continue
            if track.record is not None:
                if track.epoch != self._epoch:
                    track.epoch = self._epoch
                    track.false_since = None
                if track.false_since is None:
                    track.false_since = self._now
                    track.false_wall = self._wall or 0.0
                if self._now - track.false_since >= clear:
                    self._end(track)
                elif self._now - track.shown_at >= REFRESH_S:
                    self._refresh(track)
                    continue
                else:
                    continue
            if done is None:
                done = [key]
            else:
                done.append(key)
        if done is not None:
            for key in done:
                del self._tracks[key]

    @staticmethod
    def _who(track: Track, p: ProcessInfo) -> None:
        track.pid = p.pid
        track.process = p.name
        track.user = p.user
        track.container = p.container

    # -- instant events ----------------------------------------------------

    def _changes(self, changes: Sequence[GpuChange]) -> None:
        for change in changes:
            moment = change.timestamp
            added = change.type == "gpuAdded"
            label = f"GPU {change.id} ({change.name}, {change.uuid})"
            if added:
                summary = f"{label} appeared"
                action = (
                    "Nothing to do if expected (hot-plug, driver reload): its history goes on "
                    "under its UUID."
                )
            else:
                summary = f"{label} is no longer listed"
                action = (
                    "Check nvidia-smi and dmesg on the host: a GPU that drops out may have "
                    "fallen off the bus (XID 79) or been reset."
                )
            self._events.append(
                Event(
                    id=f"{change.type}:{change.uuid}::{int(moment.timestamp() * 1000)}",
                    kind=change.type,
                    severity="info" if added else "warning",
                    start=moment,
                    end=moment,
                    gpu=change.uuid,
                    gpu_index=change.id,
                    gpu_name=change.name,
                    summary=summary,
                    action=action,
                )
            )

    def _provider(self, status: ProviderStatus, wall: float) -> None:
        name = status.provider or "none"
        reason = status.reason
        if reason is None and status.unavailable:
            reason = "; ".join(f"{k}: {v}" for k, v in status.unavailable.items())
        summary = f"GPU source {name}: {status.state}"
        if reason:
            summary += f" ({reason[:MAX_REASON]})"
        if status.state == "ok":
            action = "Nothing to do: readings are complete."
        elif status.state == "degraded":
            action = "Some readings are missing: see the reason and /api/health."
        else:
            action = (
                "No GPU readings: check the driver (nvidia-smi) and gpulens' log; "
                "it retries with backoff."
            )
        moment = _when(wall)
        self._events.append(
            Event(
                id=f"provider:{status.provider or ''}::{int(wall * 1000)}",
                kind="provider",
                severity=PROVIDER_SEVERITY[status.state],
                start=moment,
                end=moment,
                summary=summary,
                action=action,
            )
        )
