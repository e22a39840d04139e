"""Plays a recording of normalised samples in a loop, in real time.

Opt-in only (``TELEMETRY_PROVIDER=replay``); ``auto`` never picks it, and
every payload it feeds says ``"source": "replay"``.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from gpulens.core.metrics import recording
from gpulens.core.metrics.providers.base import ProviderUnavailable
from gpulens.core.metrics.schema import GpuInfo

DEMO_RECORDING = "demo-h100x2.jsonl.gz"


def default_recording() -> Path:
    """The demo shipped in the package: a real H100 trace, as two GPUs (see docs/replay.md)."""
    return Path(str(resources.files("gpulens.data").joinpath(DEMO_RECORDING)))


class ReplayProvider:
    name = "replay"

    def __init__(
        self, path: str | Path | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        source = Path(path) if path else default_recording()
        try:
            self._recording = recording.load(source)
        except recording.RecordingError as exc:
            raise ProviderUnavailable(f"replay: {exc}") from exc
        self._clock = clock
        self._start = clock()
        self._times = [f.t for f in self._recording.frames]
        self._duration = max(self._recording.duration, 1e-3)
        self.path = source

    @property
    def duration(self) -> float:
        return self._duration

    def close(self) -> None:
        return None

    def sample(self) -> list[GpuInfo]:
        return self.frame_at(self._clock() - self._start)

    def frame_at(self, elapsed: float) -> list[GpuInfo]:
        """The GPUs as the recording has them ``elapsed`` seconds into its loop."""
        offset = self._times[0] + elapsed % self._duration
        index = max(bisect.bisect_right(self._times, offset) - 1, 0)
        return list(self._recording.frames[index].gpus)
