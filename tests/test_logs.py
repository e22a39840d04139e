"""JSON logs: one object per line, for gpulens and uvicorn alike."""

from __future__ import annotations

import json
import logging

import pytest

from gpulens import logs


def test_logs_are_one_json_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("INFO")
    logging.getLogger("gpulens.test").info("hello %s", "world")
    logging.getLogger("uvicorn.access").info("GET / 200")
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]
    assert records[0]["message"] == "hello world" and records[0]["level"] == "INFO"
    assert records[1]["logger"] == "uvicorn.access"
    logging.getLogger("gpulens").handlers.clear()
