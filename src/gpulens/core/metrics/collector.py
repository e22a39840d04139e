"""Turns one provider read plus system metrics into a ``Telemetry`` payload.

The one place a payload is built: the sampler (on its read thread) and
``gpulens snapshot`` both call ``build_payload``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from gpulens.core.metrics.providers import Selection
from gpulens.core.metrics.schema import GpuInfo, Telemetry
from gpulens.core.metrics.system import SystemSource


def build_payload(
    seq: int,
    selection: Selection,
    gpus: list[GpuInfo],
    system: SystemSource,
    moment: datetime | None = None,
) -> Telemetry:
    """``gpus`` from ``selection``'s provider, the host read now; ``seq`` as the caller numbers it.

    Both callers pass 0: ``gpulens snapshot`` prints one payload, and the sampler leaves
    numbering to the stream stage, which numbers only what it publishes.
    """
    return Telemetry(
        seq=seq,
        timestamp=moment or datetime.now(UTC),
        source=selection.provider.name if selection.provider is not None else None,
        gpus=gpus,
        system=system.sample(),
        unavailable=selection.unavailable,
    )
