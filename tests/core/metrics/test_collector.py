"""One provider read plus system metrics → a Telemetry payload."""

from __future__ import annotations

from datetime import UTC, datetime

from gpulens.core.metrics.collector import build_payload
from gpulens.core.metrics.providers import Selection
from gpulens.core.metrics.schema import GpuInfo
from gpulens.core.metrics.system import SystemCollector


class Dummy:
    name = "nvidia-smi"

    def sample(self) -> list[GpuInfo]:
        return [GpuInfo(id=0, name="g")]

    def close(self) -> None:
        return None


def test_payload_names_its_source() -> None:
    provider = Dummy()
    moment = datetime(2026, 11, 26, 4, 1, 32, tzinfo=UTC)
    payload = build_payload(7, Selection(provider), provider.sample(), SystemCollector(), moment)
    assert (payload.type, payload.seq, payload.source) == ("telemetry", 7, "nvidia-smi")
    assert payload.timestamp == moment
    assert [g.name for g in payload.gpus] == ["g"]
    assert payload.unavailable == {}


def test_payload_without_source_keeps_the_reasons() -> None:
    reasons = {"nvml": "NVML Shared Library Not Found", "nvtop": "nvtop: not found on PATH"}
    before = datetime.now(UTC)
    payload = build_payload(0, Selection(None, reasons), [], SystemCollector())
    assert payload.source is None
    assert payload.gpus == []
    assert payload.unavailable == reasons
    assert payload.timestamp >= before
    assert payload.timestamp.tzinfo is not None
