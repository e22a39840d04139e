"""Recordings on disk: the format ``gpulens record`` writes and ``replay`` plays."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from gpulens.core.metrics import recording
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
