"""Foreign text made safe: names keep what they said, reasons become one plain line."""

from __future__ import annotations

import logging

import pytest

from gpulens.core.metrics.text import MAX_REASON_LENGTH, OnceLog, clean_name, clean_reason


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("GPU is lost.  Reboot the system", "GPU is lost. Reboot the system"),
        ("\x1b[1;31mFailed\x1b[0m to initialize NVML", "Failed to initialize NVML"),
        ("\x1b]8;;http://evil\x07link\x1b]8;;\x07", "link"),  # an OSC hyperlink
        ("line one\nline two\r\n\tthree", "line one line two three"),
        ("bell\x07 nul\x00 del\x7f", "bell nul del"),
        ("right\u202eto-left", "right to-left"),
        ("", "no reason given"),
        ("\x1b[2J\x00", "no reason given"),
    ],
)
def test_clean_reason(raw: str, clean: str) -> None:
    assert clean_reason(raw) == clean


def test_clean_reason_caps_a_flood() -> None:
    reason = clean_reason("x" * 1_000_000)
    assert len(reason) == MAX_REASON_LENGTH
    assert reason.endswith("…")


def test_clean_name_caps_and_marks() -> None:
    assert clean_name("a\x1b[31mb", limit=10) == "a\ufffdb"
    assert clean_name("/" + "d/" * 100 + "python3", limit=20) == "/…/d/d/d/d/d/python3"
    assert clean_name("   ", limit=10) is None


def test_once_log_logs_each_problem_once(caplog: pytest.LogCaptureFixture) -> None:
    once = OnceLog(logging.getLogger("gpulens.test"), max_keys=2)
    with caplog.at_level("WARNING", logger="gpulens.test"):
        assert once.warning("a", "problem %s", "a")
        assert not once.warning("a", "problem %s", "a")
        assert once.warning("b", "problem %s", "b")
        assert once.warning("c", "problem %s", "c")  # over the bound: starts over
        assert once.warning("a", "problem %s", "a")
    assert [r.getMessage() for r in caplog.records] == [
        "problem a", "problem b", "problem c", "problem a",
    ]  # fmt: skip
