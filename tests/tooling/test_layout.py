"""The test tree mirrors the source tree: the tests of ``src/gpulens/X/Y.py`` live in
``tests/X/test_Y.py``, so a module's tests are where its path says and nowhere else.

A package's ``__init__.py`` is the module named after its folder: the tests of
``gpulens/core/metrics/providers/__init__.py`` are ``tests/core/metrics/test_providers.py``.
Tests that exercise no single module live in integration/, deploy/ and tooling/, or are
listed in ``CROSS_CUTTING`` with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
PACKAGE = ROOT / "src" / "gpulens"

CROSS_CUTTING_DIRS = {"integration", "deploy", "tooling"}
CROSS_CUTTING = {
    # NVML, nvidia-smi and nvtop read the same captured GPU the same way.
    "core/metrics/providers/test_agreement.py",
}


def has_module(test: Path) -> bool:
    """``tests/X/test_Y.py`` (relative to ``tests``) → is there a ``gpulens/X/Y.py`` or
    ``gpulens/X/Y/__init__.py``?"""
    module = test.parent / test.name.removeprefix("test_").removesuffix(".py")
    return (PACKAGE / module.with_suffix(".py")).is_file() or (
        PACKAGE / module / "__init__.py"
    ).is_file()


def strays(tests: Iterable[Path]) -> list[str]:
    """The test files, relative to ``tests``, that match no module and are not cross-cutting."""
    found = []
    for test in tests:
        relative = test.relative_to(TESTS)
        if relative.parts[0] in CROSS_CUTTING_DIRS or relative.as_posix() in CROSS_CUTTING:
            continue
        if not has_module(relative):
            found.append(relative.as_posix())
    return sorted(found)


def test_every_test_file_is_named_after_its_module() -> None:
    assert strays(TESTS.rglob("test_*.py")) == [], (
        "tests/X/test_Y.py tests src/gpulens/X/Y.py: move these tests beside their module's "
        "path, or list a file that exercises no single module in CROSS_CUTTING"
    )
    assert all((TESTS / name).is_file() for name in CROSS_CUTTING), "a stale CROSS_CUTTING entry"


def test_the_check_sees_a_test_file_without_a_module() -> None:
    candidates = [
        "services/test_hub.py",  # no services/hub.py: the hub lives in websocket.py
        "api/test_protocol_schema.py",
        "services/test_websocket.py",
        "core/metrics/test_providers.py",  # the package's __init__.py
        "test_cli.py",
        "integration/test_anything.py",
    ]
    assert strays(TESTS / name for name in candidates) == [
        "api/test_protocol_schema.py",
        "services/test_hub.py",
    ]
