"""Helpers for the command-line providers: replaying captured nvidia-smi/nvtop output."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from gpulens.core.metrics.providers.nvidia_smi import parse_csv

# The order of query-compute-apps*.csv (tests/fixtures/README.md), as query names.
CAPTURED_APP_FIELDS = ("pid", "process_name", "used_memory", "gpu_uuid", "gpu_bus_id")
MISSING_TOKENS = [
    "[N/A]",
    "[Not Supported]",
    "[Unknown Error]",
    "[Insufficient Permissions]",
    "N/A",
    "",
    "  ",
]

Answer = Callable[[list[str]], tuple[int, str, str]]


def captured_row(capture: Any, name: str = "query-gpu-full-nounits.csv") -> dict[str, Any]:
    """The capture's single GPU row, keyed by the field names of its header line."""
    rows = parse_csv(capture.csv_body(name), capture.csv_fields("query-gpu-full.csv"))
    assert len(rows) == 1
    return rows[0]


def line_for(row: dict[str, Any], fields: Sequence[str]) -> str:
    """What nvidia-smi prints for ``fields`` given a parsed row (``[N/A]`` when not captured)."""
    return ", ".join(row.get(f) or "[N/A]" for f in fields)


class FakeRunner:
    """Answers each tool invocation from a function of argv; records the calls."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(argv))
        rc, out, err = self.answer(list(argv))
        return subprocess.CompletedProcess(list(argv), rc, out, err)


def query_of(argv: list[str]) -> str:
    return next((a for a in argv if a.startswith("--query")), "")


def nvidia_smi_answer(capture: Any) -> Answer:
    """nvidia-smi as it answered during ``capture``, for whatever fields it is asked."""
    row = captured_row(capture)
    apps = parse_csv(capture.csv_body("query-compute-apps.csv"), CAPTURED_APP_FIELDS)

    def answer(argv: list[str]) -> tuple[int, str, str]:
        query = query_of(argv)
        if query.startswith("--query-gpu="):
            return 0, line_for(row, query.split("=", 1)[1].split(",")) + "\n", ""
        if query.startswith("--query-compute-apps="):
            wanted = query.split("=", 1)[1].split(",")
            return 0, "".join(line_for(a, wanted) + "\n" for a in apps), ""
        return 0, capture.text("nvidia-smi.txt"), ""

    return answer


@pytest.fixture
def binary(tmp_path: Path) -> str:
    """An executable file standing in for the tool (the runner is injected, it never runs)."""
    path = tmp_path / "tool"
    path.write_text("#!/bin/sh\nexit 99\n")
    path.chmod(0o755)
    return str(path)
