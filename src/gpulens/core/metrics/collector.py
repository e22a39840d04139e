"""Turns one provider read plus system metrics into a ``Telemetry`` payload."""

from __future__ import annotations

from datetime import UTC, datetime

from gpulens.core.metrics.providers import Selection
from gpulens.core.metrics.schema import GpuInfo, Telemetry
from gpulens.core.metrics.system import SystemCollector


def build_payload(
    seq: int,
    selection: Selection,
    gpus: list[GpuInfo],
    system: SystemCollector,
    moment: datetime | None = None,
) -> Telemetry:
    return Telemetry(
        seq=seq,
        timestamp=moment or datetime.now(UTC),
        source=selection.provider.name if selection.provider is not None else None,
        gpus=gpus,
        system=system.sample(),
        unavailable=selection.unavailable,
    )
