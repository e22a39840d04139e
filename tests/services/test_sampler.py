"""The sampler: failures, hangs and lost GPUs never stop the stream.

Each sampler here publishes into a real stream stage, as in the app, so the
tests see what the clients would be told.
"""

from __future__ import annotations

from typing import Any

import pytest

from gpulens.config import Settings
from gpulens.core.metrics.providers import Selection
from gpulens.core.metrics.providers.base import ProviderError
from gpulens.core.metrics.schema import GpuInfo
from gpulens.services.sampler import Sampler
from gpulens.services.stream import Stream
from tests.fakes import FakeProvider, FakeSystem, gpu, hanging, selection, steady
from tests.services.common import config


def settings(**kw: Any) -> Settings:
    base: dict[str, Any] = {"sample_timeout_ms": 200, "poll_interval_ms": 250}
    base.update(kw)
    return Settings(**base)


def sampler_for(provider: FakeProvider | None, **kw: Any) -> tuple[Sampler, Stream]:
    stream = Stream(config())
    chosen = selection(provider, {"nvml": "x"} if provider is None else {})
    return Sampler(settings(**kw), chosen, stream.publish, FakeSystem()), stream


async def test_healthy_samples_are_published_with_consecutive_seq() -> None:
    sampler, stream = sampler_for(steady(2))
    payloads = [(await sampler.tick()).payload for _ in range(3)]
    assert [p.seq for p in stream.ring] == [0, 1, 2]  # numbered by the stream
    assert all(p.source == "nvml" and len(p.gpus) == 2 for p in payloads)
    assert stream.status.state == "ok"
    sampler.close()


async def test_provider_error_mid_stream_degrades_then_recovers() -> None:
    def script(n: int) -> list[GpuInfo] | BaseException:
        if n == 1:
            return ProviderError("Driver Not Loaded")
        return [gpu(0, util=n), gpu(1, util=n + 1)]

    sampler, stream = sampler_for(FakeProvider(script))
    await sampler.tick()
    failed = (await sampler.tick()).payload
    assert [g.status for g in failed.gpus] == ["failed", "failed"]
    assert all(g.error == "Driver Not Loaded" and g.utilization is None for g in failed.gpus)
    # Identity and fixed sizes stay (failed_gpu), readings go.
    assert [(g.uuid, g.memory_total, g.power_limit, g.memory_used) for g in failed.gpus] == [
        ("GPU-00000000", 143771, 700.0, None),
        ("GPU-00000001", 143771, 700.0, None),
    ]
    assert failed.system.cpu_usage == 10.0  # system metrics keep flowing
    assert stream.status.state == "degraded"
    assert stream.status.reason == "Driver Not Loaded"
    recovered = (await sampler.tick()).payload
    assert [g.status for g in recovered.gpus] == ["ok", "ok"]
    # mypy keeps the state narrowed by the assert before the tick, which changed it.
    assert stream.status.state == "ok"  # type: ignore[comparison-overlap]
    assert [p.seq for p in stream.ring] == [0, 1, 2]
    sampler.close()


async def test_unexpected_exception_is_contained() -> None:
    sampler, stream = sampler_for(FakeProvider(lambda n: RuntimeError("boom") if n else [gpu(0)]))
    await sampler.tick()
    payload = (await sampler.tick()).payload
    assert payload.gpus[0].status == "failed"
    assert "RuntimeError: boom" in (stream.status.reason or "")
    sampler.close()


async def test_a_hung_read_times_out_and_never_runs_twice() -> None:
    provider = hanging(after=1)
    sampler, stream = sampler_for(provider, sample_timeout_ms=100)
    await sampler.tick()
    timed_out = (await sampler.tick()).payload
    assert "did not finish within 0.1 s" in (stream.status.reason or "")
    assert [g.status for g in timed_out.gpus] == ["failed", "failed"]
    calls = provider.calls
    still = (await sampler.tick()).payload
    assert provider.calls == calls  # no second read while the first is stuck
    assert "still running" in (stream.status.reason or "")
    assert still.system.cpu_usage == 10.0
    sampler.close()


