"""What each finding says: severities, the XID table, summaries and actions.

The detector (``detector.py``) decides *when* a finding starts and ends; this
module only turns a ``Track`` (the state the detector keeps for one episode)
into words and numbers. Nothing here is on the per-sample path except
``Track``'s constructor; the text is built when a finding starts, ends, or
refreshes its numbers (at most once per ``REFRESH_S``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from gpulens.services.findings.model import Event, FindingKind, Severity

MIB_PER_GIB = 1024
REFRESH_S = 60.0  # an active finding's numbers (minutes, GiB, MHz) are re-told at most this often
HOT_BAND_C = 2  # hot ends only this far below where it started (°C): no flapping on one degree
SEVERITY_RANK: dict[Severity, int] = {"info": 0, "warning": 1, "critical": 2}

# Clock-event reasons (units.CLOCK_EVENT_REASONS) that mean the GPU is held below its clock.
SLOWDOWN_REASONS = frozenset(
    {
        "sw_power_cap",
        "hw_slowdown",
        "sw_thermal_slowdown",
        "hw_thermal_slowdown",
        "hw_power_brake_slowdown",
    }
)
THERMAL_REASONS = frozenset({"sw_thermal_slowdown", "hw_thermal_slowdown"})

# Well-known XIDs (NVIDIA's "XID errors" catalogue): code -> (short meaning, fatal).
# Fatal: the GPU (not only the job) needs attention — drain it, reset or reboot.
XIDS: dict[int, tuple[str, bool]] = {
    13: ("graphics engine exception (usually the application: illegal access)", False),
    31: ("GPU memory page fault (usually the application: illegal address)", False),
    43: ("GPU stopped processing (the application faulted; the channel was reset)", False),
    45: ("preemptive cleanup after an earlier error (processes were ended)", False),
    48: ("double-bit ECC error: data in GPU memory was corrupted", True),
    61: ("internal micro-controller breakpoint or warning", False),
    62: ("internal micro-controller halt", True),
    63: ("ECC page retirement or row remapping recorded (a reset applies it)", True),
    64: ("ECC page retirement or row remapping failed", True),
    68: ("video decoder (NVDEC) exception", False),
    69: ("graphics engine class error", False),
    74: ("NVLink error", True),
    79: ("the GPU has fallen off the bus", True),
    92: ("high single-bit ECC error rate", True),
    94: ("contained ECC error: the affected application must restart", True),
    95: ("uncontained ECC error: every application on the GPU is affected", True),
    119: ("GSP RPC timeout (the GPU's system processor stopped answering)", True),
    120: ("GSP error (the GPU's system processor failed)", True),
    140: ("unrecovered ECC error", True),
}


def xid_severity(code: int) -> Severity:
    known = XIDS.get(code)
    return "critical" if known is not None and known[1] else "warning"


def throttle_severity(reasons: tuple[str, ...]) -> Severity:
    """Info for the power cap alone (expected under full load); warning for the rest."""
    return "info" if all(r == "sw_power_cap" for r in reasons) else "warning"


def duration(seconds: float) -> str:
    """``42 s``, ``12 min``, ``3 h 5 min`` (minutes at most: summaries change once a minute)."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{int(seconds)} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def plural(count: int, word: str) -> str:
    if count == 1:
        return f"{count} {word}"
    return f"{count} {word}es" if word.endswith("s") else f"{count} {word}s"


