"""NvmlProvider against RecordedNvml answering from the real H200 dumps."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from typing import Any

import pynvml
import pytest

from gpulens.core.metrics.providers.base import ProviderError, ProviderUnavailable
from gpulens.core.metrics.providers.nvml import (
    BACKOFF_INITIAL_S,
    REINIT_FIRST_S,
    REINIT_MAX_S,
    RESCAN_INTERVAL_S,
    SLOW_FIELDS_INTERVAL_S,
    NvmlProvider,
    device_set,
)
from gpulens.core.metrics.units import MIB
from gpulens.testing.nvml import RecordedNvml
from tests.fakes import FakeClock

from ..conftest import COMPUTE_KEY, H200_UUID, FakeResolver

MakeNvml = Callable[..., RecordedNvml]
NOT_SUPPORTED = {"error": "NVMLError_NotSupported"}


def _provider(nv: RecordedNvml, resolver: Any = None, clock: Any = None) -> NvmlProvider:
    return NvmlProvider(nv, resolver=resolver or FakeResolver(), clock=clock or FakeClock())


def test_loaded_h200_values_and_units(make_nvml: MakeNvml, resolver: FakeResolver) -> None:
    [gpu] = _provider(make_nvml("loaded"), resolver).sample()
    assert gpu.status == "ok"
    assert gpu.error is None
    assert (gpu.id, gpu.name, gpu.uuid) == (0, "NVIDIA H200", H200_UUID)
    assert gpu.pci_bus_id == "00000000:00:06.0"
    assert gpu.driver_version == "580.159.04"
    assert gpu.cuda_version == "13.0"  # nvmlSystemGetCudaDriverVersion_v2 = 13000
    assert (gpu.utilization, gpu.memory_utilization) == (40, 11)
    # Bytes → MiB (v2 struct: 150754820096 total, 12482641920 used, 644939776 reserved).
    assert gpu.memory_total == 143771
    assert gpu.memory_used == 11905
    assert gpu.memory_free == 131252
    assert gpu.memory_reserved == 616
    assert gpu.temperature == 56
    assert gpu.temperature_slowdown == 89
    assert gpu.power_usage == 514.98  # 514977 mW, to 10 mW
    assert gpu.power_limit == 700.0  # 700000 mW
    assert gpu.energy_consumed == pytest.approx(5016.494)  # mJ → J
    assert gpu.fan_speed is None  # NotSupported on this passively cooled GPU
    assert (gpu.encoder_utilization, gpu.decoder_utilization) == (0, 0)  # [0, 100000]
    assert (gpu.sm_clock, gpu.memory_clock, gpu.pstate) == (1860, 3201, 0)
    assert gpu.clock_event_reasons == ["sw_power_cap"]
    assert gpu.ecc_errors_uncorrected == 0
    procs = [(p.pid, p.name, p.used_memory_mib, p.user, p.type) for p in gpu.processes]
    assert procs == [
        (483, "python3", 9194, "alice", "compute"),
        (484, "python3", 2696, "alice", "compute"),
    ]
    # Per-process SM share comes from nvmlDeviceGetProcessUtilization.
    assert [p.sm_utilization for p in gpu.processes] == [44, 1]


def test_idle_h200(make_nvml: MakeNvml) -> None:
    [gpu] = _provider(make_nvml("idle")).sample()
    assert (gpu.utilization, gpu.memory_used, gpu.memory_free) == (0, 0, 143156)
    assert gpu.power_usage == 84.25  # 84252 mW, to 10 mW
    assert gpu.processes == []
    assert gpu.clock_event_reasons == ["gpu_idle"]


def test_encoder_decoder_take_the_value_of_the_tuple(make_nvml: MakeNvml) -> None:
    nv = make_nvml()
    nv.devices[0]["nvmlDeviceGetEncoderUtilization"] = {"value": [17, 167000]}
    nv.devices[0]["nvmlDeviceGetDecoderUtilization"] = {"value": [3, 167000]}
    [gpu] = _provider(nv).sample()
    assert (gpu.encoder_utilization, gpu.decoder_utilization) == (17, 3)


def test_fan_not_supported_is_null_even_when_fans_are_counted(make_nvml: MakeNvml) -> None:
    nv = make_nvml()
    nv.devices[0]["nvmlDeviceGetNumFans"] = {"value": 1}  # so the fan is actually asked
    [gpu] = _provider(nv).sample()
    assert gpu.fan_speed is None
    nv.devices[0]["nvmlDeviceGetFanSpeed"] = {"value": 35}
    [gpu] = _provider(nv).sample()
    assert gpu.fan_speed == 35


# Each NVML call that may answer NotSupported, and the payload fields that become null.
NOT_SUPPORTED_CASES: list[tuple[tuple[str, ...], set[str]]] = [
    (("nvmlDeviceGetUtilizationRates",), {"utilization", "memory_utilization"}),
    (("nvmlDeviceGetMemoryInfo_v2", "nvmlDeviceGetMemoryInfo"),
     {"memory_used", "memory_total", "memory_free", "memory_reserved"}),
    (("nvmlDeviceGetTemperature(GPU)",), {"temperature"}),
    (("nvmlDeviceGetTemperatureThreshold(NVML_TEMPERATURE_THRESHOLD_SLOWDOWN)",),
     {"temperature_slowdown"}),
    (("nvmlDeviceGetPowerUsage",), {"power_usage"}),
    (("nvmlDeviceGetEnforcedPowerLimit",), {"power_limit"}),
    (("nvmlDeviceGetTotalEnergyConsumption",), {"energy_consumed"}),
    (("nvmlDeviceGetEncoderUtilization",), {"encoder_utilization"}),
    (("nvmlDeviceGetDecoderUtilization",), {"decoder_utilization"}),
    (("nvmlDeviceGetClockInfo(NVML_CLOCK_SM)",), {"sm_clock"}),
    (("nvmlDeviceGetClockInfo(NVML_CLOCK_MEM)",), {"memory_clock"}),
    (("nvmlDeviceGetPerformanceState",), {"pstate"}),
    (("nvmlDeviceGetCurrentClocksEventReasons",), {"clock_event_reasons"}),
    (("nvmlDeviceGetTotalEccErrors(uncorrected,volatile)",), {"ecc_errors_uncorrected"}),
    (("nvmlDeviceGetUUID",), {"uuid"}),
    (("nvmlDeviceGetPciInfo",), {"pci_bus_id"}),
    (("nvmlDeviceGetMaxClockInfo(NVML_CLOCK_SM)",), {"sm_clock_max"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("keys", "nulls"), NOT_SUPPORTED_CASES, ids=[c[0][0] for c in NOT_SUPPORTED_CASES]
)
@pytest.mark.parametrize("error", ["NVMLError_NotSupported", "NVMLError_NoPermission"])
def test_field_not_supported_becomes_null_and_nothing_else_changes(
    make_nvml: MakeNvml, keys: tuple[str, ...], nulls: set[str], error: str
) -> None:
    baseline = _provider(make_nvml()).sample()[0].model_dump()
    nv = make_nvml()
    for key in keys:
        nv.devices[0][key] = {"error": error}
    [gpu] = _provider(nv).sample()
    assert gpu.status == "ok"
    changed = {k for k, v in gpu.model_dump().items() if v != baseline[k]}
    assert changed == nulls
    assert all(getattr(gpu, field) is None for field in nulls)


def test_name_not_supported_falls_back_to_a_label(make_nvml: MakeNvml) -> None:
    nv = make_nvml()
    nv.devices[0]["nvmlDeviceGetName"] = NOT_SUPPORTED
    [gpu] = _provider(nv).sample()
    assert gpu.name == "GPU 0"
    assert gpu.status == "ok"


def test_cuda_version_falls_back_to_v1_and_is_null_when_neither_answers(
    make_nvml: MakeNvml,
) -> None:
    nv = make_nvml()
    nv.system["nvmlSystemGetCudaDriverVersion_v2"] = NOT_SUPPORTED
    nv.system["nvmlSystemGetCudaDriverVersion"] = {"value": 12020}
    assert _provider(nv).sample()[0].cuda_version == "12.2"
    nv = make_nvml()
    nv.system["nvmlSystemGetCudaDriverVersion_v2"] = NOT_SUPPORTED
    nv.system["nvmlSystemGetCudaDriverVersion"] = NOT_SUPPORTED
    nv.system["nvmlSystemGetDriverVersion"] = NOT_SUPPORTED
    [gpu] = _provider(nv).sample()
    assert (gpu.cuda_version, gpu.driver_version) == (None, None)


@pytest.mark.parametrize("error", ["NVMLError_GpuIsLost", "NVMLError_Unknown"])
def test_gpu_lost_marks_only_that_gpu_failed(make_nvml: MakeNvml, error: str) -> None:
    nv = make_nvml(gpus=2)
    provider = _provider(nv)
    assert [g.status for g in provider.sample()] == ["ok", "ok"]
    nv.devices[1]["lost"] = {"error": error}
    first, second = provider.sample()
    assert first.status == "ok"
    assert first.utilization == 40
    assert second.status == "failed"
    assert second.error == str(pynvml.NVMLError(nv_code(error)))
    assert second.error
    # Identity from the cache so the dashboard still knows which card it is.
    assert second.uuid == nv.devices[1]["nvmlDeviceGetUUID"]["value"]
    assert second.utilization is None
    assert second.memory_used is None


def nv_code(name: str) -> int:
    from gpulens.testing.nvml import error_code

    return error_code(name)


def test_gpu_lost_at_start_does_not_take_the_others_down(make_nvml: MakeNvml) -> None:
    nv = make_nvml(gpus=2)
    nv.devices[0]["lost"] = {"error": "NVMLError_GpuIsLost"}
    first, second = _provider(nv).sample()
    assert (first.status, first.name) == ("failed", "GPU 0")
    assert "lost" in (first.error or "").lower()
    assert (second.status, second.utilization) == ("ok", 40)


def test_gpu_lost_in_a_static_read_during_rescan_is_contained(make_nvml: MakeNvml) -> None:
    """A GPU that answers its UUID but fails the next static read is failed, not a crash."""
    nv = make_nvml(gpus=1)
    provider = _provider(nv)
    added = copy.deepcopy(nv.devices[0])
    added["nvmlDeviceGetUUID"] = {"value": "GPU-new"}
    added["nvmlDeviceGetName"] = {"error": "NVMLError_GpuIsLost"}
    nv.devices.append(added)
    first, second = provider.sample()
    assert first.status == "ok"
    assert (second.status, second.uuid) == ("failed", "GPU-new")


def test_lost_gpu_comes_back_after_the_rescan_interval(make_nvml: MakeNvml) -> None:
    nv = make_nvml(gpus=2)
    clock = FakeClock()
    nv.devices[1]["lost"] = {"error": "NVMLError_GpuIsLost"}
    provider = _provider(nv, clock=clock)
    assert [g.status for g in provider.sample()] == ["ok", "failed"]
    del nv.devices[1]["lost"]
    clock.advance(RESCAN_INTERVAL_S + 0.1)
    assert [g.status for g in provider.sample()] == ["ok", "ok"]


@pytest.mark.parametrize(
    "code",
    [
        pynvml.NVML_ERROR_LIBRARY_NOT_FOUND,  # 12: no libnvidia-ml.so
        pynvml.NVML_ERROR_DRIVER_NOT_LOADED,  # 9
        pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH,  # 18: driver updated, not reloaded
    ],
)
def test_provider_unavailable_says_why(make_nvml: MakeNvml, code: int) -> None:
    nv = make_nvml()
    nv.init_error = code
    with pytest.raises(ProviderUnavailable) as caught:
        _provider(nv)
    reason = str(pynvml.NVMLError(code))
    assert reason
    assert reason in str(caught.value)


def test_no_gpu_is_unavailable(make_nvml: MakeNvml) -> None:
    nv = make_nvml()
    nv.devices.clear()
    with pytest.raises(ProviderUnavailable, match="no NVIDIA GPU"):
        _provider(nv)
    assert not nv.initialised  # NVML was shut down again


def test_lifecycle_error_mid_stream_then_reinit_with_backoff(make_nvml: MakeNvml) -> None:
    nv = make_nvml()
    clock = FakeClock()
    provider = _provider(nv, clock=clock)
    assert provider.sample()[0].status == "ok"

    nv.fail_all = pynvml.NVML_ERROR_DRIVER_NOT_LOADED
    with pytest.raises(ProviderError, match="Driver Not Loaded"):
        provider.sample()

    # The driver is back, but the backoff has not passed: NVML is not touched.
    nv.fail_all = None
    calls = nv.calls
    with pytest.raises(ProviderError, match="Driver Not Loaded"):
        provider.sample()
    assert nv.calls == calls

    # Still down at the first retry: the wait doubles.
    nv.fail_all = pynvml.NVML_ERROR_DRIVER_NOT_LOADED
    clock.advance(BACKOFF_INITIAL_S + 0.01)
    with pytest.raises(ProviderError):
        provider.sample()
    assert nv.calls > calls
    nv.fail_all = None
    clock.advance(BACKOFF_INITIAL_S + 0.01)  # less than the doubled wait
    calls = nv.calls
    with pytest.raises(ProviderError):
        provider.sample()
    assert nv.calls == calls

    clock.advance(BACKOFF_INITIAL_S)  # now past 2 x initial
    [gpu] = provider.sample()
    assert gpu.status == "ok"
    assert gpu.uuid == H200_UUID
    assert nv.initialised


def test_gpu_added_and_removed_are_noticed_by_uuid(make_nvml: MakeNvml) -> None:
    nv = make_nvml(gpus=2)
    provider = _provider(nv)
    first_uuid = nv.devices[0]["nvmlDeviceGetUUID"]["value"]
    second_uuid = nv.devices[1]["nvmlDeviceGetUUID"]["value"]
    assert [g.uuid for g in provider.sample()] == [first_uuid, second_uuid]

    # GPU 0 goes away: the remaining card is now index 0, and keeps its own UUID.
    removed = nv.devices.pop(0)
    [only] = provider.sample()
    assert (only.id, only.uuid) == (0, second_uuid)
    assert only.pci_bus_id == nv.devices[0]["nvmlDeviceGetPciInfo"]["value"]["busId"]

    # A new card appears.
    added = copy.deepcopy(removed)
    added["nvmlDeviceGetUUID"] = {"value": "GPU-added"}
    added["nvmlDeviceGetName"] = {"value": "NVIDIA H100 80GB HBM3"}
    nv.devices.append(added)
    gpus = provider.sample()
    assert [(g.id, g.uuid, g.name) for g in gpus] == [
        (0, second_uuid, "NVIDIA H200"),
        (1, "GPU-added", "NVIDIA H100 80GB HBM3"),
    ]


def test_compute_and_graphics_processes_are_deduplicated_by_pid(make_nvml: MakeNvml) -> None:
    nv = make_nvml()
    nv.devices[0][COMPUTE_KEY] = {
        "value": [{"pid": 483, "usedGpuMemory": 9194 * MIB}, {"pid": 484, "usedGpuMemory": None}]
    }
    nv.devices[0]["nvmlDeviceGetGraphicsRunningProcesses"] = {
        "value": [{"pid": 483, "usedGpuMemory": 100 * MIB}, {"pid": 900, "usedGpuMemory": MIB}]
    }
    resolver = FakeResolver()
    [gpu] = _provider(nv, resolver).sample()
    procs = {p.pid: p for p in gpu.processes}
    assert sorted(procs) == [483, 484, 900]
    assert (procs[483].type, procs[483].used_memory_mib) == ("compute+graphics", 9194)
    assert (procs[900].type, procs[900].used_memory_mib) == ("graphics", 1)
    assert procs[484].used_memory_mib is None  # usedGpuMemory None (e.g. WDDM / no permission)
    assert sorted(resolver.calls) == [483, 484, 900]  # once per pid


def test_used_gpu_memory_none_serialises_as_null(make_nvml: MakeNvml) -> None:
    nv = make_nvml()
    nv.devices[0][COMPUTE_KEY] = {"value": [{"pid": 12, "usedGpuMemory": None}]}
    [gpu] = _provider(nv).sample()
    assert '"usedMemoryMiB":null' in gpu.processes[0].model_dump_json(by_alias=True)


def test_memory_v2_missing_falls_back_to_v1(make_nvml: MakeNvml) -> None:
    nv = make_nvml()
    del nv.devices[0]["nvmlDeviceGetMemoryInfo_v2"]  # binding/driver without the v2 struct
    provider = _provider(nv)
    for _ in range(2):  # and stays on v1
        [gpu] = provider.sample()
        # v1 counts reserved memory as used: 13127581696 B.
        assert (gpu.memory_total, gpu.memory_used, gpu.memory_free) == (143771, 12520, 131252)
        assert gpu.memory_reserved is None


def test_v3_process_call_library_mismatch_falls_back_to_v2(make_nvml: MakeNvml) -> None:
    nv = make_nvml()
    procs = nv.devices[0][COMPUTE_KEY]
    nv.devices[0][COMPUTE_KEY] = pynvml.NVMLLibraryMismatchError("driver older than the _v3 call")
    nv.devices[0]["nvmlDeviceGetComputeRunningProcesses_v2"] = procs
    [gpu] = _provider(nv).sample()
    assert [(p.pid, p.used_memory_mib) for p in gpu.processes] == [(483, 9194), (484, 2696)]


def test_process_list_not_supported_gives_no_processes_not_failure(make_nvml: MakeNvml) -> None:
    nv = make_nvml()
    nv.devices[0][COMPUTE_KEY] = NOT_SUPPORTED
    [gpu] = _provider(nv).sample()
    assert gpu.status == "ok"
    assert gpu.processes == []


def test_close_shuts_nvml_down(make_nvml: MakeNvml) -> None:
    nv = make_nvml()
    provider = _provider(nv)
    assert nv.initialised
    provider.close()
    assert not nv.initialised


def test_a_gpu_swapped_for_another_is_noticed_by_uuid(make_nvml: MakeNvml) -> None:
    nv = make_nvml("loaded", gpus=2)
    clock = FakeClock()
    provider = _provider(nv, clock=clock)
    before = [g.uuid for g in provider.sample()]
    nv.devices[1]["nvmlDeviceGetUUID"] = {"value": "GPU-swapped-in"}
    assert [g.uuid for g in provider.sample()] == before  # same count: not re-enumerated yet
    clock.advance(RESCAN_INTERVAL_S)
    assert [g.uuid for g in provider.sample()] == [before[0], "GPU-swapped-in"]


def test_slow_counters_are_read_once_per_interval(make_nvml: MakeNvml) -> None:
    nv = make_nvml("loaded")
    clock = FakeClock()
    provider = _provider(nv, clock=clock)
    first = provider.sample()[0]
    assert first.energy_consumed == 5016.494
    assert first.ecc_errors_uncorrected == 0
    nv.devices[0]["nvmlDeviceGetTotalEnergyConsumption"] = {"value": 6_000_000}
    assert provider.sample()[0].energy_consumed == 5016.494  # held between reads
    clock.advance(SLOW_FIELDS_INTERVAL_S)
    assert provider.sample()[0].energy_consumed == 6000.0


# -- hot-plug: NVML enumerates at init, so the provider must re-initialise -----------------------


def _listed(tmp_path: Any, nv: RecordedNvml) -> Any:
    """A stand-in /proc/driver/nvidia/gpus: one directory per PCI bus id, as the driver keeps."""
    gpus = tmp_path / "gpus"
    gpus.mkdir(exist_ok=True)
    for device in nv.devices:
        bus = device["nvmlDeviceGetPciInfo"]["value"]["busId"]
        (gpus / bus[4:].lower()).mkdir(exist_ok=True)  # "0000:00:06.0", as the driver names it
    return gpus


def _hotplug(
    make_nvml: MakeNvml, tmp_path: Any, gpus: int
) -> tuple[RecordedNvml, Any, FakeClock, NvmlProvider]:
    nv = make_nvml("loaded", gpus=gpus)
    nv.enumerate_at_init = True
    listing = _listed(tmp_path, nv)
    clock = FakeClock()
    provider = NvmlProvider(nv, resolver=FakeResolver(), clock=clock, gpus_dir=listing)
    return nv, listing, clock, provider


def _plug(nv: RecordedNvml, listing: Any, index: int) -> dict[str, Any]:
    added = copy.deepcopy(nv.devices[0])
    added["nvmlDeviceGetUUID"] = {"value": f"GPU-added-{index}"}
    added["nvmlDeviceGetPciInfo"] = {"value": {"busId": f"00000000:00:{0x10 + index:02X}.0"}}
    nv.devices.append(added)
    (listing / f"0000:00:{0x10 + index:02x}.0").mkdir()
    return added


def test_a_gpu_added_appears_after_the_device_set_changes(
    make_nvml: MakeNvml, tmp_path: Any
) -> None:
    nv, listing, clock, provider = _hotplug(make_nvml, tmp_path, gpus=1)
    assert len(provider.sample()) == 1
    _plug(nv, listing, 1)
    assert len(provider.sample()) == 1  # NVML still has its old enumeration
    clock.advance(RESCAN_INTERVAL_S)
    gpus = provider.sample()
    assert [(g.id, g.uuid, g.status) for g in gpus] == [
        (0, H200_UUID, "ok"),
        (1, "GPU-added-1", "ok"),
    ]
    assert nv.inits == 2  # one re-initialisation, for the change
    clock.advance(RESCAN_INTERVAL_S)
    provider.sample()
    assert nv.inits == 2  # the set did not change again: no more


def test_a_gpu_removed_disappears(make_nvml: MakeNvml, tmp_path: Any) -> None:
    nv, listing, clock, provider = _hotplug(make_nvml, tmp_path, gpus=2)
    second = nv.devices[1]
    assert [g.status for g in provider.sample()] == ["ok", "ok"]
    second["lost"] = {"error": "NVMLError_GpuIsLost"}  # its old handle: gone from the bus
    nv.devices.remove(second)
    (listing / second["nvmlDeviceGetPciInfo"]["value"]["busId"][4:].lower()).rmdir()
    assert [g.status for g in provider.sample()] == ["ok", "failed"]  # until the next look
    clock.advance(RESCAN_INTERVAL_S)
    [gpu] = provider.sample()
    assert (gpu.uuid, gpu.status) == (H200_UUID, "ok")


def test_a_lost_gpu_still_listed_stays_failed_with_its_reason(
    make_nvml: MakeNvml, tmp_path: Any
) -> None:
    nv, _, clock, provider = _hotplug(make_nvml, tmp_path, gpus=2)
    second = nv.devices[1]
    uuid = second["nvmlDeviceGetUUID"]["value"]
    provider.sample()
    second["lost"] = {"error": "NVMLError_GpuIsLost"}
    nv.devices.remove(second)  # NVML will not enumerate it again, but the driver lists it
    for _ in range(3):
        clock.advance(RESCAN_INTERVAL_S)
        first, lost = provider.sample()
        assert first.status == "ok"
        assert (lost.id, lost.uuid, lost.status, lost.name) == (1, uuid, "failed", "NVIDIA H200")
        assert lost.error is not None and "lost" in lost.error.lower()


def test_lost_then_returned_after_a_reset_reinitialises_with_backoff(
    make_nvml: MakeNvml, tmp_path: Any
) -> None:
    nv, _, clock, provider = _hotplug(make_nvml, tmp_path, gpus=2)
    second = nv.devices[1]
    provider.sample()
    second["lost"] = {"error": "NVMLError_GpuIsLost"}
    inits_at: list[float] = []
    start = clock.now
    for _ in range(120):  # 60 s of samples every 0.5 s, the GPU lost all along
        before = nv.inits
        assert provider.sample()[1].status == "failed"
        if nv.inits != before:
            inits_at.append(clock.now)
        clock.advance(0.5)
    gaps = [b - a for a, b in itertools.pairwise(inits_at)]
    assert inits_at and inits_at[0] - start <= REINIT_FIRST_S + RESCAN_INTERVAL_S
    assert gaps == sorted(gaps) and gaps[-1] > gaps[0]  # backing off
    assert len(inits_at) <= 5  # not every sample, not every rescan
    del second["lost"]  # reset done: the GPU answers again
    clock.advance(REINIT_MAX_S)
    assert [g.status for g in provider.sample()] == ["ok", "ok"]
    clock.advance(REINIT_MAX_S)
    inits = nv.inits
    provider.sample()
    assert nv.inits == inits  # healthy again: no more re-initialisation


def test_driver_reloaded_with_another_gpu_set(make_nvml: MakeNvml, tmp_path: Any) -> None:
    nv, listing, clock, provider = _hotplug(make_nvml, tmp_path, gpus=1)
    provider.sample()
    nv.fail_all = pynvml.NVML_ERROR_DRIVER_NOT_LOADED  # the module is unloaded…
    with pytest.raises(ProviderError, match="Driver Not Loaded"):
        provider.sample()
    nv.fail_all = None  # …and loaded again, with one more GPU
    nv.initialised = False
    _plug(nv, listing, 1)
    clock.advance(BACKOFF_INITIAL_S + 0.01)
    assert [g.uuid for g in provider.sample()] == [H200_UUID, "GPU-added-1"]


def test_without_the_proc_listing_failed_gpus_still_reinitialise(
    make_nvml: MakeNvml, tmp_path: Any
) -> None:
    nv = make_nvml("loaded", gpus=2)
    nv.enumerate_at_init = True
    clock = FakeClock()
    provider = NvmlProvider(nv, resolver=FakeResolver(), clock=clock, gpus_dir=tmp_path / "absent")
    nv.devices[1]["lost"] = {"error": "NVMLError_GpuIsLost"}
    assert [g.status for g in provider.sample()] == ["ok", "failed"]
    del nv.devices[1]["lost"]
    clock.advance(REINIT_FIRST_S + RESCAN_INTERVAL_S)
    assert [g.status for g in provider.sample()] == ["ok", "ok"]


def test_device_set_is_the_listing_or_none(tmp_path: Any) -> None:
    (tmp_path / "0000:00:06.0").mkdir()
    assert device_set(tmp_path) == frozenset({"0000:00:06.0"})
    assert device_set(tmp_path / "missing") is None
    assert device_set(None) is None


# -- the highest SM clock; who runs each process ---------------------------------------------


def test_sm_clock_max_is_read_once_with_the_static_facts(make_nvml: MakeNvml) -> None:
    nv = make_nvml("loaded")
    asked: list[int] = []
    recorded = nv.nvmlDeviceGetMaxClockInfo

    def counting(h: Any, clock: int) -> Any:
        asked.append(clock)
        return recorded(h, clock)

    nv.nvmlDeviceGetMaxClockInfo = counting  # type: ignore[method-assign]
    clock = FakeClock()
    provider = _provider(nv, clock=clock)
    for _ in range(3):
        [gpu] = provider.sample()
        assert (gpu.sm_clock, gpu.sm_clock_max) == (1860, 1980)  # the H200's 1980 MHz
        clock.advance(RESCAN_INTERVAL_S + 1)  # rescans reuse the cached facts
    assert asked == [pynvml.NVML_CLOCK_SM]


def test_processes_carry_their_start_time_and_container(make_nvml: MakeNvml) -> None:
    resolver = FakeResolver(
        started={483: 1796000000.25, 484: 1796000100.5}, containers={483: "4c01db0b339c"}
    )
    [gpu] = _provider(make_nvml("loaded"), resolver).sample()
    got = [(p.pid, p.start_time, p.container) for p in gpu.processes]
    assert got == [(483, 1796000000.25, "4c01db0b339c"), (484, 1796000100.5, None)]


def test_a_process_that_exited_before_its_lookup_stays_listed(make_nvml: MakeNvml) -> None:
    from gpulens.core.metrics.processes import ProcessIdentity

    [gpu] = _provider(make_nvml("loaded"), lambda pid: ProcessIdentity(None, None)).sample()
    assert [(p.pid, p.name, p.user, p.start_time, p.container) for p in gpu.processes] == [
        (483, None, None, None, None),
        (484, None, None, None, None),
    ]
