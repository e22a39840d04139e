"""Accounting: who held which GPU, for how long, how much of it they used.

``UsageTracker.add`` takes every sample (the history writer's thread calls it);
``take`` hands over what accumulated since the last call, one ``UsageDelta`` per
session and hour, for ``history/usage.py`` to add to the store.

A **session** is one process on one GPU: (GPU key, pid, started). ``started`` is
the process's start time where the source gives it (``ProcessInfo.start_time``),
so a reused pid is a new session. Where it gives none (the replay, a pid in
another PID namespace) ``started`` is the moment this tracker first saw that pid
on that GPU: a restart of gpulens then starts a new session for the same process,
and a pid seen again after ``forget_s`` without a sample is a new session too.

The rule (``GPU_SECONDS_METHOD`` in ``api/records.py``): for each interval between
two consecutive samples of a GPU in both of which the session is listed,

* ``dt = min(gap, max_gap_s)``: a longer gap (the service stopped, the GPU was
  lost, the writer fell behind) counts ``max_gap_s`` only, never the whole gap; an
  interval whose clock went back (``gap <= 0``) counts nothing;
* the readings of the later sample describe the interval (NVML's utilization and
  per-process SM % are measured over the period that ended at that sample);
* ``held_s += dt``; ``mib_s += memory * dt``;
* ``gpu_s += share * dt``: ``share`` is the process's SM % / 100 where the source
  gives it; otherwise the part of the GPU's utilization that the processes with
  a known SM % do not account for (all of it when none has one), split among the
  processes without one in proportion to their memory (equally when any of
  their memories is unknown); 0 when the GPU's utilization is unknown;
* ``sm_s += SM % * dt`` and ``sm_known_s += dt`` only where SM % is known (the
  mean SM % is ``sm_s / sm_known_s``);
* ``peak_mib``: the most memory seen in any sample of the session (that hour).

A process that appears is counted from its second sample; one that leaves is not
counted after its last: at most one interval is lost at each end. An interval
that crosses an hour boundary is split between the hours by time. A failed GPU
(``status == "failed"``) says nothing about its processes: they are neither
counted nor ended, and the interval up to the GPU's return is capped as a gap.

Cost: dictionaries keyed by pid per GPU, plain attribute reads of the models, one
slotted object per session; sessions not seen for ``forget_s`` are forgotten
(at most ``MAX_SESSIONS`` kept whatever happens).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat
from operator import add, attrgetter, is_not, mul, not_

from gpulens.core.metrics.schema import GpuInfo, ProcessInfo

HOUR = 3600
FORGET_S = 900.0  # a session not seen for this long is forgotten (after its usage is taken)
SWEEP_S = 60.0  # how often (sample time) forgotten sessions are looked for
MAX_SESSIONS = 50_000  # sessions remembered at most, whatever forget_s says


@dataclass(frozen=True, slots=True)
class UsageDelta:
    """What one session added in one hour since the last ``take``."""

    gpu: str  # GpuInfo.key: the UUID, else index:<n>
    gpu_index: int
    gpu_name: str | None
    pid: int
    started: float  # the process's start, or when this tracker first saw it (Unix s)
    name: str | None
    user: str | None
    container: str | None
    hour: int  # the start of the Unix hour the time below falls in (a multiple of 3600)
    first_seen: float
    last_seen: float
    held_s: float
    gpu_s: float
    mib_s: float
    sm_s: float
    sm_known_s: float
    peak_mib: int


@dataclass(slots=True)
class TrackerStats:
    sessions: int = 0  # remembered now
    started: int = 0  # sessions begun
    forgotten: int = 0
    clock_back: int = 0  # GPU samples not after the GPU's previous one


class _Gpu:
    """One GPU: the sessions listed in its last sample and, while that list and their
    memory stay the same within one hour, their usage summed per GPU (a *segment*),
    folded into the sessions when anything changes (``UsageTracker._settle``)."""

    __slots__ = (
        "count", "hour", "index", "key", "last", "mem_known", "mems", "memsf", "name", "nones",
        "pids", "rest", "rest_eq", "roster", "seg_last", "sm", "smk", "sts", "t", "util_t",
    )  # fmt: skip

    def __init__(self, key: str) -> None:
        self.key = key
        self.index = 0
        self.name: str | None = None
        self.last: float | None = None  # the time of this GPU's last sample
        self.roster: list[_Session] = []  # the sessions listed in that sample, in its order
        self.pids: tuple[int, ...] = ()
        self.sts: tuple[float | None, ...] = ()
        self.start((), 0)

    def start(self, mems: tuple[int | None, ...], hour: int) -> None:
        """A new segment: no usage yet, these memories, this hour."""
        n = len(mems)
        self.mems = mems
        self.memsf = [m or 0 for m in mems]
        self.mem_known = None not in mems
        self.nones = (None,) * n
        self.hour = hour
        self.count = 0  # intervals in the segment
        self.t = 0.0  # seconds in the segment (held, and at these memories)
        self.util_t = 0.0  # GPU utilization % x seconds, when no process had an SM %
        # Per process, when some had an SM %: SM % x seconds, seconds with an SM %, and of
        # the utilization the SM % do not account for, its share per MiB held x seconds
        # (rest) or its equal share x seconds (rest_eq, when a memory is unknown or all 0).
        self.sm = [0.0] * n
        self.smk = [0.0] * n
        self.rest = [0.0] * n
        self.rest_eq = [0.0] * n
        self.seg_last = 0.0


class _Session:
    __slots__ = (
        "container", "dirty", "first", "gpu", "gpu_s", "held", "hour", "last", "mib_s",
        "name", "need", "peak", "pid", "sm_known", "sm_s", "st", "started", "user",
    )  # fmt: skip

    def __init__(self, gpu: _Gpu, p: ProcessInfo, st: float | None, when: float) -> None:
        self.gpu = gpu
        self.pid = p.pid
        self.st = st  # the source's start time (None: unknown), what the pid must match
        self.started = st if st is not None else when
        self.name = p.name
        self.user = p.user
        self.container = p.container
        self.need = self.name is None or self.user is None  # read them again until known
        self.first = when
        self.last = when
        self.dirty = False
        self.hour = int(when // HOUR) * HOUR  # the hour the accumulators below belong to
        self.held = self.gpu_s = self.mib_s = self.sm_s = self.sm_known = 0.0
        self.peak = 0  # in this hour, since the last take


Acc = list[float]  # held, gpu, mib, sm, sm_known, peak
_FIELDS = attrgetter("pid", "start_time", "used_memory_mib", "sm_utilization")


class UsageTracker:
    """Sessions and their usage, from every sample (one thread: not thread-safe)."""

    def __init__(
        self, max_gap_s: float, *, forget_s: float = FORGET_S, max_sessions: int = MAX_SESSIONS
    ) -> None:
        if not max_gap_s > 0:
            raise ValueError("max_gap_s must be positive")
        self.max_gap_s = float(max_gap_s)
        self.forget_s = max(float(forget_s), self.max_gap_s)
        self.max_sessions = max_sessions
        self.stats = TrackerStats()
        self._gpus: dict[str, _Gpu] = {}
        self._sessions: dict[tuple[str, int, float | None], _Session] = {}
        self._dirty: list[_Session] = []
        self._pending: dict[tuple[_Session, int], Acc] = {}  # past hours not yet taken
        self._swept: float | None = None

    # --- every sample ---------------------------------------------------------------

    def add(self, when: float, gpus: list[GpuInfo]) -> None:
        """One sample taken at ``when`` (Unix seconds)."""
        swept = self._swept
        if swept is None or not 0 <= when - swept < SWEEP_S:
            self._sweep(when)
        cap = self.max_gap_s
        states = self._gpus
        for gpu in gpus:
            if gpu.status != "ok":
                continue  # its processes are unknown, not gone
            key = gpu.uuid or f"index:{gpu.id}"
            g = states.get(key)
            if g is None:
                g = states[key] = _Gpu(key)
            g.index = gpu.id
            g.name = gpu.name
            last = g.last
            g.last = when
            dt = 0.0
            if last is not None:
                if when > last:
                    dt = when - last
                    if dt > cap:
                        dt = cap
                elif when < last:
                    self.stats.clock_back += 1  # no interval: never negative time
            procs = gpu.processes
            if not procs:
                if g.roster:
                    self._settle(g)
                    g.roster, g.pids, g.sts = [], (), ()
                    g.start((), 0)
                continue
            pids, sts, mems, sms = zip(*map(_FIELDS, procs), strict=True)
            hour = int((when - dt) // HOUR) * HOUR
            if pids == g.pids and sts == g.sts and when <= hour + HOUR:
                # The same sessions as the last sample, the interval inside one hour: the
                # common case, summed per GPU (a few list operations, no loop here).
                if mems != g.mems or hour != g.hour:
                    self._settle(g)
                    g.start(mems, hour)
                if not dt:  # a repeated time or the clock back: no interval, only memory
                    self._seen(g, when)
                    continue
                g.count += 1
                g.t += dt
                g.seg_last = when
                if sms == g.nones:
                    util = gpu.utilization
                    if util:
                        g.util_t += util * dt
                else:
                    _add_sm(g, gpu.utilization, sms, dt)
                continue
            self._changed(g, gpu, when, dt, procs, pids, sts, mems, sms)

    def _changed(
        self,
        g: _Gpu,
        gpu: GpuInfo,
        when: float,
        dt: float,
        procs: list[ProcessInfo],
        pids: tuple[int, ...],
        sts: tuple[float | None, ...],
        mems: tuple[int | None, ...],
        sms: tuple[int | None, ...],
    ) -> None:
        """Another set of processes (or an interval across an hour): session by session."""
        self._settle(g)
        prev = dict(zip(g.pids, g.roster, strict=True))
        shares = _shares(gpu.utilization, mems, sms, dt) if dt else None
        start = when - dt
        roster: list[_Session] = []
        dirty = self._dirty
        for i, p in enumerate(procs):
            pid = pids[i]
            st = sts[i]
            mem = mems[i]
            s = prev.get(pid)
            if s is None or s.st != st:
                s = self._session(g, p, pid, st, when)  # no interval: not in the last sample
            elif shares is not None:
                _split(self, s, start, when, dt, mem, sms[i], shares[i])
            if s.need:
                _refresh(s, p)
            roster.append(s)
            s.last = when
            if mem is not None and mem > s.peak:
                s.peak = mem
            if not s.dirty:
                s.dirty = True
                dirty.append(s)
        g.roster = roster
        g.pids = pids
        g.sts = sts
        g.start(mems, int(when // HOUR) * HOUR)

    def _settle(self, g: _Gpu) -> None:
        """Fold the GPU's segment into its sessions; the segment starts again empty."""
        if not g.count:
            return
        t = g.t
        util_t = g.util_t
        weights = _weights(g.mems) if util_t else []
        hour = g.hour
        dirty = self._dirty
        for i, s in enumerate(g.roster):
            if s.hour != hour:
                self._roll(s, hour)
            mem = g.mems[i]
            s.held += t
            s.gpu_s += g.sm[i] / 100 + g.memsf[i] * g.rest[i] + g.rest_eq[i]
            if util_t:
                s.gpu_s += util_t / 100 * weights[i]
            if mem is not None:
                s.mib_s += mem * t
                if mem > s.peak:
                    s.peak = mem
            s.sm_s += g.sm[i]
            s.sm_known += g.smk[i]
            s.last = g.seg_last
            if not s.dirty:
                s.dirty = True
                dirty.append(s)
        g.start(g.mems, hour)

    def _seen(self, g: _Gpu, when: float) -> None:
        """The GPU's sessions listed at ``when`` without an interval: their peak memory."""
        dirty = self._dirty
        for s, mem in zip(g.roster, g.mems, strict=True):
            if s.hour != g.hour:
                self._roll(s, g.hour)
            if mem is not None and mem > s.peak:
                s.peak = mem
            s.last = when
            if not s.dirty:
                s.dirty = True
                dirty.append(s)

    def _session(
        self, g: _Gpu, p: ProcessInfo, pid: int, st: float | None, when: float
    ) -> _Session:
        """The session of ``pid`` on ``g`` (remembered, or a new one)."""
        key = (g.key, pid, st)
        s = self._sessions.get(key)
        if s is None:
            if len(self._sessions) >= self.max_sessions:
                self._sweep(when, force=True)
            s = self._sessions[key] = _Session(g, p, st, when)
            self.stats.started += 1
            self.stats.sessions = len(self._sessions)
        return s

    def _roll(self, s: _Session, hour: int) -> None:
        """Move ``s``'s accumulators for its hour to the pending ones; start ``hour``."""
        if s.held or s.peak:
            acc = self._pending.get((s, s.hour))
            if acc is None:
                self._pending[(s, s.hour)] = [s.held, s.gpu_s, s.mib_s, s.sm_s, s.sm_known, s.peak]
            else:
                acc[0] += s.held
                acc[1] += s.gpu_s
                acc[2] += s.mib_s
                acc[3] += s.sm_s
                acc[4] += s.sm_known
                acc[5] = max(acc[5], s.peak)
            s.held = s.gpu_s = s.mib_s = s.sm_s = s.sm_known = 0.0
            s.peak = 0
        s.hour = hour

    def _sweep(self, when: float, *, force: bool = False) -> None:
        """Forget sessions (and GPUs) not seen for ``forget_s``; with ``force`` (too many
        sessions), the least recently seen too, down to 90 % of the limit. A forgotten
        session's usage not yet taken is still handed over by ``take``."""
        for g in self._gpus.values():
            self._settle(g)  # (the sessions' last sight is then up to date)
        self._swept = when
        horizon = when - self.forget_s
        sessions = self._sessions
        old = [k for k, s in sessions.items() if s.last < horizon or s.last > when + self.forget_s]
        if force and len(sessions) - len(old) >= self.max_sessions:
            keep = int(self.max_sessions * 0.9)
            gone = set(old)
            ranked = sorted((s.last, k) for k, s in sessions.items() if k not in gone)
            old.extend(k for _, k in ranked[: max(0, len(ranked) - keep)])
        for k in old:
            sessions.pop(k)
        self.stats.forgotten += len(old)
        self.stats.sessions = len(sessions)
        for g in list(self._gpus.values()):
            if g.last is not None and (g.last < horizon or g.last > when + self.forget_s):
                self._settle(g)
                del self._gpus[g.key]

    # --- the writer's flush -----------------------------------------------------------

    def take(self) -> list[UsageDelta]:
        """What accumulated since the last call, one delta per session and hour; reset."""
        for g in self._gpus.values():
            self._settle(g)
        out: list[UsageDelta] = []
        for (s, hour), acc in self._pending.items():
            out.append(_delta(s, hour, acc))
        self._pending.clear()
        for s in self._dirty:
            out.append(_delta(s, s.hour, [s.held, s.gpu_s, s.mib_s, s.sm_s, s.sm_known, s.peak]))
            s.held = s.gpu_s = s.mib_s = s.sm_s = s.sm_known = 0.0
            s.peak = 0
            s.dirty = False
        self._dirty = []
        return out


