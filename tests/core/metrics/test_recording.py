"""Recordings on disk: the format ``gpulens record`` writes and ``replay`` plays."""

from __future__ import annotations

import gzip
import json
import resource
import sys
import traceback
import tracemalloc
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gpulens.core.metrics import recording
from gpulens.core.metrics.providers import replay
from gpulens.core.metrics.schema import GpuInfo, ProcessInfo


def _gpu(index: int, util: int) -> GpuInfo:
    return GpuInfo(
        id=index,
        name="NVIDIA H100 80GB HBM3",
        uuid=f"GPU-{index}",
        utilization=util,
        memory_used=503,
        fan_speed=None,
        processes=[ProcessInfo(pid=524, name="python3", used_memory_mib=6858, user="root")]
        if util
        else [],
    )


@pytest.mark.parametrize("name", ["rec.jsonl", "rec.jsonl.gz"])
def test_write_then_load_round_trip(tmp_path: Path, name: str) -> None:
    frames = [(0.0, [_gpu(0, 0), _gpu(1, 5)]), (0.25, [_gpu(0, 40), _gpu(1, 6)]), (0.5, [])]
    path = tmp_path / name
    count = recording.write(path, {"source": "nvml", "interval": 0.25}, frames)
    assert count == 3
    if name.endswith(".gz"):
        with gzip.open(path, "rt") as handle:
            assert handle.readline().startswith('{"format":"gpulens-recording"')
    loaded = recording.load(path)
    assert loaded.header["source"] == "nvml"
    assert loaded.header["version"] == recording.VERSION
    assert [(f.t, list(f.gpus)) for f in loaded.frames] == frames
    assert loaded.duration == pytest.approx(0.75)


