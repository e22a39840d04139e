"""Shared test helpers: loading the real GPU captures copied into ``tests/fixtures``, and an
environment with no GPU source (no gpulens variable, no tools on PATH, no NVML).

Tests read only this tree (never ``../shared``). See ``tests/fixtures/README.md``
for what each capture holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gpulens.config import Settings
from gpulens.testing.nvml import RecordedNvml
from tests.fakes import make_client

FIXTURES = Path(__file__).parent / "fixtures"
H200 = FIXTURES / "h200-sxm-141gb"
H100 = FIXTURES / "h100-sxm-80gb"

_UNIT_SUFFIX = re.compile(r"\s*\[[^\]]*\]\s*$")


@dataclass(frozen=True)
class Capture:
    """One capture directory (e.g. ``h200-sxm-141gb/loaded``)."""

    path: Path

    def file(self, name: str) -> Path:
        found = self.path / name
        assert found.is_file(), f"missing fixture {found}"
        return found

    def text(self, name: str) -> str:
        return self.file(name).read_text(encoding="utf-8")

    def json(self, name: str) -> Any:
        return json.loads(self.text(name))

    def csv_fields(self, name: str) -> tuple[str, ...]:
        """Field names from a ``--format=csv`` header line, unit suffixes (`` [MiB]``) dropped."""
        header = self.text(name).splitlines()[0]
        return tuple(_UNIT_SUFFIX.sub("", part.strip()) for part in header.split(","))

    def csv_body(self, name: str) -> str:
        """The data lines of a CSV capture (its header line removed if it has one)."""
        lines = self.text(name).splitlines()
        if lines and lines[0].startswith(("timestamp,", "pid,")):
            lines = lines[1:]
        return "\n".join(lines) + ("\n" if lines else "")

    def compute_apps(self) -> list[dict[str, Any]]:
        """``query-compute-apps.csv`` as dicts: pid, process_name, used_memory (MiB), uuid."""
        fields = self.csv_fields("query-compute-apps.csv")
        rows = []
        for line in self.csv_body("query-compute-apps.csv").splitlines():
            values = dict(zip(fields, (v.strip() for v in line.split(",")), strict=True))
            rows.append(
                {
                    "pid": int(values["pid"]),
                    "process_name": values["process_name"],
                    "used_memory_mib": int(values["used_gpu_memory"].split()[0]),
                    "gpu_uuid": values["gpu_uuid"],
                }
            )
        return rows


@pytest.fixture(scope="session")
def h200() -> Callable[[str], Capture]:
    """``h200("idle")`` / ``h200("loaded")``: the H200 captures."""

    def get(state: str) -> Capture:
        path = H200 / state
        assert path.is_dir(), f"no capture {path}"
        return Capture(path)

    return get


@pytest.fixture(scope="session")
def h200_loaded(h200: Callable[[str], Capture]) -> Capture:
    return h200("loaded")


@pytest.fixture(scope="session")
def h200_idle(h200: Callable[[str], Capture]) -> Capture:
    return h200("idle")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No gpulens variable from the host, no ``.env`` file, and no nvidia-smi/nvtop on PATH.

    Runs in an empty directory; returns it.
    """
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    monkeypatch.setenv("NVIDIA_SMI_PATH", str(tmp_path / "no-such-nvidia-smi"))
    monkeypatch.setenv("NVTOP_PATH", str(tmp_path / "no-such-nvtop"))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def nvml_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    """NVML as on a machine without an NVIDIA driver.

    Where the real library cannot load (this CI machine) the real binding is
    used; on a GPU host a stand-in that fails ``nvmlInit`` with
    ``NVML_ERROR_LIBRARY_NOT_FOUND`` takes its place, so the tests mean the same.
    """
    import pynvml

    from gpulens.core.metrics.providers import nvml as nvml_module

    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return
    pynvml.nvmlShutdown()  # pragma: no cover - only on a machine with a GPU

    def missing() -> RecordedNvml:  # pragma: no cover
        stand_in = RecordedNvml({}, [])
        stand_in.init_error = pynvml.NVML_ERROR_LIBRARY_NOT_FOUND
        return stand_in

    monkeypatch.setattr(nvml_module, "load_pynvml", missing)  # pragma: no cover


@pytest.fixture
def client() -> Iterator[TestClient]:
    """The app on two steady fake GPUs behind a running ``TestClient`` (``make_client()``)."""
    with make_client() as c:
        yield c


@pytest.fixture(autouse=True)
def _history_in_tmp(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Every app a test builds (and every ``gpulens serve`` it starts) keeps its history
    under a temporary state directory, never the user's ~/.local/state."""
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    monkeypatch.delenv("HISTORY_PATH", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
