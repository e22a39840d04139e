"""Running the command-line sources (nvidia-smi, nvtop) safely."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from gpulens.core.metrics.providers.base import ProviderUnavailable

Runner = Callable[[Sequence[str], float], "subprocess.CompletedProcess[str]"]


def run_process(argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a tool with a hard timeout; the child is killed when it expires."""
    return subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        errors="replace",
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin", "TERM": "dumb"},
    )


def find_binary(configured: str | None, default_name: str) -> str:
    """The binary to run, or ``ProviderUnavailable`` saying why there is none."""
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise ProviderUnavailable(f"{default_name}: {configured} does not exist")
        return str(path)
    found = shutil.which(default_name)
    if found is None:
        raise ProviderUnavailable(f"{default_name}: not found on PATH")
    return found


def first_line(result: subprocess.CompletedProcess[str]) -> str:
    """The first non-blank line a tool printed (stdout first: nvidia-smi reports errors there)."""
    for text in (result.stdout, result.stderr):
        for line in (text or "").splitlines():
            if line.strip():
                return line.strip()[:200]
    return f"exit status {result.returncode}"
