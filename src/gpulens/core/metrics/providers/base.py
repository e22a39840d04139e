"""The small contract every GPU source implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from gpulens.core.metrics.schema import GpuInfo


class ProviderError(Exception):
    """A source failed to produce a sample; the message says why, for people."""


class ProviderUnavailable(ProviderError):
    """A source cannot be used on this machine at all (library or binary missing, no GPU)."""


@runtime_checkable
class Provider(Protocol):
    """A GPU telemetry source.

    ``sample`` blocks (library calls, subprocesses): callers run it off the
    event loop. It returns every GPU the source knows, a GPU that failed
    being marked ``status="failed"``; it raises ``ProviderError`` when the
    source as a whole failed this time.
    """

    name: str

    def sample(self) -> list[GpuInfo]: ...

    def close(self) -> None: ...
