"""Running the command-line tools: binary lookup, environment, first line of an error."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gpulens.core.metrics.providers.base import ProviderUnavailable
from gpulens.core.metrics.providers.tools import find_binary, first_line, run_process


def _script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_run_process_captures_output_exit_status_and_a_fixed_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_TOKEN", "do-not-leak")
    tool = _script(tmp_path / "tool", 'echo "LC_ALL=$LC_ALL PATH=$PATH TOKEN=$SECRET_TOKEN"\n'
                   'echo "arg=$1" >&2\nexit 3\n')  # fmt: skip
    result = run_process([tool, "--x=é"], timeout=10)
    assert result.returncode == 3
    assert result.stdout == "LC_ALL=C PATH=/usr/bin:/bin TOKEN=\n"
    assert result.stderr == "arg=--x=é\n"


def test_run_process_replaces_undecodable_bytes(tmp_path: Path) -> None:
    tool = _script(tmp_path / "tool", "printf 'GPU \\377\\n'\n")
    assert run_process([tool], timeout=10).stdout == "GPU \ufffd\n"


def test_run_process_timeout_raises_timeout_expired(tmp_path: Path) -> None:
    tool = _script(tmp_path / "tool", "exec sleep 30\n")
    with pytest.raises(subprocess.TimeoutExpired):
        run_process([tool], timeout=0.2)


def test_find_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool = _script(tmp_path / "nvidia-smi", "exit 0\n")
    assert find_binary(tool, "nvidia-smi") == tool
    with pytest.raises(ProviderUnavailable, match="does not exist"):
        find_binary(str(tmp_path / "missing"), "nvidia-smi")
    with pytest.raises(ProviderUnavailable, match="does not exist"):
        find_binary(str(tmp_path), "nvidia-smi")  # a directory is not a binary
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_binary(None, "nvidia-smi") == tool
    with pytest.raises(ProviderUnavailable, match="nvtop: not found on PATH"):
        find_binary(None, "nvtop")


@pytest.mark.parametrize(
    ("stdout", "stderr", "line"),
    [
        ("\n  No devices were found  \n", "ignored", "No devices were found"),
        ("", "nvtop: invalid option -- 's'\nusage", "nvtop: invalid option -- 's'"),
        ("", "", "exit status 6"),
        ("x" * 500, "", "x" * 200),
    ],
)
def test_first_line(stdout: str, stderr: str, line: str) -> None:
    assert first_line(subprocess.CompletedProcess([], 6, stdout, stderr)) == line
