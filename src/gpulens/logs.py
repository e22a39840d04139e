"""JSON logs, one object per line, for gpulens and uvicorn alike."""

from __future__ import annotations

import logging
import logging.config
import re
from typing import Any
from urllib.parse import unquote_plus

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

# Query parameters that look like a credential: refused by the app (400) and never printed.
SECRET_QUERY_NAMES = frozenset({"token", "access_token", "accesstoken", "auth", "api_key"})
REDACTED = "[redacted]"
# Headers that carry credentials; the websockets library prints each handshake header at DEBUG.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
_HEADER_LINES = frozenset({"< %s: %s", "> %s: %s"})
# A path with a query string, as uvicorn prints it ('/x?a=b c' ends at a space or quote).
_QUERY = re.compile(r"\?([^\s\"']*)")


def _secret_name(name: str) -> bool:
    return unquote_plus(name).strip().lower() in SECRET_QUERY_NAMES


def query_has_secret(query_string: bytes | str) -> bool:
    """Whether a raw query string names a token-like parameter (case-insensitive)."""
    text = query_string.decode("latin-1") if isinstance(query_string, bytes) else query_string
    return any(_secret_name(pair.split("=", 1)[0]) for pair in re.split("[&;]", text) if pair)


def redact_query(text: str) -> str:
    """``text`` with the value of every token-like query parameter replaced by [redacted]."""
    if "?" not in text:
        return text

    def scrub(match: re.Match[str]) -> str:
        pairs = re.split("([&;])", match.group(1))
        for i in range(0, len(pairs), 2):
            name, eq, _ = pairs[i].partition("=")
            if _secret_name(name):
                pairs[i] = f"{name}={REDACTED}" if eq else name
        return "?" + "".join(pairs)

    return _QUERY.sub(scrub, text)


class DropColorMessage(logging.Filter):
    """uvicorn attaches an ANSI-coloured copy of each message; JSON logs do not want it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.pop("color_message", None)
        return True


class RedactSecrets(logging.Filter):
    """Token-like query values never reach a log line: uvicorn prints each request's path
    and query (access log, and "WebSocket /ws/gpu?..." lines), and a token someone put in
    a URL must not be copied from there into the journal. At DEBUG the websockets library
    prints the handshake's headers: Authorization and Cookie values are masked there."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if (
            record.msg in _HEADER_LINES
            and isinstance(args, tuple)
            and len(args) == 2
            and str(args[0]).lower() in SECRET_HEADERS
        ):
            record.args = (args[0], REDACTED)
        if isinstance(record.msg, str) and "?" in record.msg:
            record.msg = redact_query(record.msg)
        if isinstance(record.args, tuple) and any(
            isinstance(a, str) and "?" in a for a in record.args
        ):
            record.args = tuple(redact_query(a) if isinstance(a, str) else a for a in record.args)
        return True


def log_config(level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict; also handed to uvicorn as its ``log_config``."""
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "json",
        "stream": "ext://sys.stderr",
        "filters": ["no_color", "redact"],
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
        "filters": {
            "no_color": {"()": "gpulens.logs.DropColorMessage"},
            "redact": {"()": "gpulens.logs.RedactSecrets"},
        },
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
