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

Cost (``bench/usage.py --part tracker``): a sample whose GPUs list the same processes
with the same memories as the one before (the common case) costs two C-level reads of
the processes, one comparison and, per GPU, an addition (no process has an SM %) or the
SM % kept as they came; the rest is folded into the sessions when the list or the hour
changes, at each ``take`` and each sweep (one column per process, C-level sums). One
slotted object per session; sessions not seen for ``forget_s`` are forgotten (at most
``MAX_SESSIONS`` kept whatever happens). ``take`` (every 30 s in the writer) folds each
GPU's segment with C-level sums per process (the SM % x seconds of every interval are
most of it) and builds its deltas without UsageDelta's frozen ``__init__`` (``_Build``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress, repeat, starmap
from operator import add, attrgetter, eq, is_, mul, ne, truediv

from gpulens.core.metrics.schema import GpuInfo, ProcessInfo

HOUR = 3600
FORGET_S = 900.0  # a session not seen for this long is forgotten (after its usage is taken)
SWEEP_S = 60.0  # how often (sample time) forgotten sessions are looked for
MAX_SESSIONS = 50_000  # sessions remembered at most, whatever forget_s says


@dataclass(slots=True)
class UsageDelta:
    """What one session added in one hour since the last ``take``.

    Not frozen on purpose: ``take`` builds hundreds at a time, and a frozen dataclass's
    ``__init__`` sets each field through ``object.__setattr__`` (1.2 µs for the 17,
    against 0.15 µs). Its consumers only read it.
    """

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
    """One GPU: the sessions listed in its last sample and, while that list stays the same
    within one hour, what its samples say about them (a *segment*), kept as it came and
    folded into the sessions when the list or the hour changes, and at each ``take``
    (``UsageTracker._settle``).

    A segment is *runs* of the same memories; a run keeps its seconds, the GPU's
    utilization x seconds of the intervals when no process had an SM %, and the intervals
    when some had one as they came: (dt, utilization, SM % of each process)."""

    __slots__ = (
        "hour", "hour_end", "index", "key", "last", "mems", "mt", "name", "nones", "pids",
        "roster", "row0", "rows", "runs", "seg_last", "sig", "sts", "util_t",
    )  # fmt: skip

    def __init__(self, key: str) -> None:
        self.key = key
        self.index = 0
        self.name: str | None = None
        self.last: float | None = None  # the time of this GPU's last sample
        self.roster: list[_Session] = []  # the sessions listed in that sample, in its order
        self.pids: tuple[int, ...] = ()
        self.sts: tuple[float | None, ...] = ()
        self.sig: tuple[tuple[int, float | None, int | None], ...] = ()  # (pid, start, memory)
        self.start((), 0)

    def start(self, mems: tuple[int | None, ...], hour: int) -> None:
        """A new segment: no usage yet, these memories, this hour."""
        self.mems = mems
        self.nones = (None,) * len(mems)
        self.hour = hour
        self.hour_end = hour + HOUR
        self.runs: list[_Run] = []  # the runs before the current one (memories changed)
        self.mt = 0.0  # seconds in the current run
        self.util_t = 0.0  # its GPU utilization % x seconds, when no process had an SM %
        self.rows: list[_Row] = []  # the segment's intervals when some process had an SM %
        self.row0 = 0  # the current run's first in rows
        self.seg_last = 0.0  # the time of the segment's last interval


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
_Row = tuple[float, "int | None", tuple["int | None", ...]]  # dt, utilization, SM % each
_Run = tuple[tuple["int | None", ...], float, float, int]  # memories, s, util_t, first row
MAX_ROWS = 2048  # a segment's intervals with an SM % kept at most before they are folded
_SIG = attrgetter("pid", "start_time", "used_memory_mib")
_SM = attrgetter("sm_utilization")
# A session's delta of its hour, as UsageDelta's fields in order (its peak is an int).
_DELTA = attrgetter(
    "gpu.key", "gpu.index", "gpu.name", "pid", "started", "name", "user", "container", "hour",
    "first", "last", "held", "gpu_s", "mib_s", "sm_s", "sm_known", "peak",
)  # fmt: skip


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
                    g.roster, g.pids, g.sts, g.sig = [], (), (), ()
                    g.start((), 0)
                continue
            sig = tuple(map(_SIG, procs))
            sms = tuple(map(_SM, procs))
            if dt and g.hour <= when - dt and when <= g.hour_end and sig == g.sig:
                # The same sessions with the same memories as the last sample, an interval
                # inside the segment's hour: the common case, kept as it came (no loop).
                if sms == g.nones:
                    util = gpu.utilization
                    if util:
                        g.util_t += util * dt
                elif len(g.rows) < MAX_ROWS:
                    g.rows.append((dt, gpu.utilization, sms))
                else:  # folded now (as on other memories), this interval in a new segment
                    self._settle(g)
                    g.rows.append((dt, gpu.utilization, sms))
                g.mt += dt
                g.seg_last = when
                continue
            self._other(g, gpu, when, dt, procs, sig, sms)

    def _other(
        self,
        g: _Gpu,
        gpu: GpuInfo,
        when: float,
        dt: float,
        procs: list[ProcessInfo],
        sig: tuple[tuple[int, float | None, int | None], ...],
        sms: tuple[int | None, ...],
    ) -> None:
        """A sample that is not the common case: other memories, another hour, no interval
        (a repeated time, the clock back), other processes."""
        pids, sts, mems = zip(*sig, strict=True)
        hour = int((when - dt) // HOUR) * HOUR
        if not (pids == g.pids and sts == g.sts and when <= hour + HOUR):
            self._changed(g, gpu, when, dt, procs, pids, sts, mems, sms)
            g.sig = sig
            return
        g.sig = sig
        if hour != g.hour:
            self._settle(g)
            g.start(mems, hour)
        if not dt:  # a repeated time or the clock back: no interval, only memory
            if mems != g.mems:
                self._settle(g)
                g.start(mems, hour)
            self._seen(g, when)
            return
        if mems != g.mems:  # another run (the one before has an interval, if any)
            if g.mt:
                g.runs.append((g.mems, g.mt, g.util_t, g.row0))
                g.mt = g.util_t = 0.0
                g.row0 = len(g.rows)
            g.mems = mems
        if sms == g.nones:
            util = gpu.utilization
            if util:
                g.util_t += util * dt
        else:
            if len(g.rows) >= MAX_ROWS:
                self._settle(g)
            g.rows.append((dt, gpu.utilization, sms))
        g.mt += dt
        g.seg_last = when

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
        if not (g.mt or g.runs):
            return  # no interval
        n = len(g.roster)
        rows = g.rows
        gpu_s = [0.0] * n
        sm_s = [0.0] * n
        sm_known = [0.0] * n
        # The processes without an SM % in every row (None: not the same in every row).
        unknown = _sm_sums(rows, gpu_s, sm_s, sm_known) if rows else []
        runs = [*g.runs, (g.mems, g.mt, g.util_t, g.row0)]
        held, mib_s, peak, memsfs = _memory(runs, gpu_s)
        if rows and unknown != []:
            ends = [r[3] for r in runs[1:]]
            ends.append(len(rows))
            for (mems, _, _, r0), r1, memsf in zip(runs, ends, memsfs, strict=True):
                if r1 == r0:
                    continue
                if unknown is None:  # each set of rows with the same processes with an SM %
                    groups: dict[tuple[bool, ...], list[_Row]] = {}
                    for r in rows[r0:r1]:
                        groups.setdefault(tuple(map(is_, r[2], repeat(None))), []).append(r)
                    for group in groups.values():
                        some = _sm_sums(group, gpu_s, sm_s, sm_known)
                        if some:
                            _rest(group, some, mems, memsf, gpu_s)
                else:
                    _rest(rows[r0:r1], unknown, mems, memsf, gpu_s)
        hour = g.hour
        last = g.seg_last
        dirty = self._dirty
        for s, gs, ms, ss, sk, pk in zip(g.roster, gpu_s, mib_s, sm_s, sm_known, peak, strict=True):
            if s.hour != hour:
                self._roll(s, hour)
            s.held += held
            s.gpu_s += gs
            s.mib_s += ms
            s.sm_s += ss
            s.sm_known += sk
            if pk > s.peak:
                s.peak = pk
            s.last = last
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
            # (by last sight, then by key; a start time None before any)
            ranked = sorted(
                (s.last, k[0], k[1], -1.0 if k[2] is None else k[2], k)
                for k, s in sessions.items()
                if k not in gone
            )
            old.extend(r[-1] for r in ranked[: max(0, len(ranked) - keep)])
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
        out = [_delta(s, hour, acc) for (s, hour), acc in self._pending.items()]
        self._pending.clear()
        dirty = self._dirty
        self._dirty = []
        built = list(starmap(UsageDelta, map(_DELTA, dirty)))
        for s in dirty:
            s.held = s.gpu_s = s.mib_s = s.sm_s = s.sm_known = 0.0
            s.peak = 0
            s.dirty = False
        out += built
        return out


def _memory(
    runs: list[_Run], gpu_s: list[float]
) -> tuple[float, list[float], list[int], list[Sequence[int]]]:
    """A segment's runs: its seconds; per process MiB x seconds and the most MiB; the
    memories of each run (0 for unknown). Adds to ``gpu_s`` the shares of the utilization
    of the intervals when no process had an SM % (by memory, equally when a memory is
    unknown or all are 0). One run: a few C-level maps; more: one column per process."""
    n = len(gpu_s)
    memsfs: list[Sequence[int]] = []
    per_mib: list[float] = []  # per run: utilization x seconds per MiB (by memory)
    equal = 0.0  # utilization x seconds per process (equally), all runs
    for mems, _, util_t, _ in runs:
        try:
            total = sum(mems)  # type: ignore[arg-type]
            memsf: Sequence[int] = mems  # type: ignore[assignment]
        except TypeError:  # a memory unknown: 0 for it, and the utilization equally
            total = 0
            memsf = [m or 0 for m in mems]
        memsfs.append(memsf)
        if util_t and total > 0:
            per_mib.append(util_t / 100 / total)
        else:
            per_mib.append(0.0)
            if util_t:
                equal += util_t / 100 / n
    ts = [r[1] for r in runs]
    if len(runs) == 1:
        [memsf] = memsfs
        t = ts[0]
        mib_s = list(map(mul, repeat(t), memsf))
        peak = list(memsf)
        if per_mib[0]:
            gpu_s[:] = map(add, gpu_s, map(mul, repeat(per_mib[0]), memsf))
    else:
        t = sum(ts)
        cols = list(zip(*memsfs, strict=True))
        mib_s = list(map(sum, map(map, repeat(mul), repeat(ts), cols)))
        peak = list(map(max, cols))
        if any(per_mib):
            gpu_s[:] = map(add, gpu_s, map(sum, map(map, repeat(mul), repeat(per_mib), cols)))
    if equal:
        gpu_s[:] = map(add, gpu_s, repeat(equal))
    return t, mib_s, peak, memsfs


def _sm_sums(
    rows: list[_Row], gpu_s: list[float], sm_s: list[float], sm_known: list[float]
) -> list[int] | None:
    """Add the rows' SM % x seconds to the processes that have one in every row (and
    their share, SM % / 100); the processes without one in any row. None (nothing added):
    some process has an SM % in some rows and not in others."""
    dts = [r[0] for r in rows]
    cols = list(zip(*[r[2] for r in rows], strict=True))  # per process
    nones = (None,) * len(rows)
    unknown = list(compress(range(len(cols)), map(eq, cols, repeat(nones))))
    known = cols if not unknown else [c for c in cols if c != nones]
    try:  # one C-level sum per process
        sums = list(map(sum, map(map, repeat(mul), repeat(dts), known)))
    except TypeError:  # a None in some column, not in all its rows
        return None
    if not sums:
        return unknown
    t = sum(dts)
    if not unknown:
        sm_s[:] = map(add, sm_s, sums)
        sm_known[:] = map(add, sm_known, repeat(t))
        gpu_s[:] = map(add, gpu_s, map(truediv, sums, repeat(100)))
        return unknown
    for i, v in zip(compress(range(len(cols)), map(ne, cols, repeat(nones))), sums, strict=True):
        sm_s[i] += v
        sm_known[i] += t
        gpu_s[i] += v / 100
    return unknown


def _rest(
    rows: list[_Row],
    unknown: list[int],
    mems: tuple[int | None, ...],
    memsf: Sequence[int],
    gpu_s: list[float],
) -> None:
    """Share the utilization the SM % leave in ``rows`` (one run: these memories) among
    the processes without one (``unknown``, the same in every row): by memory, equally
    when a memory is unknown or theirs are all 0."""
    rest_s = 0.0  # the GPU's utilization the SM % leave, x seconds
    for dt, util, sms in rows:
        if util:
            rest = util - sum(filter(None, sms))
            if rest > 0:
                rest_s += rest / 100 * dt
    if not rest_s:
        return
    total = 0 if None in mems else sum([memsf[i] for i in unknown])
    if total > 0:
        per_mib = rest_s / total
        for i in unknown:
            gpu_s[i] += memsf[i] * per_mib
    else:
        share = rest_s / len(unknown)
        for i in unknown:
            gpu_s[i] += share


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
        g.key, g.index, g.name, s.pid, s.started, s.name, s.user, s.container, hour, s.first,
        s.last, acc[0], acc[1], acc[2], acc[3], acc[4], int(acc[5]),
    )  # fmt: skip
