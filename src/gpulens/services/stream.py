"""The stream stage: decides, once per sample, what clients and observers are told.

One ``Sample`` in (from the sampler), one ``Update`` out, handed to each
observer registered in ``create_app`` (the hub, which delivers frames to the
clients; ``/metrics``; next the history store and event detection). The stream:

* numbers what it publishes (``seq``: consecutive, a repeated sample leaves no gap);
* drops a sample whose data equals the previous one's (every field but
  ``seq`` and ``timestamp``, compared as data);
* keeps the recent ring a new client gets as backfill in its ``hello``;
* turns a change in the set of GPUs into ``gpuAdded`` / ``gpuRemoved``;
* keeps the provider status: a new state is told at once, a new reason in the
  same state at most every ``STATUS_REASON_MIN_GAP_S``.

It never awaits. Observers are called in turn, on the event loop, and must
return at once (one with slow work hands it to its own thread or bounded
queue). Each gets the same immutable update; none may rely on another having
seen it first, so their order does not matter. One that raises is logged and
the others still get the update.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gpulens.core.metrics.schema import GpuInfo, Telemetry
from gpulens.services.findings.model import NO_DETECTION, Detection, Event
from gpulens.services.messages import (
    ClientConfig,
    EventMessage,
    Findings,
    GpuChange,
    Hello,
    ProviderStatus,
    ServerMessage,
    Status,
)
from gpulens.services.privacy import UserMask
from gpulens.services.sampler import Sample

log = logging.getLogger("gpulens.stream")

# A status whose only change is its reason text (a tool printing a different error each
# time) is sent at most this often; a change of state is sent at once.
STATUS_REASON_MIN_GAP_S = 10.0
RECENT_EVENTS = 50  # events a new client gets in its hello

# What makes two samples the same: all of the payload but its type, number and time.
_CONTENT_FIELDS = tuple(f for f in Telemetry.model_fields if f not in ("type", "seq", "timestamp"))


@dataclass(frozen=True, slots=True)
class Update:
    """What the stream made of one sample; every observer gets this same one."""

    sample: Sample  # as the sampler read it: payload (not numbered), provider status, read time
    telemetry: Telemetry | None  # the numbered payload, or None: the data did not change
    messages: tuple[
        ServerMessage, ...
    ]  # for clients, in order: status, gpuAdded/Removed, telemetry
    frames: tuple[str, ...]  # the same messages serialised, once for every client
    events: tuple[Event, ...] = ()  # started, ended or instant since the last sample
    findings: tuple[Event, ...] = ()  # active now


class Detector(Protocol):
    """Findings and events from each sample (``services/findings/detector.py``)."""

    def step(
        self, sample: Sample, changes: Sequence[GpuChange], status_changed: bool
    ) -> Detection: ...


class Observer(Protocol):
    """A consumer of the stream (``create_app`` lists them). Called on the event loop."""

    def observe(self, update: Update) -> None: ...


@dataclass(slots=True)
class StreamStats:
    published: int = 0
    deduplicated: int = 0


class Stream:
    """Sequence numbers, de-duplication, the backfill ring, hot-plug events and the status."""

    def __init__(
        self,
        config: ClientConfig,
        observers: Sequence[Observer] = (),
        *,
        backlog: int = 120,
        clock: Callable[[], float] = time.monotonic,
        detector: Detector | None = None,
        mask: UserMask | None = None,
    ) -> None:
        self.config = config
        self.observers = tuple(observers)
        self.detector = detector
        self.mask = mask  # HIDE_USERS: what clients are sent carries pseudonyms
        self.findings: tuple[Event, ...] = ()
        self.events: deque[Event] = deque(maxlen=RECENT_EVENTS)
        self.clock = clock
        self.ring: deque[Telemetry] = deque(maxlen=backlog)
        self.status = ProviderStatus(state="unavailable", provider=None)
        self.last_sample_at: float | None = None
        self.stats = StreamStats()
        self._seq = 0
        self._content: tuple[object, ...] | None = None
        self._gpus: dict[str, GpuInfo] = {}
        self._status_sent_at = float("-inf")
        self._status_unsent = False
        self._hello: str | None = None

    def next_seq(self) -> int:
        """The seq the next published sample will get."""
        return self._seq

    def publish(self, sample: Sample) -> Update:
        """Take one sample, tell every observer what came of it; never awaits."""
        self.last_sample_at = self.clock()
        payload = sample.payload
        messages: list[ServerMessage] = []
        previous_status = (self.status.state, self.status.provider)
        status = self._status_message(sample.status, payload.timestamp)
        status_changed = (self.status.state, self.status.provider) != previous_status
        if status is not None:
            messages.append(status)
        content = tuple(getattr(payload, name) for name in _CONTENT_FIELDS)
        telemetry: Telemetry | None = None
        changes: list[GpuChange] = []
        if content == self._content:
            self.stats.deduplicated += 1
        else:
            self._content = content
            telemetry = payload.model_copy(update={"seq": self._seq})
            self._seq += 1
            changes = self._device_changes(telemetry)
            messages.extend(changes)
            shown = self.mask.telemetry(telemetry) if self.mask is not None else telemetry
            messages.append(shown)
            self.ring.append(shown)
            self._hello = None
            self.stats.published += 1
        detection = (
            self.detector.step(sample, changes, status_changed)
            if self.detector is not None
            else NO_DETECTION
        )
        messages.extend(self._detected(detection, payload.timestamp))
        frames = tuple(message.model_dump_json(by_alias=True) for message in messages)
        update = Update(
            sample, telemetry, tuple(messages), frames, detection.events, detection.findings
        )
        for observer in self.observers:
            try:
                observer.observe(update)
            except Exception:  # one broken consumer must not starve the others
                log.exception("observer %s failed", type(observer).__name__)
        return update

    def _detected(self, detection: Detection, moment: datetime) -> list[ServerMessage]:
        """The events, then the active findings when they changed (as clients see them)."""
        messages: list[ServerMessage] = []
        for event in detection.events:
            shown = self.mask.event(event) if self.mask is not None else event
            self.events.append(shown)
            messages.append(EventMessage(event=shown))
        if detection.changed:
            self.findings = tuple(
                self.mask.event(f) if self.mask is not None else f for f in detection.findings
            )
            messages.append(Findings(timestamp=moment, findings=list(self.findings)))
        if detection.events or detection.changed:
            self._hello = None
        return messages

    def hello(self) -> str:
        """A new client's first frame; serialised once per change of ring, status or findings."""
        if self._hello is None:
            hello = Hello(
                config=self.config,
                status=self.status,
                backfill=list(self.ring),
                findings=list(self.findings),
                events=list(self.events),
            )
            self._hello = hello.model_dump_json(by_alias=True)
        return self._hello

    def _status_message(self, status: ProviderStatus, moment: datetime) -> Status | None:
        """Keep the status current; tell clients of a new state at once, of new words rarely."""
        urgent = False
        if status != self.status:
            urgent = (status.state, status.provider) != (self.status.state, self.status.provider)
            self.status = status
            self._status_unsent = True
            self._hello = None
        now = self.clock()
        if not self._status_unsent or (
            not urgent and now - self._status_sent_at < STATUS_REASON_MIN_GAP_S
        ):
            return None
        self._status_unsent = False
        self._status_sent_at = now
        return Status(timestamp=moment, status=self.status)

    def _device_changes(self, telemetry: Telemetry) -> list[GpuChange]:
        """``gpuAdded``/``gpuRemoved`` when the set of GPU keys changed (not for the first)."""
        current = {gpu.key: gpu for gpu in telemetry.gpus}
        previous, self._gpus = self._gpus, current
        if current.keys() == previous.keys() or telemetry.seq == 0:
            return []
        changes = [
            GpuChange(
                type="gpuAdded", seq=telemetry.seq, timestamp=telemetry.timestamp,
                uuid=key, id=current[key].id, name=current[key].name,
            )
            for key in current.keys() - previous.keys()
        ] + [
            GpuChange(
                type="gpuRemoved", seq=telemetry.seq, timestamp=telemetry.timestamp,
                uuid=key, id=previous[key].id, name=previous[key].name,
            )
            for key in previous.keys() - current.keys()
        ]  # fmt: skip
        for change in changes:
            log.info("%s: GPU %s (%s)", change.type, change.id, change.uuid)
        return changes
