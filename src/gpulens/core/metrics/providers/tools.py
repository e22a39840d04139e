"""Running the command-line sources (nvidia-smi, nvtop) safely."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from gpulens.core.metrics.processes import ProcessResolver, PsutilResolver
from gpulens.core.metrics.providers.base import ProviderError, ProviderUnavailable

Runner = Callable[[Sequence[str], float], "subprocess.CompletedProcess[str]"]


def run_process(argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a tool with a hard timeout; when it expires the child and its own children are killed.

    The tool runs in a session of its own so that a wrapper script's children (which
    ``subprocess.run`` would leave running) go with it.
    """
    with subprocess.Popen(
        list(argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin", "TERM": "dumb"},
        start_new_session=True,
    ) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except BaseException:  # the timeout, or an interrupt: leave nothing running
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


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


class ToolProvider:
    """What the command-line providers share: finding the binary, running it, opening."""

    name: str
    binary_name: str
    error: type[ProviderError] = ProviderError

    def __init__(
        self,
        binary: str | None = None,
        timeout: float = 5.0,
        runner: Runner = run_process,
        resolver: ProcessResolver | None = None,
    ) -> None:
        self._binary = find_binary(binary, self.binary_name)
        self._timeout = timeout
        self._run = runner
        self._resolve = resolver if resolver is not None else PsutilResolver()
        self._open()

    def _open(self) -> None:
        """Prove the source works (``_check_opens``); raise ``ProviderUnavailable`` if not."""
        raise NotImplementedError

    def _check_opens(self, first: Callable[[], Sequence[object]]) -> None:
        """A first read must work and list a GPU, or the source is unavailable."""
        try:
            gpus = first()
        except ProviderError as exc:
            raise ProviderUnavailable(str(exc)) from exc
        if not gpus:
            raise ProviderUnavailable(f"{self.binary_name}: no GPU listed")

    def _exec(self, *args: str) -> subprocess.CompletedProcess[str]:
        try:
            return self._run([self._binary, *args], self._timeout)
        except subprocess.TimeoutExpired as exc:
            message = f"{self.binary_name} did not answer within {self._timeout:g} s"
            raise self.error(message) from exc
        except OSError as exc:
            message = f"{self.binary_name} could not be run: {exc.strerror or exc}"
            raise self.error(message) from exc

    def close(self) -> None:
        return None
