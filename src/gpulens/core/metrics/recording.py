"""Recordings: normalised GPU samples on disk, for ``replay`` and ``gpulens record``.

A recording is JSON Lines, optionally gzip-compressed (``.gz``). The first
line is a header::

    {"format": "gpulens-recording", "version": 1, "source": "nvml", "interval": 0.25, ...}

and every further line one frame: ``{"t": <seconds since start>, "gpus": [GpuInfo, ...]}``
with the GPU objects exactly as in the telemetry payload.
"""

from __future__ import annotations

import gzip
import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from gpulens.core.metrics.schema import GpuInfo

FORMAT = "gpulens-recording"
VERSION = 1


class RecordingError(ValueError):
    """A recording that cannot be read; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Frame:
    t: float
    gpus: tuple[GpuInfo, ...]


@dataclass(frozen=True, slots=True)
class Recording:
    header: dict[str, Any]
    frames: tuple[Frame, ...]

    @property
    def duration(self) -> float:
        """Loop length: first to last frame plus one interval."""
        if not self.frames:
            return 0.0
        interval = float(self.header.get("interval") or 0) or _median_step(self.frames)
        return self.frames[-1].t - self.frames[0].t + interval


def _median_step(frames: tuple[Frame, ...]) -> float:
    steps = sorted(b.t - a.t for a, b in itertools.pairwise(frames) if b.t > a.t)
    return steps[len(steps) // 2] if steps else 1.0


def _open(path: Path, mode: str) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, mode + "t", encoding="utf-8")  # type: ignore[return-value]
    return path.open(mode, encoding="utf-8")


def load(path: str | Path) -> Recording:
    path = Path(path)
    try:
        with _open(path, "r") as handle:
            lines = handle.read().splitlines()
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise RecordingError(f"{path}: cannot be read ({exc})") from exc
    if not lines:
        raise RecordingError(f"{path}: empty")
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError as exc:
        raise RecordingError(f"{path}:1: not JSON ({exc.msg})") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise RecordingError(f"{path}:1: not a {FORMAT} file")
    interval = header.get("interval")
    if interval is not None and (
        isinstance(interval, bool)
        or not isinstance(interval, int | float)
        or not 0 <= interval < float("inf")
    ):
        raise RecordingError(f"{path}:1: interval must be a number of seconds")
    frames: list[Frame] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            gpus = tuple(GpuInfo.model_validate(g) for g in raw["gpus"])
            frames.append(Frame(float(raw["t"]), gpus))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, ValidationError) as exc:
            raise RecordingError(f"{path}:{number}: bad frame ({exc})") from exc
    if not frames:
        raise RecordingError(f"{path}: no frames")
    frames.sort(key=lambda f: f.t)
    return Recording(header, tuple(frames))


def frame_line(t: float, gpus: Iterable[GpuInfo]) -> str:
    body = ",".join(g.model_dump_json(by_alias=True) for g in gpus)
    return f'{{"t":{round(t, 3)},"gpus":[{body}]}}'


def header_line(**fields: Any) -> str:
    return json.dumps({"format": FORMAT, "version": VERSION, **fields}, separators=(",", ":"))


def write(
    path: str | Path, header: dict[str, Any], frames: Iterable[tuple[float, list[GpuInfo]]]
) -> int:
    """Write a whole recording; returns the number of frames written."""
    path = Path(path)
    count = 0
    with _open(path, "w") as handle:
        handle.write(header_line(**header) + "\n")
        for t, gpus in frames:
            handle.write(frame_line(t, gpus) + "\n")
            count += 1
    return count
