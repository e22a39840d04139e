"""Choosing a provider by name; ``auto`` tries NVML, nvidia-smi, nvtop and never replays."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gpulens.config import Settings
from gpulens.core.metrics.providers import AUTO_ORDER, REGISTRY, Factory, resolver_for, select
from gpulens.core.metrics.providers.base import EventSource, ProviderError, ProviderUnavailable
from gpulens.core.metrics.schema import GpuInfo
from gpulens.testing.nvml import RecordedNvml


class Dummy:
    def __init__(self, name: str) -> None:
        self.name = name

    def sample(self) -> list[GpuInfo]:
        return []

    def close(self) -> None:
        return None


def _registry(tried: list[str], failures: dict[str, Exception]) -> dict[str, Factory]:
    def factory(name: str) -> Factory:
        def make(settings: Settings) -> Dummy:
            tried.append(name)
            if name in failures:
                raise failures[name]
            return Dummy(name)

        return make

    return {name: factory(name) for name in ("nvml", "nvidia-smi", "nvtop", "replay")}


@pytest.fixture
def settings(clean_env: Path) -> Settings:
    return Settings(_env_file=None)


def test_auto_order_is_nvml_then_nvidia_smi_then_nvtop() -> None:
    assert AUTO_ORDER == ("nvml", "nvidia-smi", "nvtop")
    assert set(REGISTRY) == {"nvml", "nvidia-smi", "nvtop", "replay"}


def test_auto_picks_the_first_that_works(settings: Settings) -> None:
    tried: list[str] = []
    chosen = select(settings, "auto", _registry(tried, {}))
    assert chosen.provider is not None
    assert chosen.provider.name == "nvml"
    assert chosen.unavailable == {}
    assert tried == ["nvml"]


def test_auto_keeps_the_reason_of_each_skipped_source(settings: Settings) -> None:
    tried: list[str] = []
    failures: dict[str, Exception] = {
        "nvml": ProviderUnavailable("NVML Shared Library Not Found"),
        "nvidia-smi": RuntimeError("boom"),
    }
    chosen = select(settings, "auto", _registry(tried, failures))
    assert chosen.provider is not None
    assert chosen.provider.name == "nvtop"
    assert tried == ["nvml", "nvidia-smi", "nvtop"]
    assert chosen.unavailable == {
        "nvml": "NVML Shared Library Not Found",
        "nvidia-smi": "nvidia-smi: RuntimeError: boom",  # an unexpected error is a reason too
    }


def test_auto_never_falls_back_to_replay(settings: Settings) -> None:
    tried: list[str] = []
    failures: dict[str, Exception] = {
        name: ProviderError(f"{name} is down") for name in ("nvml", "nvidia-smi", "nvtop")
    }
    chosen = select(settings, None, _registry(tried, failures))  # settings say auto
    assert chosen.provider is None
    assert "replay" not in tried
    assert chosen.unavailable == {name: f"{name} is down" for name in AUTO_ORDER}


def test_explicit_provider_is_used_without_trying_the_others(settings: Settings) -> None:
    tried: list[str] = []
    chosen = select(settings, "replay", _registry(tried, {}))
    assert chosen.provider is not None
    assert chosen.provider.name == "replay"
    assert tried == ["replay"]


def test_explicit_provider_that_cannot_run_is_no_provider_with_the_reason(
    settings: Settings,
) -> None:
    # Not fatal: at boot the driver often loads after the service; the caller retries.
    tried: list[str] = []
    failures: dict[str, Exception] = {"nvidia-smi": ProviderUnavailable("nvidia-smi: gone")}
    chosen = select(settings, "nvidia-smi", _registry(tried, failures))
    assert chosen.provider is None
    assert chosen.unavailable == {"nvidia-smi": "nvidia-smi: gone"}
    assert tried == ["nvidia-smi"]
    failures["replay"] = OSError("disk on fire")
    chosen = select(settings, "replay", _registry(tried, failures))
    assert chosen.unavailable == {"replay": "replay: OSError: disk on fire"}
    with pytest.raises(ProviderUnavailable, match="unknown provider"):
        select(settings, "dcgm", _registry(tried, failures))


@pytest.mark.usefixtures("nvml_absent")
def test_real_registry_on_a_machine_without_gpu(settings: Settings) -> None:
    chosen = select(settings)
    assert chosen.provider is None
    assert list(chosen.unavailable) == list(AUTO_ORDER)
    assert "NVML" in chosen.unavailable["nvml"]
    assert "does not exist" in chosen.unavailable["nvidia-smi"]
    assert "does not exist" in chosen.unavailable["nvtop"]


@pytest.mark.usefixtures("nvml_absent")
def test_real_registry_explicit_nvml_says_why(settings: Settings) -> None:
    chosen = select(settings, "nvml")
    assert chosen.provider is None
    assert "NVML" in chosen.unavailable["nvml"]


def test_real_registry_replay_plays_the_demo(settings: Settings) -> None:
    chosen = select(settings, "replay")
    assert chosen.provider is not None
    assert chosen.provider.name == "replay"
    assert len(chosen.provider.sample()) == 2


# -- what the settings configure ------------------------------------------------------------


@pytest.mark.parametrize("xid", [True, False])
def test_nvml_from_settings_watches_xids_only_when_asked(
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_nvml: Callable[..., RecordedNvml],
    xid: bool,
) -> None:
    from gpulens.core.metrics.providers import nvml as nvml_module

    nv = make_nvml("loaded")
    monkeypatch.setattr(nvml_module, "load_pynvml", lambda: nv)
    chosen = select(Settings(_env_file=None, xid_events=xid), "nvml")
    provider = chosen.provider
    assert isinstance(provider, EventSource)
    try:
        if xid:
            deadline = time.monotonic() + 5
            while provider.events_status().state != "ok":
                assert time.monotonic() < deadline
                time.sleep(0.01)
        else:
            assert provider.events_status().state == "off"
            assert nv.event_sets == []
        assert provider.sample()[0].status == "ok"
    finally:
        provider.close()


def test_the_resolver_follows_the_container_settings(clean_env: Path, tmp_path: Path) -> None:
    off = resolver_for(Settings(_env_file=None))
    me = off(os.getpid())
    assert me.started is not None
    assert me.name is not None
    # Names asked of an engine that is not there: the process is still resolved, never raised.
    opted = resolver_for(
        Settings(_env_file=None, container_names="docker", container_socket=tmp_path / "no.sock")
    )
    assert opted(os.getpid()).started == me.started


def test_no_lookup_where_the_drivers_pids_are_not_ours(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In another PID namespace a driver pid may be one of ours: never show that stranger."""
    import gpulens.core.metrics.providers as providers

    monkeypatch.setattr(providers, "in_host_pid_namespace", lambda: False)
    resolve = resolver_for(Settings(_env_file=None))
    identity = resolve(os.getpid())  # a pid that exists here
    assert (identity.name, identity.user, identity.started, identity.container) == (None,) * 4
