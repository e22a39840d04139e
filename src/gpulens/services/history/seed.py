"""The replay demo's past: the recording played back over the last hours, into the
throw-away store the demo writes to, so that its history view has something to show.

Only for ``TELEMETRY_PROVIDER=replay`` with no ``HISTORY_PATH`` (``create_app``);
a real machine's history is never invented.
"""

from __future__ import annotations

from collections.abc import Iterator

from gpulens.core.metrics.providers.replay import ReplayProvider
from gpulens.services.history.recorder import Sample

DEMO_PAST_HOURS = 24.0
DEMO_PAST_STEP_S = 5.0


def replay_past(
    provider: ReplayProvider,
    until: float,
    *,
    hours: float = DEMO_PAST_HOURS,
    step: float = DEMO_PAST_STEP_S,
) -> Iterator[Sample]:
    """Samples every ``step`` seconds over the ``hours`` before ``until``, looping the
    recording (GPUs only: the host's past is not in a recording)."""
    start = until - hours * 3600
    for i in range(int(hours * 3600 / step)):
        when = start + i * step
        yield when, provider.frame_at(when - start), None
