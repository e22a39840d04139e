"""The lock files agree with pyproject.toml and with each other (offline; `make lock` writes them).

pip installs them in hash-checking mode, which refuses any requirement without
a pin and a hash, transitive ones included.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]

Lock = dict[str, tuple[Version, frozenset[str]]]


def _lock(name: str) -> Lock:
    """``{name: (version, sha256 hashes)}`` from a ``uv pip compile --generate-hashes`` file."""
    entries: Lock = {}
    # One requirement per logical line: join the backslash continuations, drop comments.
    text = re.sub(r"\\\n", " ", (ROOT / name).read_text())
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        assert not line.startswith("-"), f"{name}: options have no place in a lock: {line}"
        spec, *options = line.split()
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", spec)
        assert match, f"{name}: not pinned with ==: {spec}"
        hashes = frozenset(re.findall(r"--hash=sha256:([0-9a-f]{64})", line))
        assert hashes and len(hashes) == len(options), f"{name}: {spec} is not (only) hashed"
        key = canonicalize_name(match[1])
        assert key not in entries, f"{name}: {key} twice"
        entries[key] = (Version(match[2]), hashes)
    return entries


RUNTIME = _lock("requirements.lock")
DEV = _lock("requirements-dev.lock")
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_dev_lock_pins_every_runtime_package_as_the_runtime_lock_does() -> None:
    assert {name: DEV.get(name) for name in RUNTIME} == RUNTIME


@pytest.mark.parametrize(
    ("requirements", "lock", "name"),
    [
        (PROJECT["dependencies"], RUNTIME, "requirements.lock"),
        (PROJECT["dependencies"] + PROJECT["optional-dependencies"]["dev"], DEV, "dev"),
    ],
    ids=["runtime", "dev"],
)
def test_each_declared_dependency_is_locked_within_its_range(
    requirements: list[str], lock: Lock, name: str
) -> None:
    for line in requirements:
        req = Requirement(line)
        key = canonicalize_name(req.name)
        assert key in lock, f"{req.name} is declared in pyproject.toml but not in the {name} lock"
        assert req.specifier.contains(lock[key][0], prereleases=True), (req, lock[key][0])


def test_both_locks_say_how_to_regenerate_them() -> None:
    for name in ("requirements.lock", "requirements-dev.lock"):
        assert "#    make lock\n" in (ROOT / name).read_text(), name
