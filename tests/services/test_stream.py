"""The stream stage: numbering, de-duplication on the data, backfill, hot-plug, status, hello."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gpulens.services.messages import GpuChange, Hello, ProviderStatus, Status
from gpulens.services.sampler import Sample
from gpulens.services.stream import Stream, Update
from tests.fakes import gpu
from tests.services.common import OK, config, payload, sample


def make_stream(**kw: Any) -> Stream:
    defaults: dict[str, Any] = {"backlog": 5}
    defaults.update(kw)
    return Stream(config(), **defaults)


class Recorder:
    """An observer that keeps every update it is given."""

    def __init__(self) -> None:
        self.updates: list[Update] = []

    def observe(self, update: Update) -> None:
        self.updates.append(update)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [
            message
            for update in self.updates
            for message in map(json.loads, update.frames)
            if message["type"] == kind
        ]


def test_identical_samples_are_not_resent() -> None:
    stream = make_stream()
    same = [gpu(0, util=10)]
    assert stream.publish(sample(same)).telemetry is not None
    assert stream.publish(sample(same)).telemetry is None
    assert stream.publish(sample([gpu(0, util=11)])).telemetry is not None
    assert stream.stats.deduplicated == 1
    assert len(stream.ring) == 2
    assert stream.next_seq() == 2  # a skipped sample does not leave a gap in seq numbers


def test_seq_is_the_streams_whatever_the_sample_carries() -> None:
    stream = make_stream()
    seqs = []
    for n in range(4):
        update = stream.publish(sample([gpu(0, util=n)], seq=40 + n))
        assert update.telemetry is not None
        seqs.append(update.telemetry.seq)
        assert json.loads(update.frames[-1])["seq"] == update.telemetry.seq
    assert seqs == [0, 1, 2, 3]


def test_repeats_are_found_on_the_data_not_on_time_or_text() -> None:
    stream = make_stream()
    first = payload([gpu(0)])
    stream.publish(sample([gpu(0)]))
    later = first.model_copy(update={"timestamp": first.timestamp + timedelta(hours=1)})
    assert stream.publish(Sample(later, OK, 0.0)).telemetry is None
    # Any field of the data counts, the last ones included.
    assert stream.publish(sample([gpu(0)], unavailable={"nvtop": "gone"})).telemetry is not None
    assert stream.publish(sample([gpu(0)], unavailable={"nvtop": "gone"})).telemetry is None
    assert stream.publish(sample([gpu(0)], source="nvidia-smi")).telemetry is not None
    assert stream.publish(sample([gpu(0, processes=[])])).telemetry is not None
    assert stream.stats.deduplicated == 2


def test_gpu_added_and_removed_are_announced_by_uuid() -> None:
    recorder = Recorder()
    stream = Stream(config(), [recorder], backlog=5)
    stream.publish(sample([gpu(0), gpu(1)]))
    stream.publish(sample([gpu(0, util=1)]))  # GPU 1 vanished
    stream.publish(sample([gpu(0, util=2), gpu(1, uuid="GPU-new")]))
    removed, added = recorder.of_type("gpuRemoved"), recorder.of_type("gpuAdded")
    assert [m["uuid"] for m in removed] == ["GPU-00000001"]
    assert [m["uuid"] for m in added] == ["GPU-new"]
    # The first sample is not announced as "added": the hello/backfill already says it.
    assert all(m["seq"] in (1, 2) for m in removed + added)
    # Announced before the telemetry that shows the change, with that telemetry's seq.
    last = recorder.updates[-1]
    assert [type(m).__name__ for m in last.messages] == ["GpuChange", "Telemetry"]


def test_a_gpu_without_uuid_is_keyed_by_index() -> None:
    stream = make_stream()
    stream.publish(sample([gpu(0, uuid=""), gpu(1, uuid="")]))
    update = stream.publish(sample([gpu(0, uuid="", util=3)]))
    [change] = [m for m in update.messages if isinstance(m, GpuChange)]
    assert (change.type, change.uuid, change.id) == ("gpuRemoved", "index:1", 1)


def test_status_is_sent_when_the_provider_degrades_and_recovers() -> None:
    recorder = Recorder()
    stream = Stream(config(), [recorder], backlog=5)
    bad = ProviderStatus(state="degraded", provider="nvml", reason="GPU 1: GPU is lost")
    stream.publish(sample([gpu(0)]))
    stream.publish(sample([gpu(0, util=3)], bad))
    stream.publish(sample([gpu(0, util=4)], bad))
    stream.publish(sample([gpu(0, util=5)]))
    states = [m["status"]["state"] for m in recorder.of_type("status")]
    assert states == ["ok", "degraded", "ok"]
    assert len(recorder.of_type("telemetry")) == 4


def test_a_status_change_is_sent_even_when_the_data_repeats() -> None:
    stream = make_stream()
    stream.publish(sample([gpu(0)]))
    bad = ProviderStatus(state="degraded", provider="nvml", reason="slow")
    update = stream.publish(sample([gpu(0)], bad))
    assert update.telemetry is None
    assert [type(m) for m in update.messages] == [Status]


def test_a_reason_that_keeps_changing_is_not_resent_every_sample() -> None:
    clock = [0.0]
    recorder = Recorder()
    stream = Stream(config(), [recorder], clock=lambda: clock[0])
    for second in range(30):  # a tool printing a different error every second
        clock[0] = float(second)
        degraded = ProviderStatus(state="degraded", provider="nvtop", reason=f"error at {second}")
        stream.publish(sample([gpu(0, util=second)], degraded))
    clock[0] = 30.0
    stream.publish(sample([gpu(0)], OK))  # recovered: said at once
    reasons = [m["status"]["reason"] for m in recorder.of_type("status")]
    assert reasons == ["error at 0", "error at 10", "error at 20", None]
    assert stream.status == OK


@pytest.mark.parametrize("backlog", [0, 1, 120])
def test_backlog_is_bounded(backlog: int) -> None:
    stream = make_stream(backlog=backlog)
    for seq in range(200):
        stream.publish(sample([gpu(0, util=seq % 100), gpu(1, util=seq // 100)]))
    assert len(stream.ring) == backlog
    backfill = json.loads(stream.hello())["backfill"]
    assert len(backfill) == backlog


def test_hello_carries_config_status_and_backlog() -> None:
    stream = make_stream(backlog=3)
    frames = [stream.publish(sample([gpu(0, util=n)])).frames[-1] for n in range(5)]
    hello = json.loads(stream.hello())
    assert hello["type"] == "hello"
    assert [f["seq"] for f in hello["backfill"]] == [2, 3, 4]
    assert hello["config"]["pollIntervalMs"] == 250
    assert hello["status"]["state"] == "ok"
    # The backfill is the very telemetry the clients were sent, byte for byte.
    assert f'"backfill":[{",".join(frames[2:])}],' in stream.hello()
    assert [t.seq for t in Hello.model_validate_json(stream.hello()).backfill] == [2, 3, 4]


def test_hello_is_serialised_once_until_the_ring_or_status_changes() -> None:
    clock = [0.0]
    stream = Stream(config(), backlog=5, clock=lambda: clock[0])
    stream.publish(sample([gpu(0)]))
    first = stream.hello()
    assert stream.hello() is first  # a burst of clients: one serialisation
    stream.publish(sample([gpu(0)]))  # a repeat: the ring is unchanged
    assert stream.hello() is first
    stream.publish(sample([gpu(0, util=1)]))
    second = stream.hello()
    assert second is not first and len(json.loads(second)["backfill"]) == 2
    # A new reason that is not sent yet (rate-limited) still shows in the next hello.
    degraded = ProviderStatus(state="degraded", provider="nvml", reason="one")
    stream.publish(sample([gpu(0, util=1)], degraded))
    clock[0] = 1.0
    reworded = ProviderStatus(state="degraded", provider="nvml", reason="two")
    assert stream.publish(sample([gpu(0, util=1)], reworded)).messages == ()
    assert json.loads(stream.hello())["status"]["reason"] == "two"


def test_every_observer_gets_the_same_update_and_a_broken_one_stops_nobody(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        def observe(self, update: Update) -> None:
            raise RuntimeError("bug")

    before, after = Recorder(), Recorder()
    stream = Stream(config(), [before, Broken(), after])
    with caplog.at_level("ERROR", logger="gpulens.stream"):
        update = stream.publish(sample([gpu(0)]))
    assert before.updates == [update] and after.updates == [update]
    assert "observer Broken failed" in caplog.text


def test_last_sample_time_counts_repeats() -> None:
    clock = [5.0]
    stream = Stream(config(), clock=lambda: clock[0])
    assert stream.last_sample_at is None
    stream.publish(sample([gpu(0)]))
    clock[0] = 6.0
    stream.publish(sample([gpu(0)]))
    assert stream.last_sample_at == 6.0
    assert stream.ring[-1].timestamp <= datetime.now(UTC)


def test_a_findings_detector_sends_findings_and_events() -> None:
    from gpulens.services.findings.detector import FindingsDetector, Thresholds

    recorder = Recorder()
    detector = FindingsDetector(Thresholds(), host_pids=False)
    stream = Stream(config(), [recorder], backlog=5, detector=detector)
    start = datetime.now(UTC)
    cool, hot = [gpu(0, temperatureSlowdown=89)], [gpu(0, temperature=86, temperatureSlowdown=89)]
    for n, gpus in enumerate([cool, hot, hot, cool]):
        stamped = payload(gpus).model_copy(update={"timestamp": start + timedelta(seconds=n)})
        stream.publish(Sample(stamped, OK, 0.0))
    events = [m["event"] for m in recorder.of_type("event")]
    assert [(e["kind"], e["end"]) for e in events] == [
        ("provider", events[0]["end"]),
        ("hot", None),
    ]
    [findings] = recorder.of_type("findings")  # sent when the set changed, not every sample
    assert [f["kind"] for f in findings["findings"]] == ["hot"]
    assert recorder.updates[1].findings == detector.findings
    hello = json.loads(stream.hello())
    assert [f["kind"] for f in hello["findings"]] == ["hot"]
    assert [e["kind"] for e in hello["events"]] == ["provider", "hot"]
