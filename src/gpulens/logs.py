"""JSON logs, one object per line, for gpulens and uvicorn alike."""

from __future__ import annotations

import logging
import logging.config
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class DropColorMessage(logging.Filter):
    """uvicorn attaches an ANSI-coloured copy of each message; JSON logs do not want it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.pop("color_message", None)
        return True


def log_config(level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict; also handed to uvicorn as its ``log_config``."""
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "json",
        "stream": "ext://sys.stderr",
        "filters": ["no_color"],
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": FORMAT,
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            }
        },
        "filters": {"no_color": {"()": "gpulens.logs.DropColorMessage"}},
        "handlers": {"default": handler},
        "loggers": {
            "gpulens": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["default"], "level": level, "propagate": False},
        },
    }


def configure(level: str = "INFO") -> None:
    logging.config.dictConfig(log_config(level))