async def test_one_lost_gpu_degrades_status_and_keeps_the_other() -> None:
    lost = gpu(1).model_copy(
        update={"status": "failed", "error": "GPU is lost", "utilization": None}
    )
    sampler, stream = sampler_for(FakeProvider(lambda n: [gpu(0, util=n), lost]))
    payload = (await sampler.tick()).payload
    assert payload.gpus[0].status == "ok" and payload.gpus[0].utilization == 0
    assert payload.gpus[1].status == "failed"
    assert stream.status.state == "degraded"
    assert stream.status.reason == "GPU 1: GPU is lost"
    sampler.close()


async def test_no_source_streams_system_metrics_and_looks_again_later() -> None:
    clock = [0.0]
    found = steady(1)
    stream = Stream(config())
    sampler = Sampler(
        settings(), selection(None, {"nvml": "NVML Shared Library Not Found"}), stream.publish,
        FakeSystem(), clock=lambda: clock[0], reselect=lambda: selection(found),
    )  # fmt: skip
    payload = (await sampler.tick()).payload
    assert payload.gpus == [] and payload.source is None
    assert payload.unavailable == {"nvml": "NVML Shared Library Not Found"}
    assert stream.status.state == "unavailable"
    clock[0] = 31.0
    payload = (await sampler.tick()).payload
    assert payload.source == "nvml" and len(payload.gpus) == 1
    # mypy keeps the state narrowed by the assert before the tick, which changed it.
    assert stream.status.state == "ok"  # type: ignore[comparison-overlap]
    sampler.close()


@pytest.mark.parametrize("count", [1, 8])
async def test_gpu_count_is_preserved(count: int) -> None:
    sampler, _stream = sampler_for(steady(count))
    assert len((await sampler.tick()).payload.gpus) == count
    sampler.close()


async def test_an_explicit_source_missing_at_start_is_retried_with_backoff() -> None:
    """TELEMETRY_PROVIDER=nvml at boot, before the driver: the stream is up and says why."""
    clock = [0.0]
    probes: list[float] = []
    found = steady(1)
    s = settings(telemetry_provider="nvml")
    missing = {"nvml": "NVML: Driver Not Loaded"}

    def reselect() -> Selection:
        probes.append(clock[0])
        return selection(found if clock[0] >= 14 else None, None if clock[0] >= 14 else missing)

    stream = Stream(config())
    sampler = Sampler(
        s, selection(None, missing), stream.publish, FakeSystem(),
        clock=lambda: clock[0], reselect=reselect,
    )  # fmt: skip
    for now in [0.0, 1.0, 2.0, 3.0, 5.9, 6.0, 13.9, 14.0]:
        clock[0] = now
        payload = (await sampler.tick()).payload
        if now < 14.0:
            assert payload.gpus == [] and payload.source is None
            assert stream.status.state == "unavailable"
            assert stream.status.reason == (
                "nvml is not available yet, retrying: NVML: Driver Not Loaded"
            )
    assert probes == [2.0, 6.0, 14.0]  # 2 s, then 4, then 8: backing off
    assert payload.source == "nvml" and len(payload.gpus) == 1
    assert stream.status.state == "ok"
    sampler.close()


async def test_a_failing_source_is_logged_when_it_changes_not_every_sample(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def script(n: int) -> list[GpuInfo] | BaseException:
        if 1 <= n <= 5:
            return ProviderError("Driver Not Loaded")
        return [gpu(0, util=n)]

    sampler, _stream = sampler_for(FakeProvider(script))
    with caplog.at_level("INFO", logger="gpulens.sampler"):
        for _ in range(8):
            await sampler.tick()
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "GPU source nvml degraded: Driver Not Loaded",
        "GPU source nvml: ok",
    ]
    sampler.close()


async def test_each_sample_carries_its_read_time_and_status_and_knows_no_seq() -> None:
    sampler, stream = sampler_for(FakeProvider(lambda n: [gpu(0)]))
    first, repeat = await sampler.tick(), await sampler.tick()
    assert first.payload.seq == repeat.payload.seq == 0  # numbering is the stream's
    assert first.duration > 0 and repeat.duration > 0
    assert first.status.state == "ok"
    assert stream.stats.deduplicated == 1  # the repeat reached the stream, which dropped it
    sampler.close()
