"""Recordings: normalised GPU samples on disk, for ``replay`` and ``gpulens record``.

A recording is JSON Lines, optionally gzip-compressed (``.gz``). The first
line is a header::

    {"format": "gpulens-recording", "version": 1, "source": "nvml", "interval": 0.25, ...}

and every further line one frame: ``{"t": <seconds since start>, "gpus": [GpuInfo, ...]}``
with the GPU objects exactly as in the telemetry payload.

``load`` reads a recording as a stream, one line at a time, and stops at the
first of the limits below (see docs/replay.md): a recording is a file someone
handed you, and it must not be able to exhaust the memory of the process that
plays it. Every failure it expects (missing, truncated, corrupt, too large,
not a recording) is a one-line ``RecordingError`` naming the file and, where
there is one, the line.
"""

from __future__ import annotations

import gzip
import io
import itertools
import json
import math
import zlib
from collections.abc import Callable, Generator, Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn

from pydantic import ValidationError

from gpulens.core.metrics.schema import GpuInfo

FORMAT = "gpulens-recording"
VERSION = 1

_MiB = 1024 * 1024
# Limits for ``load`` (read at call time, so tests can lower them).
MAX_BYTES = 96 * _MiB
"""Uncompressed text of a whole recording. An hour of 8 GPUs at 250 ms is ~70 MB;
parsed frames take ~6x their text in memory."""
MAX_LINE_BYTES = 1 * _MiB
"""One line, newline included. A frame of 8 busy GPUs is a few KiB."""
MAX_LINES = 1_000_000
"""Lines, blank ones included (each frame costs memory even without GPUs)."""
MAX_SAMPLES = 500_000
"""GPU and process entries over all frames: a minimal one is ~20 bytes of text
but over 1 KiB as a model, so the text limit alone does not bound memory."""

_DETAIL = 200  # longest detail in an error message, after escaping
_EXCERPT = 30  # longest excerpt of the file quoted in one


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


def _show(text: str, limit: int | None = None) -> str:
    """``text`` safe for a terminal or a log: anything unprintable escaped, then clipped."""
    if limit is not None:
        text = text[: limit + 1]
    shown = "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )
    if limit is not None and len(shown) > limit:
        shown = shown[: limit - 3] + "..."
    return shown


def _size(n: int) -> str:
    for unit, scale in (("MiB", _MiB), ("KiB", 1024)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} bytes"


class _Reader:
    """The lines of one recording, numbered, with every limit and read failure checked."""

    def __init__(self, path: Path) -> None:
        self.name = _show(str(path))
        self.compressed = path.suffix == ".gz"
        self.number = 0  # the line being read, or last read
        self.samples = 0
        self._path = path

    def fail(self, detail: str, line: bool = True) -> NoReturn:
        where = f"{self.name}:{self.number}" if line and self.number else self.name
        raise RecordingError(f"{where}: {_show(detail, _DETAIL)}") from None

    def _open(self) -> io.BufferedIOBase:
        return gzip.open(self._path, "rb") if self.compressed else self._path.open("rb")

    def lines(self) -> Generator[tuple[int, str, bool], None, None]:
        """``(number, text, ended)`` for each line; ``ended``: it had its newline."""
        try:
            stream = self._open()
        except OSError as exc:
            self.fail(f"cannot be read ({exc.strerror or exc})", line=False)
        with stream:
            total = 0
            while True:
                self.number += 1
                try:
                    raw = stream.readline(MAX_LINE_BYTES + 1)
                except (OSError, EOFError, zlib.error) as exc:
                    self.fail(self._read_failure(exc, total))
                if not raw:
                    self.number -= 1
                    return
                total += len(raw)
                if len(raw) > MAX_LINE_BYTES:
                    self.fail(f"line longer than the {_size(MAX_LINE_BYTES)} limit for one line")
                if total > MAX_BYTES:
                    self.fail(f"over the {_size(MAX_BYTES)} limit for a recording (uncompressed)")
                if self.number > MAX_LINES:
                    self.fail(f"over the {MAX_LINES:,}-line limit for a recording")
                yield self.number, self._decode(raw), raw.endswith(b"\n")

    def _decode(self, raw: bytes) -> str:
        try:
            return raw.decode("utf-8-sig" if self.number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            if self.number == 1 and raw.startswith(b"\x1f\x8b"):
                self.fail("gzip data, though the name does not end in .gz")
            self.fail(f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})")

    def _read_failure(self, exc: BaseException, total: int) -> str:
        text = str(exc)
        if isinstance(exc, EOFError):
            return "gzip data ends early (file truncated?)"
        if isinstance(exc, zlib.error):
            return f"corrupt gzip data ({text.rpartition(': ')[2]})"
        if isinstance(exc, gzip.BadGzipFile):
            if text.startswith("Not a gzipped file"):
                if total == 0:
                    return "not gzip data, though the name ends in .gz"
                return "bytes after the gzip data are not gzip (file corrupt?)"
            if text.startswith("CRC check failed"):
                return "gzip checksum does not match (file corrupt)"
            return f"corrupt gzip data ({text})"
        assert isinstance(exc, OSError)
        return f"cannot be read ({exc.strerror or exc})"

    def json(self, text: str, ended: bool, header: bool) -> Any:
        kind, why = ("not JSON", "") if header else ("bad frame", "not JSON: ")
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            if not ended:
                self.fail(f"{kind} (line cut off mid-JSON: file truncated?)")
            near = _show(text[max(exc.pos - 10, 0) : exc.pos + 20].strip(), _EXCERPT)
            self.fail(f"{kind} ({why}{exc.msg} at column {exc.colno}, near '{near}')")
        except RecursionError:
            self.fail(f"{kind} ({why}nested too deeply)")
        except ValueError:  # an integer of more digits than Python converts
            self.fail(f"{kind} ({why}a number too long)")

    def frame(self, text: str, ended: bool) -> Frame:
        raw = self.json(text, ended, header=False)
        if not isinstance(raw, dict):
            self.fail("bad frame (not a JSON object)")
        for key in ("t", "gpus"):
            if key not in raw:
                self.fail(f'bad frame (no "{key}")')
        t = _finite(raw["t"])
        if t is None:
            self.fail('bad frame ("t" must be a finite number of seconds)')
        items = raw["gpus"]
        if not isinstance(items, list):
            self.fail('bad frame ("gpus" must be a list)')
        self.samples += len(items) + sum(
            len(g["processes"])
            for g in items
            if isinstance(g, dict) and isinstance(g.get("processes"), list)
        )
        if self.samples > MAX_SAMPLES:
            self.fail(f"over the limit of {MAX_SAMPLES:,} GPU and process entries in a recording")
        gpus = []
        for index, item in enumerate(items):
            try:
                gpus.append(GpuInfo.model_validate(item))
            except ValidationError as exc:
                self.fail(f"bad frame ({_validation(exc, f'gpus[{index}]')})")
            except RecursionError:
                self.fail("bad frame (nested too deeply)")
        return Frame(t, tuple(gpus))


