"""HIDE_USERS: user names replaced by pseudonyms in what the page is sent.

A pseudonym is ``user-`` and four hex digits of an HMAC of the name under a
key drawn at start-up: the same user gets the same pseudonym everywhere while
the service runs (so "who holds GPU 3" and the usage table still agree), it
cannot be turned back into the name by trying names, and it changes at the
next start. The store keeps the real names (the administrator's own data);
only what leaves through the stream and the page's APIs is masked.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from gpulens.core.metrics.schema import GpuInfo, Telemetry
from gpulens.services.findings.model import Event


class UserMask:
    def __init__(self, key: bytes | None = None) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)
        self._names: dict[str, str] = {}

    def user(self, name: str | None) -> str | None:
        """The pseudonym for ``name`` (None stays None)."""
        if name is None:
            return None
        alias = self._names.get(name)
        if alias is None:
            digest = hmac.new(self._key, name.encode(), hashlib.sha256).hexdigest()
            alias = f"user-{digest[:4]}"
            if len(self._names) < 65_536:
                self._names[name] = alias
        return alias

    def telemetry(self, payload: Telemetry) -> Telemetry:
        """The payload with every process's user masked (a copy; the input is not changed)."""
        if not any(p.user is not None for gpu in payload.gpus for p in gpu.processes):
            return payload
        return payload.model_copy(update={"gpus": [self._gpu(gpu) for gpu in payload.gpus]})

    def event(self, event: Event) -> Event:
        """The event with its user masked, in the field and in its sentences."""
        if event.user is None:
            return event
        alias = self.user(event.user)
        assert alias is not None
        name = re.compile(rf"(?<![\w.-]){re.escape(event.user)}(?![\w-])")
        return event.model_copy(
            update={
                "user": alias,
                "summary": name.sub(alias, event.summary),
                "action": name.sub(alias, event.action),
            }
        )

    def _gpu(self, gpu: GpuInfo) -> GpuInfo:
        if not gpu.processes:
            return gpu
        processes = [
            p if p.user is None else p.model_copy(update={"user": self.user(p.user)})
            for p in gpu.processes
        ]
        return gpu.model_copy(update={"processes": processes})
