"""Text from outside (tool output, driver messages, process names), made safe to show and log.

Anything a GPU source prints can reach the page and the log: a process name
is chosen by whoever started the process, and a tool's error output may hold
terminal escapes. Two shapes are produced here:

* a **name** keeps what it said, each terminal escape sequence or run of
  control/bidi characters inside it replaced by one U+FFFD (at its ends they
  are dropped), so that a name cannot hide, reorder or break a line, yet the
  oddness stays visible;
* a **sentence** (a reason shown to people) loses escapes entirely and has
  control characters turned into spaces, on one line.

Both are length-capped; the work is bounded before any regular expression runs.
"""

from __future__ import annotations

import logging
import re

REPLACEMENT = "\ufffd"
MAX_REASON_LENGTH = 300

# CSI (ESC [ … final), OSC (ESC ] … BEL or ESC \), and two-character escapes.
_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]?|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_]?)")
# C0, DEL, C1, and the bidi/zero-width/line-separator characters ("Trojan Source").
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069]+")
_SPACES = re.compile(r"\s{2,}")
_REPLACEMENTS = re.compile(f"{REPLACEMENT}+")


def _cap(text: str, limit: int, keep_end: bool) -> str:
    if len(text) <= limit:
        return text
    if keep_end:  # a path: its last component says the most; "/…/…/python3" stays a path
        return "/…" + text[-(limit - 2) :]
    return text[: limit - 1] + "…"


def clean_name(raw: str | None, limit: int) -> str | None:
    """A name as it was given, escapes and control runs shown as one U+FFFD; ``None`` if empty.

    An absolute path keeps its end when capped (the executable is what matters).
    """
    if raw is None:
        return None
    bound = limit * 8  # bound the work on hostile input before any regex
    is_path = raw.lstrip().startswith("/")
    text = raw if len(raw) <= bound else raw[-bound:] if is_path else raw[:bound]
    text = _ESCAPE.sub(REPLACEMENT, text)
    text = _CONTROL.sub(REPLACEMENT, text)
    text = _REPLACEMENTS.sub(REPLACEMENT, text).strip(REPLACEMENT + " \t")  # ends: invisible
    if not text:
        return None
    return _cap(text, limit, keep_end=is_path)


def clean_reason(raw: object, limit: int = MAX_REASON_LENGTH) -> str:
    """One line of plain text for people: no escapes, no control characters, capped."""
    text = str(raw)[: limit * 8]
    text = _ESCAPE.sub("", text)
    text = _CONTROL.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    return _cap(text, limit, keep_end=False) or "no reason given"


class OnceLog:
    """Logs each distinct problem once, so a bad row seen every sample does not flood the log.

    Remembers at most ``max_keys`` problems; past that it starts over.
    """

    def __init__(self, logger: logging.Logger, max_keys: int = 256) -> None:
        self._log = logger
        self._seen: set[str] = set()
        self._max = max_keys

    def warning(self, key: str, message: str, *args: object) -> bool:
        """Log ``message`` unless ``key`` was logged already; returns whether it was logged."""
        if key in self._seen:
            return False
        if len(self._seen) >= self._max:
            self._seen.clear()
        self._seen.add(key)
        self._log.warning(message, *args)
        return True