def _finite(value: object) -> float | None:
    """A JSON number as a finite float, or None (not a number, NaN, infinite, too large)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _validation(exc: ValidationError, prefix: str) -> str:
    errors = exc.errors(include_url=False, include_context=False)
    first = errors[0]
    where = prefix + "".join(
        f"[{part}]" if isinstance(part, int) else f".{_show(str(part), _EXCERPT)}"
        for part in first["loc"]
    )
    detail = f"{where}: {_show(first['msg'], 100)}"
    value = first.get("input")
    if first["type"] != "missing" and (
        value is None or isinstance(value, bool | int | float | str)
    ):
        detail += f", got {_show(repr(value), _EXCERPT)}"
    if len(errors) > 1:
        detail += f"; {len(errors) - 1} more"
    return detail


def load(path: str | Path) -> Recording:
    """Read a whole recording; ``RecordingError`` if it is not one or is over a limit."""
    reader = _Reader(Path(path))
    with closing(reader.lines()) as lines:
        first = next(lines, None)
        if first is None:
            reader.fail("empty", line=False)
        _, text, ended = first
        header = reader.json(text, ended, header=True)
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            reader.fail(f"not a {FORMAT} file")
        interval = header.get("interval")
        if interval is not None and not (
            (seconds := _finite(interval)) is not None and seconds >= 0
        ):
            reader.fail("interval must be a number of seconds")
        frames = [reader.frame(text, ended) for _, text, ended in lines if text.strip()]
    if not frames:
        reader.fail("no frames", line=False)
    frames.sort(key=lambda f: f.t)
    return Recording(header, tuple(frames))


def frame_line(t: float, gpus: Iterable[GpuInfo]) -> str:
    body = ",".join(g.model_dump_json(by_alias=True) for g in gpus)
    return f'{{"t":{round(t, 3)},"gpus":[{body}]}}'


def header_line(**fields: Any) -> str:
    return json.dumps({"format": FORMAT, "version": VERSION, **fields}, separators=(",", ":"))


def _past_limit(line: int, size: int, lines: int, samples: int) -> str | None:
    """Which of ``load``'s limits a recording of this size would pass, if any."""
    if line > MAX_LINE_BYTES:
        return f"a frame over {_size(MAX_LINE_BYTES)}"
    if size > MAX_BYTES:
        return f"the {_size(MAX_BYTES)} limit"
    if lines > MAX_LINES:
        return f"the {MAX_LINES:,}-line limit"
    if samples > MAX_SAMPLES:
        return f"the limit of {MAX_SAMPLES:,} GPU and process entries"
    return None


def write(
    path: str | Path,
    header: dict[str, Any],
    frames: Iterable[tuple[float, list[GpuInfo]]],
    on_full: Callable[[str], None] | None = None,
) -> int:
    """Write a whole recording; returns the number of frames written.

    Stops before a frame that would take the file past what ``load`` accepts
    (``MAX_BYTES``, ``MAX_LINE_BYTES``, ``MAX_LINES``, ``MAX_SAMPLES``), so that
    every recording written can be played; ``on_full`` is told why.
    """
    path = Path(path)
    count = 0
    with _open(path, "w") as handle:
        head = header_line(**header) + "\n"
        handle.write(head)
        size, samples = len(head.encode()), 0
        for t, gpus in frames:
            line = frame_line(t, gpus) + "\n"
            length = len(line.encode())
            entries = sum(1 + len(g.processes) for g in gpus)
            full = _past_limit(length, size + length, count + 2, samples + entries)
            if full is not None:
                if on_full is not None:
                    on_full(full)
                break
            handle.write(line)
            size, samples, count = size + length, samples + entries, count + 1
    return count