class Track:
    """What the detector keeps for one finding, pending or active (one per key).

    ``since`` and ``began`` are on the detector's own clock (seconds, jumps
    removed); ``since_wall`` and ``false_wall`` are Unix seconds for the
    record. The rest is the finding's latest numbers, set by the detector.
    """

    __slots__ = (
        "began",
        "container",
        "count",
        "epoch",
        "error",
        "estimated",
        "false_since",
        "false_wall",
        "gone",
        "gpu",
        "gpu_index",
        "gpu_name",
        "key",
        "kind",
        "limit",
        "lost_n",
        "lost_sum",
        "nprocs",
        "number",
        "peak",
        "per_gpu",
        "pid",
        "process",
        "reasons",
        "record",
        "seen",
        "shown_at",
        "since",
        "since_wall",
        "total",
        "user",
        "value",
    )  # fmt: skip

    def __init__(
        self, kind: FindingKind, key: tuple[object, ...], gpu: str, epoch: int, step: int,
        now: float, wall: float,
    ) -> None:  # fmt: skip
        self.kind: FindingKind = kind
        self.key = key
        self.gpu = gpu
        self.gpu_index: int | None = None
        self.gpu_name: str | None = None
        self.pid: int | None = None
        self.process: str | None = None
        self.user: str | None = None
        self.container: str | None = None
        self.epoch = epoch
        self.seen = step
        self.count = 0  # consecutive samples the condition held
        self.since = now  # when the condition began (reset by a clock jump while pending)
        self.since_wall = wall
        self.began = now  # when it began, for durations (never reset)
        self.false_since: float | None = None  # when it stopped holding, while active
        self.false_wall = wall
        self.shown_at = now  # when the record's numbers were last told
        self.record: Event | None = None  # the active Event (typed in the detector)
        # The finding's numbers (which ones a kind uses: see describe()).
        self.value = 0.0  # GiB held/unowned, °C, MHz lost, XID code, ECC errors added
        self.peak = 0.0  # highest value of the episode
        self.number = 0  # MiB used (unowned), occurrences (xid), counter (ecc), clock (MHz)
        self.total = 0  # MiB listed (unowned), clock maximum (throttling)
        self.reasons: tuple[str, ...] = ()
        self.limit = 0  # slowdown temperature (hot)
        self.estimated = False  # throttling: the maximum is the highest clock seen
        self.per_gpu = False  # idleHolding: judged on the GPU's utilization
        self.lost_sum = 0.0  # throttling: MHz lost summed over the samples
        self.lost_n = 0
        self.error: str | None = None  # gpuLost: the GPU's error
        self.gone = False  # the GPU is no longer listed (gpuLost ends that way)
        self.nprocs = 0  # unownedMemory: processes listed


class Text(NamedTuple):
    severity: Severity
    summary: str
    action: str
    value: float | None


@dataclass(frozen=True, slots=True)
class Wording:
    """The settings the sentences quote."""

    idle_holding_gib: float
    unowned_memory_gib: float
    hot_margin_c: int
    finding_clear_s: float
    host_pids: bool


def _who(t: Track) -> str:
    parts = [f"pid {t.pid}", f"user {t.user or 'unknown'}"]
    if t.container:
        parts.append(f"container {t.container}")
    return f"{t.process or 'an unnamed process'} ({', '.join(parts)})"


def _gpu(t: Track) -> str:
    return f"GPU {t.gpu_index}" if t.gpu_index is not None else f"GPU {t.gpu}"


def severity_now(t: Track) -> Severity:
    """The severity the track's latest numbers call for."""
    if t.kind == "throttling":
        return throttle_severity(t.reasons)
    if t.kind == "hot":
        return "critical" if t.value >= t.limit else "warning"
    if t.kind == "xid":
        return xid_severity(int(t.value))
    if t.kind in ("eccErrors", "gpuLost"):
        return "critical"
    return "warning"