def test_frames_are_sorted_and_blank_lines_skipped(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(
        recording.header_line(interval=1)
        + "\n"
        + recording.frame_line(2, [_gpu(0, 2)])
        + "\n\n"
        + recording.frame_line(1, [_gpu(0, 1)])
        + "\n"
    )
    loaded = recording.load(path)
    assert [f.t for f in loaded.frames] == [1.0, 2.0]


def test_duration_without_interval_uses_the_median_step(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    lines = [recording.header_line()] + [recording.frame_line(t, []) for t in (0, 0.5, 1, 3)]
    path.write_text("\n".join(lines) + "\n")
    assert recording.load(path).duration == pytest.approx(3.5)


def test_duration_is_measured_from_the_first_frame(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    lines = [recording.header_line(interval=1)] + [recording.frame_line(t, []) for t in (5, 6, 7)]
    path.write_text("\n".join(lines) + "\n")
    assert recording.load(path).duration == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("content", "where", "why"),
    [
        ("", "", "empty"),
        ("not json\n", ":1:", "not JSON"),
        ('{"format": "something-else"}\n', ":1:", "not a gpulens-recording"),
        ('["gpulens-recording"]\n', ":1:", "not a gpulens-recording"),
        ('{"format": "gpulens-recording", "interval": "fast"}\n{"t": 0, "gpus": []}\n', ":1:",
         "interval"),
        ('{"format": "gpulens-recording", "interval": -1}\n{"t": 0, "gpus": []}\n', ":1:",
         "interval"),
        ('{"format": "gpulens-recording"}\n', "", "no frames"),
        ('{"format": "gpulens-recording"}\n{"t": 0, "gpus": []}\n{"t": 1}\n', ":3:", "bad frame"),
        ('{"format": "gpulens-recording"}\n{"t": 0, "gpus": [{"id": -1}]}\n', ":2:", "bad frame"),
        ('{"format": "gpulens-recording"}\n{"t": "x", "gpus": []}\n', ":2:", "bad frame"),
        ('{"format": "gpulens-recording"}\n{"t": 0, "gpus": []}\n{broken\n', ":3:", "bad frame"),
    ],
)  # fmt: skip
def test_bad_files_name_the_file_and_line(
    tmp_path: Path, content: str, where: str, why: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(recording.RecordingError) as caught:
        recording.load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}{where}")
    assert why in message


@pytest.mark.parametrize("data", [b"", b"not gzip at all", b"\x1f\x8b\x08garbage"])
def test_bad_gzip_is_a_recording_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(data)
    with pytest.raises(recording.RecordingError, match=str(path)):
        recording.load(path)


def test_missing_file_is_a_recording_error(tmp_path: Path) -> None:
    with pytest.raises(recording.RecordingError, match="cannot be read"):
        recording.load(tmp_path / "nope.jsonl")


# --- Reading as a bounded stream: hostile, huge, truncated and corrupt files ---

_EIGHT_MIB = 8 * 1024 * 1024


def _bomb(path: Path, chunk: bytes, total: int, head: bytes | None = None) -> Path:
    """A gzip file that expands to ``head`` plus ``chunk`` repeated to about ``total`` bytes.

    ``chunk`` is compressed once and its gzip member written over and over: a
    multi-member gzip (what ``cat a.gz b.gz`` makes) that ``gzip -d`` expands
    in full, built in milliseconds and with little memory.
    """
    member = gzip.compress(chunk * max(_EIGHT_MIB // len(chunk), 1), compresslevel=9)
    expanded = len(chunk) * max(_EIGHT_MIB // len(chunk), 1)
    with path.open("wb") as out:
        out.write(gzip.compress(head if head is not None else _HEAD))
        for _ in range(-(-total // expanded)):
            out.write(member)
    return path


_HEAD = (recording.header_line(source="test", interval=0.25) + "\n").encode()


class _Growth:
    python = 0  # peak bytes Python allocated inside the block (tracemalloc)
    rss = 0  # growth of the process's peak resident size, bytes


@contextmanager
def _memory() -> Iterator[_Growth]:
    growth = _Growth()
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        yield growth
    finally:
        growth.python = tracemalloc.get_traced_memory()[1] - base
        if not tracing:
            tracemalloc.stop()
        growth.rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale - rss_before


def _first_line_over(limit: int, line: int) -> int:
    """The number of the line that takes header plus lines of ``line`` bytes over ``limit``."""
    return 1 + (limit - len(_HEAD)) // line + 1


def _refused(path: Path) -> str:
    with pytest.raises(recording.RecordingError) as caught:
        recording.load(path)
    return str(caught.value)


def test_gzip_bomb_of_one_endless_line_stops_at_the_line_limit(tmp_path: Path) -> None:
    path = _bomb(tmp_path / "zeros.jsonl.gz", b"0" * 4096, 200 * 1024 * 1024)
    assert path.stat().st_size < 1024 * 1024  # 200 MiB once expanded
    with _memory() as growth:
        message = _refused(path)
    assert message == f"{path}:2: line longer than the 1 MiB limit for one line"
    assert growth.python < 16 * 1024 * 1024
    assert growth.rss < 64 * 1024 * 1024


def test_gzip_bomb_of_blank_lines_stops_at_the_size_limit(tmp_path: Path) -> None:
    # Lines just under the line limit, all spaces: blank, so only the size limit stops them.
    line = b" " * (recording.MAX_LINE_BYTES - 1) + b"\n"
    path = _bomb(tmp_path / "spaces.jsonl.gz", line, 200 * 1024 * 1024)
    with _memory() as growth:
        message = _refused(path)
    over = _first_line_over(recording.MAX_BYTES, len(line))
    assert message == f"{path}:{over}: over the 96 MiB limit for a recording (uncompressed)"
    assert growth.python < 16 * 1024 * 1024
    assert growth.rss < 64 * 1024 * 1024


def test_gzip_bomb_of_valid_frames_stops_at_the_size_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recording, "MAX_BYTES", 1024 * 1024)
    line = (recording.frame_line(0.25, [_gpu(0, 40), _gpu(1, 7)]) + "\n").encode()
    path = _bomb(tmp_path / "frames.jsonl.gz", line, 200 * 1024 * 1024)
    with _memory() as growth:
        message = _refused(path)
    over = _first_line_over(1024 * 1024, len(line))
    assert message == f"{path}:{over}: over the 1 MiB limit for a recording (uncompressed)"
    assert growth.python < 32 * 1024 * 1024  # what 1 MiB of frames costs parsed, not 200 MiB
    assert growth.rss < 96 * 1024 * 1024


def test_many_small_gpu_entries_stop_at_the_entry_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Entries of ~20 bytes of text cost over 1 KiB each once parsed: counted, not just measured.
    monkeypatch.setattr(recording, "MAX_SAMPLES", 5)
    entry = '{"id":0,"name":"","processes":[{"pid":1}]}'
    path = tmp_path / "r.jsonl"
    frame = f'{{"t":0,"gpus":[{entry},{entry}]}}\n'  # 2 GPUs and 2 processes
    path.write_text(_HEAD.decode() + frame + frame)
    assert _refused(path) == f"{path}:3: over the limit of 5 GPU and process entries in a recording"
    monkeypatch.setattr(recording, "MAX_SAMPLES", 8)
    assert len(recording.load(path).frames) == 2


def test_line_limit_counts_the_newline_and_is_inclusive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recording, "MAX_LINE_BYTES", 1024)
    frame = recording.frame_line(0, [_gpu(0, 1)])
    fits = frame[:-1] + " " * (1023 - len(frame)) + "}\n"
    assert len(fits) == 1024
    path = tmp_path / "r.jsonl"
    path.write_text(_HEAD.decode() + fits)
    assert len(recording.load(path).frames) == 1
    path.write_text(_HEAD.decode() + fits + " " + fits)
    assert _refused(path) == f"{path}:3: line longer than the 1 KiB limit for one line"


def test_line_count_limit_counts_blank_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recording, "MAX_LINES", 4)
    path = tmp_path / "r.jsonl"
    path.write_text(_HEAD.decode() + '{"t":0,"gpus":[]}\n\n\n')
    assert len(recording.load(path).frames) == 1
    path.write_text(_HEAD.decode() + '{"t":0,"gpus":[]}\n\n\n\n')
    assert _refused(path) == f"{path}:5: over the 4-line limit for a recording"


def _frames_gz(count: int) -> bytes:
    lines = [_HEAD.decode()] + [
        recording.frame_line(i * 0.25, [_gpu(0, i % 101), _gpu(1, (i * 7) % 101)]) + "\n"
        for i in range(count)
    ]
    return "".join(lines).encode()


@pytest.mark.parametrize("share", [0.2, 0.5, 0.9])
def test_gzip_cut_mid_stream_names_the_line_it_broke_on(tmp_path: Path, share: float) -> None:
    whole = gzip.compress(_frames_gz(400))
    cut = whole[: int(len(whole) * share)]
    readable = zlib.decompressobj(wbits=31).decompress(cut)  # what survives the cut
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(cut)
    broke = readable.count(b"\n") + 1
    assert 1 < broke < 402
    assert _refused(path) == f"{path}:{broke}: gzip data ends early (file truncated?)"


def test_gzip_cut_right_after_a_complete_frame_line_is_refused(tmp_path: Path) -> None:
    # A recorder killed after flushing line 10: every line whole, but no end-of-stream marker.
    text = _frames_gz(30).splitlines(keepends=True)
    compressor = zlib.compressobj(wbits=31)
    data = compressor.compress(b"".join(text[:10])) + compressor.flush(zlib.Z_SYNC_FLUSH)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data)
    assert _refused(path) == f"{path}:11: gzip data ends early (file truncated?)"
    path.write_bytes(gzip.compress(_frames_gz(30))[:-8])  # only the trailer lost
    assert _refused(path) == f"{path}:32: gzip data ends early (file truncated?)"


def test_gzip_checksum_and_trailing_garbage_are_refused(tmp_path: Path) -> None:
    whole = bytearray(gzip.compress(_frames_gz(30)))
    whole[-8] ^= 0xFF  # the CRC-32 in the trailer
    path = tmp_path / "r.jsonl.gz"
    path.write_bytes(bytes(whole))
    assert _refused(path) == f"{path}:32: gzip checksum does not match (file corrupt)"
    path.write_bytes(gzip.compress(_frames_gz(30)) + b"trailing junk")
    assert _refused(path) == f"{path}:32: bytes after the gzip data are not gzip (file corrupt?)"


@pytest.mark.parametrize("name", ["r.jsonl", "r.jsonl.gz"])
def test_final_line_cut_mid_json_is_refused(tmp_path: Path, name: str) -> None:
    text = _frames_gz(5)[:-30]  # inside the last frame's JSON, no newline
    path = tmp_path / name
    path.write_bytes(gzip.compress(text) if name.endswith(".gz") else text)
    assert _refused(path) == f"{path}:6: bad frame (line cut off mid-JSON: file truncated?)"


def test_final_line_without_newline_that_is_whole_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(_frames_gz(5)[:-1])
    assert len(recording.load(path).frames) == 5


@pytest.mark.parametrize("name", ["r.jsonl", "r.jsonl.gz"])
def test_bytes_that_are_not_utf8_name_the_line_and_column(tmp_path: Path, name: str) -> None:
    bad = b'{"t":1,"gpus":[{"id":0,"name":"\xff\xfe"}]}\n'
    text = _HEAD + b'{"t":0,"gpus":[]}\n' + bad
    path = tmp_path / name
    path.write_bytes(gzip.compress(text) if name.endswith(".gz") else text)
    column = bad.index(b"\xff") + 1
    assert _refused(path) == f"{path}:3: not UTF-8 text (byte 0xff at column {column})"


def test_plain_text_named_gz_and_gzip_named_plain_are_refused(tmp_path: Path) -> None:
    plain = tmp_path / "r.jsonl.gz"
    plain.write_bytes(_frames_gz(3))
    assert _refused(plain) == f"{plain}:1: not gzip data, though the name ends in .gz"
    packed = tmp_path / "r.jsonl"
    packed.write_bytes(gzip.compress(_frames_gz(3)))
    assert _refused(packed) == f"{packed}:1: gzip data, though the name does not end in .gz"


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + _frames_gz(2))
    assert len(recording.load(path).frames) == 2


def test_line_separators_inside_strings_do_not_split_frames(tmp_path: Path) -> None:
    # U+2028 and U+0085 are legal unescaped in JSON strings and pydantic writes them as is.
    gpu = _gpu(0, 1).model_copy(update={"name": "odd\u2028name\x85here\u2029"})
    path = tmp_path / "r.jsonl.gz"
    recording.write(path, {"interval": 1}, [(0.0, [gpu]), (1.0, [gpu])])
    assert [f.gpus[0].name for f in recording.load(path).frames] == [gpu.name, gpu.name]


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        ('{"t": 0, "gpus": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        ('{"t": ' + "9" * 400 + ', "gpus": []}', '"t" must be a finite number'),
        ('{"t": ' + "9" * 5000 + ', "gpus": []}', "a number too long"),
        ('{"t": NaN, "gpus": []}', '"t" must be a finite number'),
        ('{"t": -Infinity, "gpus": []}', '"t" must be a finite number'),
        ('{"t": true, "gpus": []}', '"t" must be a finite number'),
        ('{"t": 0, "gpus": {"id": 0}}', '"gpus" must be a list'),
        ("[1, 2]", "not a JSON object"),
        ('{"t": 0, "gpus": [{"id": 0, "name": "g", "utilization": 250}]}',
         "gpus[0].utilization: Input should be less than or equal to 100, got 250"),
    ],
)  # fmt: skip
def test_hostile_frames_are_recording_errors(tmp_path: Path, frame: str, why: str) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(_HEAD.decode() + '{"t": 0, "gpus": []}\n' + frame + "\n")
    message = _refused(path)
    assert message.startswith(f"{path}:3: bad frame (")
    assert why in message


@pytest.mark.parametrize("interval", ["9" * 400, "9" * 5000, "NaN", "Infinity", "true", "[]"])
def test_hostile_intervals_are_recording_errors(tmp_path: Path, interval: str) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(
        f'{{"format": "gpulens-recording", "interval": {interval}}}\n{{"t":0,"gpus":[]}}\n'
    )
    assert _refused(path).startswith(f"{path}:1: ")


_HOSTILE = "\x1b[2J\x1b]0;owned\x07\x9b31m\u202e\r\n\x00"


@pytest.mark.parametrize(
    "content",
    [
        _HOSTILE.encode() + b"\n",  # raw, as the header
        _HEAD + _HOSTILE.encode(),  # raw, as a frame cut off
        _HEAD + b'{"t":0,"gpus":' + _HOSTILE.encode() + b"}\n",
        _HEAD + b'{"t":0,"gpus":[{"id":0,"name":"g","' + json.dumps(_HOSTILE).encode()[1:-1]
        + b'":1}]}\n',  # an unknown field named with escapes: pydantic quotes it raw
        _HEAD + b'{"t":0,"gpus":[{"id":0,"name":"g","utilization":' + json.dumps(_HOSTILE).encode()
        + b"}]}\n",
        _HEAD + b'{"t":0,"gpus":[{"id":"' + json.dumps(_HOSTILE * 500).encode()[1:-1] + b'"}]}\n',
        b'{"format":' + json.dumps(_HOSTILE).encode() + b"}\n",
        _HEAD + b'{"t":0,"gpus":[]}\n' + b"\x1b[31m\xff\n",
    ],
    ids=["raw-header", "raw-cut-frame", "raw-in-json", "field-name", "field-value",
         "long-value", "format-value", "bad-utf8"],
)  # fmt: skip
def test_error_messages_never_carry_control_characters(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "evil\x1b[31m.jsonl"
    path.write_bytes(content)
    with pytest.raises(recording.RecordingError) as caught:
        recording.load(path)
    message = str(caught.value)
    assert message.isprintable(), message
    assert len(message) <= len(str(path)) + 10 + 220
    assert message.startswith(str(path).replace("\x1b", "\\x1b") + ":")
    # what a logger prints, cause chain included, holds nothing raw from the file either
    printed = "".join(traceback.format_exception(caught.value))
    assert all(c.isprintable() or c == "\n" for c in printed)


def test_the_shipped_demo_still_loads() -> None:
    loaded = recording.load(replay.default_recording())
    assert loaded.header["format"] == recording.FORMAT
    assert len(loaded.frames) == 180
    assert loaded.duration == pytest.approx(45.0)


@pytest.mark.parametrize(
    ("limit", "value"), [("MAX_BYTES", 4096), ("MAX_SAMPLES", 7), ("MAX_LINES", 5)]
)
def test_write_stops_before_a_limit_so_what_it_wrote_plays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: str, value: int
) -> None:
    monkeypatch.setattr(recording, limit, value)
    said: list[str] = []
    frames = ((float(i), [_gpu(0, i % 100), _gpu(1, 0)]) for i in range(10_000))
    count = recording.write(tmp_path / "r.jsonl.gz", {"interval": 1.0}, frames, on_full=said.append)
    assert 0 < count < 10_000
    assert len(said) == 1 and "limit" in said[0]
    assert len(recording.load(tmp_path / "r.jsonl.gz").frames) == count