def _add_sm(g: _Gpu, util: int | None, sms: tuple[int | None, ...], dt: float) -> None:
    """One interval of a GPU where some process has an SM % (the rule of ``_shares``,
    summed per process over the segment with C-level maps)."""
    rep = repeat(dt)
    if None not in sms:
        g.sm = list(map(add, g.sm, map(mul, sms, rep)))
        g.smk = list(map(add, g.smk, rep))
        return
    known = list(map(is_not, sms, g.nones))
    filled = [v or 0 for v in sms]
    g.sm = list(map(add, g.sm, map(mul, filled, rep)))
    g.smk = list(map(add, g.smk, map(mul, known, rep)))
    if not util:
        return
    rest = util - sum(filled)
    if rest <= 0:
        return
    rest_s = rest / 100 * dt
    unknown = list(map(not_, known))
    total = sum(map(mul, g.memsf, unknown)) if g.mem_known else 0
    if total > 0:
        g.rest = list(map(add, g.rest, map(mul, unknown, repeat(rest_s / total))))
    else:
        share = rest_s / sum(unknown)
        g.rest_eq = list(map(add, g.rest_eq, map(mul, unknown, repeat(share))))


def _split(
    tracker: UsageTracker,
    s: _Session,
    start: float,
    stop: float,
    dt: float,
    mem: int | None,
    sm: int | None,
    share_dt: float,
) -> None:
    """Add the interval [start, stop) to ``s``, hour by hour (it may cross boundaries)."""
    at = start
    while at < stop:
        hour = int(at // HOUR) * HOUR
        end = min(stop, hour + HOUR)
        part = end - at
        if s.hour != hour:
            tracker._roll(s, hour)
        s.held += part
        s.gpu_s += share_dt * part / dt
        if mem is not None:
            s.mib_s += mem * part
            if mem > s.peak:
                s.peak = mem
        if sm is not None:
            s.sm_s += sm * part
            s.sm_known += part
        at = end


def _shares(
    util: int | None, mems: tuple[int | None, ...], sms: tuple[int | None, ...], dt: float
) -> list[float]:
    """Each process's GPU-seconds for an interval of ``dt`` (see the module's rule)."""
    if None not in sms:
        return [sm * dt / 100 for sm in sms]  # type: ignore[operator]
    known = sum(sm for sm in sms if sm is not None)
    rest = 0.0 if util is None else max(0.0, (util - known) / 100) * dt
    others = [m for m, sm in zip(mems, sms, strict=True) if sm is None]
    total = 0 if None in mems else sum(others)  # type: ignore[arg-type]
    if total > 0:
        per_mib = rest / total
        return [
            sm * dt / 100 if sm is not None else m * per_mib  # type: ignore[operator]
            for m, sm in zip(mems, sms, strict=True)
        ]
    equal = rest / len(others)  # (others is not empty: some SM % is None)
    return [sm * dt / 100 if sm is not None else equal for sm in sms]


def _weights(mems: tuple[int | None, ...]) -> list[float]:
    """Each process's part of the GPU's utilization when none has an SM %: by memory,
    equal when a memory is unknown or all are 0."""
    n = len(mems)
    total = 0 if None in mems else sum(mems)  # type: ignore[arg-type]
    if total > 0:
        return [m / total for m in mems]  # type: ignore[operator]
    return [1 / n] * n


def _refresh(s: _Session, p: ProcessInfo) -> None:
    if s.name is None:
        s.name = p.name
    if s.user is None:
        s.user = p.user
    if s.container is None:
        s.container = p.container
    s.need = s.name is None or s.user is None


def _delta(s: _Session, hour: int, acc: Acc) -> UsageDelta:
    g = s.gpu
    return UsageDelta(
        gpu=g.key, gpu_index=g.index, gpu_name=g.name, pid=s.pid, started=s.started,
        name=s.name, user=s.user, container=s.container, hour=hour, first_seen=s.first,
        last_seen=s.last, held_s=acc[0], gpu_s=acc[1], mib_s=acc[2], sm_s=acc[3],
        sm_known_s=acc[4], peak_mib=int(acc[5]),
    )  # fmt: skip
