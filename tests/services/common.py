"""What the service tests share: a client config, samples as the sampler hands them on."""

from __future__ import annotations

from datetime import UTC, datetime

from gpulens.core.metrics.schema import GpuInfo, Telemetry
from gpulens.services.messages import ClientConfig, ProviderStatus, TemperatureThresholds
from gpulens.services.sampler import Sample
from tests.fakes import FakeSystem

OK = ProviderStatus(state="ok", provider="nvml")


def config() -> ClientConfig:
    return ClientConfig(
        poll_interval_ms=250, ws_backlog=5, heartbeat_interval_ms=1000, max_rate=5.0,
        hostname="box", version="test", busy_utilization=10,
        temperature_thresholds=TemperatureThresholds(warn=70, hot=85),
    )  # fmt: skip


def payload(gpus: list[GpuInfo], **extra: object) -> Telemetry:
    """A payload as the sampler builds it: not numbered (seq 0), stamped now."""
    fields: dict[str, object] = {
        "seq": 0, "timestamp": datetime.now(UTC), "source": "nvml", "gpus": gpus,
        "system": FakeSystem().sample(), **extra,
    }  # fmt: skip
    return Telemetry.model_validate(fields)


def sample(gpus: list[GpuInfo], status: ProviderStatus = OK, **extra: object) -> Sample:
    return Sample(payload(gpus, **extra), status, 0.001)
