"""Shared test helpers: loading the real GPU captures copied into ``tests/fixtures``.

Tests read only this tree (never ``../shared``). See ``tests/fixtures/README.md``
for what each capture holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

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
