"""The replay provider: recorded frames in real time (injected clock), looping."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from gpulens.core.metrics import recording
from gpulens.core.metrics.providers.base import ProviderUnavailable
from gpulens.core.metrics.providers.replay import ReplayProvider, default_recording
from gpulens.core.metrics.schema import GpuInfo
from tests.fakes import FakeClock


def _write(path: Path, times: list[float], interval: float | None = 1.0) -> Path:
    header = {"source": "test"} | ({"interval": interval} if interval is not None else {})
    frames = [
        (t, [GpuInfo(id=0, name="g", uuid="GPU-a", utilization=i)]) for i, t in enumerate(times)
    ]
    recording.write(path, header, frames)
    return path


def _util(provider: ReplayProvider) -> int | None:
    [gpu] = provider.sample()
    return gpu.utilization


def test_plays_frames_by_elapsed_time_and_loops(tmp_path: Path) -> None:
    clock = FakeClock(500.0)
    provider = ReplayProvider(_write(tmp_path / "r.jsonl", [0, 1, 2]), clock=clock)
    assert provider.name == "replay"
    assert provider.duration == pytest.approx(3.0)
    seen = []
    for _ in range(8):
        seen.append(_util(provider))
        clock.advance(0.5)
    assert seen == [0, 0, 1, 1, 2, 2, 0, 0]


def test_recording_that_starts_late_loops_over_its_own_length(tmp_path: Path) -> None:
    clock = FakeClock()
    provider = ReplayProvider(_write(tmp_path / "r.jsonl", [10, 11, 12]), clock=clock)
    assert provider.duration == pytest.approx(3.0)
    seen = []
    for _ in range(4):
        seen.append(_util(provider))
        clock.advance(1.0)
    assert seen == [0, 1, 2, 0]


def test_sample_returns_a_fresh_list(tmp_path: Path) -> None:
    provider = ReplayProvider(_write(tmp_path / "r.jsonl", [0]), clock=FakeClock())
    provider.sample().clear()
    assert len(provider.sample()) == 1
    provider.close()


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ("", "empty"),
        ("{not json\n", ":1:"),
        ('{"format": "nvtop"}\n{"t": 0, "gpus": []}\n', ":1:"),
        ('{"format": "gpulens-recording"}\n{"t": 0, "gpus": [{"name": 3}]}\n', ":2:"),
    ],
)
def test_bad_file_is_unavailable_naming_file_and_line(
    tmp_path: Path, content: str, where: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(ProviderUnavailable) as caught:
        ReplayProvider(path)
    assert str(caught.value).startswith("replay: ")
    assert f"{path}" in str(caught.value)
    assert where in str(caught.value)


def test_shipped_demo_has_two_gpus_and_processes_in_the_loop() -> None:
    demo = default_recording()
    assert demo.is_file()
    loaded = recording.load(demo)
    assert loaded.header["source"] == "nvml"
    assert all(len(frame.gpus) == 2 for frame in loaded.frames)
    uuids = {tuple(g.uuid for g in frame.gpus) for frame in loaded.frames}
    assert len(uuids) == 1
    [(first, second)] = uuids
    assert first and second and first != second
    assert any(g.processes for frame in loaded.frames for g in frame.gpus)
    assert any(not g.processes for frame in loaded.frames for g in frame.gpus)  # idle too
    clock = FakeClock()
    provider = ReplayProvider(clock=clock)
    assert provider.path == demo
    assert [g.uuid for g in provider.sample()] == [first, second]


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (gzip.compress(b'{"format": "gpulens-recording"}\n{"t": 0, "gpus": []}\n')[:-12],
         ":2: gzip data ends early"),
        (gzip.compress(b'{"format": "gpulens-recording"}\n' + b"\x1b[2J" * 300_000),
         ":2: line longer than the 1 MiB limit"),
        (b'{"format": "gpulens-recording"}\n{"t": 0, "gpus": []}\n',
         ":1: not gzip data, though the name ends in .gz"),
    ],
)  # fmt: skip
def test_broken_or_oversized_gzip_is_unavailable_in_one_clean_line(
    tmp_path: Path, content: bytes, why: str
) -> None:
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(content)
    with pytest.raises(ProviderUnavailable) as caught:
        ReplayProvider(path)
    message = str(caught.value)
    assert message.startswith(f"replay: {path}{why}")
    assert message.isprintable()
