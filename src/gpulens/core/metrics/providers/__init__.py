"""GPU sources, chosen by name. ``auto`` tries NVML, then nvidia-smi, then nvtop.

Each source gets a process resolver configured from the settings (container
names by opt-in: ``CONTAINER_NAMES``, ``CONTAINER_SOCKET``); NVML also
watches XID errors when ``XID_EVENTS`` is on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from gpulens.config import Settings
from gpulens.core.metrics.containers import containers_for
from gpulens.core.metrics.processes import (
    ProcessResolver,
    PsutilResolver,
    in_host_pid_namespace,
    unresolved,
)
from gpulens.core.metrics.providers.base import Provider, ProviderError, ProviderUnavailable

Factory = Callable[[Settings], Provider]


def resolver_for(settings: Settings) -> ProcessResolver:
    """Process names, users, start times and containers, as the settings ask; none at all
    where the driver's pids are not ours to look up (another PID namespace)."""
    if not in_host_pid_namespace():
        return unresolved
    return PsutilResolver(
        containers=containers_for(settings.container_names, settings.container_socket)
    )


def _nvml(settings: Settings) -> Provider:
    from gpulens.core.metrics.providers.nvml import NvmlProvider

    return NvmlProvider(resolver=resolver_for(settings), xid_events=settings.xid_events)


def _nvidia_smi(settings: Settings) -> Provider:
    from gpulens.core.metrics.providers.nvidia_smi import NvidiaSmiProvider

    return NvidiaSmiProvider(
        settings.nvidia_smi_path,
        timeout=settings.sample_timeout_ms / 1000,
        resolver=resolver_for(settings),
    )


def _nvtop(settings: Settings) -> Provider:
    from gpulens.core.metrics.providers.nvtop import NvtopProvider

    return NvtopProvider(
        settings.nvtop_path,
        timeout=settings.sample_timeout_ms / 1000,
        resolver=resolver_for(settings),
    )


def _replay(settings: Settings) -> Provider:
    from gpulens.core.metrics.providers.replay import ReplayProvider

    return ReplayProvider(settings.replay_file)


REGISTRY: dict[str, Factory] = {
    "nvml": _nvml,
    "nvidia-smi": _nvidia_smi,
    "nvtop": _nvtop,
    "replay": _replay,
}
AUTO_ORDER: tuple[str, ...] = ("nvml", "nvidia-smi", "nvtop")


@dataclass(slots=True)
class Selection:
    """The provider in use (or none) and, for each source that could not be used, why."""

    provider: Provider | None
    unavailable: dict[str, str] = field(default_factory=dict)


def select(
    settings: Settings,
    name: str | None = None,
    registry: dict[str, Factory] | None = None,
) -> Selection:
    """Open the named provider; ``auto`` tries each real source in order and never replays.

    A source that cannot run is never fatal: the selection then has no provider
    and says why for each source tried (the caller retries later). Only a name
    outside the registry raises ``ProviderUnavailable``.
    """
    registry = registry if registry is not None else REGISTRY
    wanted = name or settings.telemetry_provider
    if wanted != "auto" and wanted not in registry:
        raise ProviderUnavailable(f"unknown provider {wanted!r}")
    reasons: dict[str, str] = {}
    for candidate in AUTO_ORDER if wanted == "auto" else (wanted,):
        try:
            return Selection(registry[candidate](settings), reasons)
        except ProviderError as exc:
            reasons[candidate] = str(exc)
        except Exception as exc:
            reasons[candidate] = f"{candidate}: {exc.__class__.__name__}: {exc}"
    return Selection(None, reasons)


__all__ = [
    "AUTO_ORDER",
    "REGISTRY",
    "Provider",
    "ProviderError",
    "ProviderUnavailable",
    "Selection",
    "resolver_for",
    "select",
]
