"""``gpulens serve``: uvicorn with JSON logs and the app factory."""

from __future__ import annotations

import ipaddress
import logging
import os
from typing import Any

import uvicorn

from gpulens import logs
from gpulens.api.app import create_app
from gpulens.api.http import HeadDeadlineProtocol
from gpulens.config import Settings

log = logging.getLogger("gpulens")


def is_loopback(host: str) -> bool | None:
    """True for a loopback address or "localhost", False for any other IP, None for a name."""
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback  # ::ffff:127.0.0.1 (Python 3.11 says False)
    return address.is_loopback


def warn_about(settings: Settings) -> None:
    """Log what in ``settings`` exposes the dashboard or costs the GPU box."""
    if settings.below_recommended_interval:
        log.warning(
            "POLL_INTERVAL_MS=%d is under 1000 ms: each read costs CPU on the GPU box; "
            "use it for short investigations",
            settings.poll_interval_ms,
        )
    if is_loopback(settings.host) is False:
        log.warning("listening on %s: reachable from other machines", settings.host)
    if "*" in settings.allowed_origins:
        log.warning(
            "ALLOWED_ORIGINS contains '*': the WebSocket Origin check is off and any web page "
            "a visitor opens can read the GPU stream; list the dashboard's origins in "
            "ALLOWED_ORIGINS instead (e.g. https://gpu.example.com)"
        )


def warn_about_access(settings: Settings) -> None:
    """Log, once, that an address wider than loopback with open access shows everyone
    every GPU's processes and their users, and which settings close it."""
    if is_loopback(settings.host) is False and not settings.access_required:
        log.warning(
            "HOST=%s is reachable from other machines and access is open: anyone who can "
            "reach it sees every GPU job with its user and process names. Set "
            "ACCESS_TOKEN_FILE (a shared token), or TRUSTED_PROXIES (the address of a proxy "
            "that signs users in, e.g. nginx), or bind HOST=127.0.0.1 behind a proxy",
            settings.host,
        )


def run(settings: Settings, reload: bool = False) -> int:
    logs.configure(settings.log_level)
    warn_about(settings)
    warn_about_access(settings)
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": logs.log_config(settings.log_level),
        "ws_max_size": 4096,
        # Compressing each frame for each client cost ~60 % of the server's CPU at 1000
        # clients (one deflate context per connection); a frame is ~1-9 KiB, 4 a second.
        "ws_per_message_deflate": False,
        "ws_ping_interval": 20.0,
        "ws_ping_timeout": 20.0,
        # X-Forwarded-For/-Proto from FORWARDED_ALLOW_IPS are applied inside the app
        # (access.PeerMiddleware), which keeps the TCP peer for TRUSTED_PROXIES.
        "proxy_headers": False,
        "server_header": False,
        # h11 with a deadline and a size bound on request heads (gpulens.api.http).
        "http": HeadDeadlineProtocol,
    }
    if reload:
        # The reloader's child builds its settings from the environment alone
        # (app_from_env): hand it the command line's --provider/--host/--port.
        os.environ["TELEMETRY_PROVIDER"] = settings.telemetry_provider
        os.environ["HOST"] = settings.host
        os.environ["PORT"] = str(settings.port)
        uvicorn.run("gpulens.api.server:app_from_env", factory=True, reload=True, **common)
    else:
        uvicorn.run(create_app(settings), **common)
    return 0


def app_from_env() -> object:
    """Factory for ``--reload`` (uvicorn re-imports it in a child process)."""
    from gpulens.config import load_settings

    return create_app(load_settings())