def describe(t: Track, now: float, w: Wording, *, ended: bool) -> Text:
    """The finding's severity, one-line summary, one-sentence action and value."""
    # How long it held: up to now, or up to when it stopped (ended, or waiting to end).
    held = (t.false_since if t.false_since is not None else now) - t.began
    gpu = _gpu(t)
    sev = severity_now(t)
    if t.kind == "idleHolding":
        idle = f"while {gpu} was at 0 %" if t.per_gpu else "at 0 % SM"
        if ended:
            summary = (
                f"{_who(t)} stopped holding idle memory on {gpu} "
                f"(it held {t.value:.1f} GiB {idle} for {duration(held)})"
            )
        else:
            summary = f"{_who(t)} has held {t.value:.1f} GiB on {gpu} {idle} for {duration(held)}"
        action = (
            f"Ask {t.user or 'its owner'} to end the process or free its GPU memory "
            "if the job is finished or stuck."
        )
        return Text(sev, summary, action, round(t.value, 2))
    if t.kind == "unownedMemory":
        if ended:
            summary = (
                f"{gpu}: memory no listed process owns is back under "
                f"{w.unowned_memory_gib:g} GiB (it was up to {t.peak:.1f} GiB for {duration(held)})"
            )
        else:
            summary = (
                f"{t.value:.1f} GiB of {gpu}'s memory is used but no listed process holds it "
                f"({t.number} MiB used, {t.total} MiB by {plural(t.nprocs, 'listed process')}) "
                f"for {duration(held)}"
            )
        if w.host_pids:
            action = (
                "Look for a leaked context (a zombie, a crashed job's child, a process the "
                "driver does not list) and end it; if nothing holds it, reset the GPU when free."
            )
        else:
            action = (
                "gpulens runs in its own PID namespace, so the processes may be in another "
                "one (the host, other containers): check nvidia-smi on the host."
            )
        return Text(sev, summary, action, round(t.value, 2))
    if t.kind == "deadHolder":
        if ended:
            summary = (
                f"pid {t.pid} is no longer listed on {gpu} "
                f"(it was listed without a live process for {duration(held)})"
            )
        else:
            summary = (
                f"pid {t.pid} ({t.process or 'unnamed'}) is listed on {gpu} holding "
                f"{t.number} MiB but has not existed in /proc for {duration(held)}"
            )
        action = (
            "The driver still holds its context: end what keeps it open "
            "(fuser -v /dev/nvidia*), or reset the GPU when it is free."
        )
        return Text(sev, summary, action, round(t.value, 2))
    if t.kind == "throttling":
        reasons = ", ".join(t.reasons) or "slowdown"
        mean = t.lost_sum / t.lost_n if t.lost_n else 0.0
        seen = " (the GPU reports no maximum: lost from the highest clock seen)"
        note = seen if t.estimated else ""
        if ended:
            summary = (
                f"{gpu} stopped throttling after {duration(held)} ({reasons}); "
                f"mean {mean:.0f} MHz lost{note}"
            )
            value = round(mean)
        else:
            ceiling = "highest clock seen" if t.estimated else "maximum"
            summary = (
                f"{gpu} throttled by {reasons} for {duration(held)}: {t.value:.0f} MHz below "
                f"its {ceiling} ({t.number} of {t.total} MHz)"
            )
            value = round(t.value)
        if set(t.reasons) & THERMAL_REASONS:
            action = "Check the cooling (airflow, fans, inlet temperature) and lower the load."
        elif "hw_power_brake_slowdown" in t.reasons or "hw_slowdown" in t.reasons:
            action = "A hardware slowdown signal: check the power supply and the GPU's health."
        else:
            action = (
                "The GPU is at its power limit, expected under full load; raise the limit "
                "(nvidia-smi -pl) only if power and cooling allow."
            )
        return Text(sev, summary, action, float(value))
    if t.kind == "hot":
        below = t.limit - w.hot_margin_c - HOT_BAND_C
        if ended:
            summary = (
                f"{gpu} cooled below {below} °C (peak {t.peak:.0f} °C, its slowdown "
                f"temperature is {t.limit} °C; hot for {duration(held)})"
            )
        elif t.value >= t.limit:
            summary = (
                f"{gpu} at {t.value:.0f} °C, at or above its slowdown temperature "
                f"({t.limit} °C): it is slowing down"
            )
        else:
            summary = (
                f"{gpu} at {t.value:.0f} °C, {t.limit - t.value:.0f} °C below its slowdown "
                f"temperature ({t.limit} °C)"
            )
        action = (
            "Check airflow and fans, or lower the load or power limit "
            f"(the finding ends below {below} °C)."
        )
        return Text(sev, summary, action, t.value)
    if t.kind == "eccErrors":
        added = plural(int(t.value), "uncorrected ECC error")
        if ended:
            summary = (
                f"{gpu}: no new uncorrected ECC errors for {duration(w.finding_clear_s)} "
                f"({added} in this episode)"
            )
        else:
            summary = f"{gpu}: {added} (volatile counter now {t.number})"
        action = (
            "Drain the GPU (results computed on it may be wrong), check retired pages and "
            "remapped rows (nvidia-smi -q -d ECC,ROW_REMAPPER) and reset it."
        )
        return Text(sev, summary, action, t.value)
    if t.kind == "xid":
        code = int(t.value)
        meaning = XIDS.get(code, ("see NVIDIA's XID catalogue", False))[0]
        times = f" ({plural(t.number, 'time')})" if t.number > 1 else ""
        if ended:
            summary = f"XID {code} on {gpu}: none for {duration(w.finding_clear_s)}{times}"
        else:
            summary = f"XID {code} on {gpu}: {meaning}{times}"
        if sev == "critical":
            action = (
                "Drain the GPU's jobs and reset it (nvidia-smi -r) or reboot; see dmesg for "
                "the driver's message."
            )
        else:
            action = (
                "Usually the application's fault: check the job on this GPU and its logs; "
                "if it recurs with other jobs, see dmesg."
            )
        return Text(sev, summary, action, float(code))
    # gpuLost
    if ended and t.gone:
        summary = f"{gpu} ({t.gpu_name}) is no longer listed (it was lost for {duration(held)})"
    elif ended:
        summary = f"{gpu} ({t.gpu_name}) returned after {duration(held)}"
    else:
        summary = f"{gpu} ({t.gpu_name}) cannot be read: {t.error or 'no reason given'}"
    action = (
        "Check nvidia-smi and dmesg on the host (XID 79: fallen off the bus); it usually "
        "needs a GPU reset or a reboot. gpulens keeps retrying."
    )
    return Text(sev, summary, action, None)
