"""The normalised telemetry payload: one schema whatever the source.

Field names and units are fixed by the product specification (camelCase on
the wire). A value a source cannot give is ``None`` (``null``), never ``0``.

Units:
    utilization, memoryUtilization, encoder/decoderUtilization, fanSpeed: %
    memoryUsed / memoryTotal / memoryFree / memoryReserved: MiB
    temperature, temperatureSlowdown: °C
    powerUsage, powerLimit: W
    smClock, memoryClock: MHz
    energyConsumed: J since the driver was loaded
    system.cpuUsage, memoryUsage, diskUtilization: %
    system.uptime: s
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel

from gpulens.core.metrics.text import clean_reason


def iso_utc(moment: datetime) -> str:
    """ISO-8601 UTC with millisecond precision and a ``Z`` suffix."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Timestamp = Annotated[datetime, PlainSerializer(iso_utc, return_type=str, when_used="json")]
Percent = Annotated[int, Field(ge=0, le=100)]
# A reason shown to people (a failed GPU's error, why a source is unavailable): whatever a
# driver or tool printed, it reaches the page and the log as one plain, capped line.
Reason = Annotated[str, AfterValidator(clean_reason)]
FloatPercent = Annotated[float, Field(ge=0, le=100)]


class CamelModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


ProcessType = Literal["compute", "graphics", "compute+graphics"]


class ProcessInfo(CamelModel):
    """One process holding a GPU context."""

    pid: int = Field(ge=0)
    name: str | None = Field(None, description="Executable name (basename, sanitised).")
    used_memory_mib: int | None = Field(
        None, alias="usedMemoryMiB", ge=0, description="GPU memory used by the process, MiB."
    )
    user: str | None = Field(None, description="Owner of the process.")
    type: ProcessType | None = None
    sm_utilization: Percent | None = Field(
        None, description="Share of the GPU's SMs the process used in the last sample period, %."
    )
    start_time: float | None = Field(
        None,
        ge=0,
        description="When the process started, Unix seconds: with the pid, what tells one run "
        "from another (pids are reused).",
    )
    container: str | None = Field(
        None,
        description="The container the process runs in: its short id (12 hex), or the "
        "Kubernetes pod's id, from /proc/<pid>/cgroup; with CONTAINER_NAMES its name.",
    )


GpuStatus = Literal["ok", "failed"]


class GpuInfo(CamelModel):
    """One GPU, normalised."""

    id: int = Field(ge=0, description="Index as the driver enumerates it.")
    name: str
    uuid: str | None = None
    pci_bus_id: str | None = None
    driver_version: str | None = None
    cuda_version: str | None = None
    status: GpuStatus = "ok"
    error: Reason | None = Field(None, description="Why the GPU is marked failed.")

    utilization: Percent | None = None
    memory_utilization: Percent | None = Field(None, description="Memory-controller busy time, %.")
    memory_used: int | None = Field(None, ge=0)
    memory_total: int | None = Field(None, ge=0)
    memory_free: int | None = Field(None, ge=0)
    memory_reserved: int | None = Field(None, ge=0)
    temperature: int | None = None
    temperature_slowdown: int | None = Field(
        None, description="Temperature at which the GPU starts to slow down, °C."
    )
    power_usage: float | None = Field(None, ge=0)
    power_limit: float | None = Field(None, ge=0)
    fan_speed: Percent | None = None
    encoder_utilization: Percent | None = None
    decoder_utilization: Percent | None = None
    sm_clock: int | None = Field(None, ge=0)
    sm_clock_max: int | None = Field(
        None, ge=0, description="Highest SM clock the GPU can run at, MHz."
    )
    memory_clock: int | None = Field(None, ge=0)
    pstate: int | None = Field(None, ge=0, le=32)
    clock_event_reasons: list[str] | None = Field(
        None,
        description="Active clock slowdown reasons (e.g. sw_power_cap, hw_thermal_slowdown).",
    )
    ecc_errors_uncorrected: int | None = Field(
        None, ge=0, description="Volatile uncorrected ECC errors since the last driver load."
    )
    energy_consumed: float | None = Field(
        None, ge=0, description="Energy used since the driver was loaded, J."
    )
    processes: list[ProcessInfo] = Field(default_factory=list)

    @property
    def key(self) -> str:
        """What follows this GPU from sample to sample: its UUID, else ``index:<id>``."""
        return self.uuid or f"index:{self.id}"

    def as_failed(self, error: str) -> GpuInfo:
        """This GPU marked failed now: what ``failed_gpu`` keeps of it, no reading."""
        return failed_gpu(
            self.id,
            self.name,
            error,
            uuid=self.uuid,
            pci_bus_id=self.pci_bus_id,
            driver_version=self.driver_version,
            cuda_version=self.cuda_version,
            memory_total=self.memory_total,
            power_limit=self.power_limit,
        )


def failed_gpu(
    index: int,
    name: str,
    error: str,
    *,
    uuid: str | None = None,
    pci_bus_id: str | None = None,
    driver_version: str | None = None,
    cuda_version: str | None = None,
    memory_total: int | None = None,
    power_limit: float | None = None,
) -> GpuInfo:
    """A GPU that could not be read: which card it is and its fixed sizes, and why.

    It keeps its identity (index, name, UUID, PCI bus, driver and CUDA versions)
    and the two sizes that do not move while it is out (memoryTotal,
    powerLimit), so the page can still say which card failed and draw its
    scale; every reading is null, never a stale number shown as live.
    """
    return GpuInfo(
        id=index,
        name=name,
        uuid=uuid,
        pci_bus_id=pci_bus_id,
        driver_version=driver_version,
        cuda_version=cuda_version,
        memory_total=memory_total,
        power_limit=power_limit,
        status="failed",
        error=error,
    )


class SystemInfo(CamelModel):
    """Host metrics from psutil, present whatever the GPU source."""

    cpu_usage: FloatPercent
    memory_usage: FloatPercent
    load_average: tuple[float, float, float]
    uptime: int = Field(ge=0, description="Seconds since boot.")
    disk_utilization: FloatPercent = Field(description="Used share of the root file system, %.")
    cpu_count: int | None = Field(None, ge=1)
    memory_used: int | None = Field(None, ge=0, description="MiB.")
    memory_total: int | None = Field(None, ge=0, description="MiB.")


class Telemetry(CamelModel):
    """One sample, as streamed on ``/ws/gpu`` and printed by ``gpulens snapshot``."""

    type: Literal["telemetry"] = "telemetry"
    seq: int = Field(ge=0)
    timestamp: Timestamp
    source: str | None = Field(
        description="Provider that produced the GPU list (nvml, nvidia-smi, nvtop, replay), "
        "or null when no GPU source is available."
    )
    gpus: list[GpuInfo]
    system: SystemInfo
    unavailable: dict[str, Reason] = Field(
        default_factory=dict,
        description="For each GPU source that was tried and could not be used: why.",
    )
