"""``gpulens serve``: what it hands uvicorn and what it warns about."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import uvicorn

from gpulens import cli, logs
from gpulens.api import server
from gpulens.api.http import HeadDeadlineProtocol
from gpulens.config import Settings, load_settings

# --- uvicorn.run's arguments --------------------------------------------------


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Record uvicorn.run instead of serving; keep this process's logging as it is."""
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.append((a, kw)))
    monkeypatch.setattr(logs, "configure", lambda level="INFO": None)
    # run() writes these for the reloader; monkeypatch puts back what was there.
    for name in ("TELEMETRY_PROVIDER", "HOST", "PORT"):
        monkeypatch.delenv(name, raising=False)
    return calls


def test_reload_keeps_the_command_line_overrides(
    uvicorn_calls: list[tuple[tuple[Any, ...], dict[str, Any]]],
) -> None:
    argv = ["serve", "--reload", "--provider", "replay", "--host", "::1", "--port", "5099"]
    assert cli.main(argv) == 0
    [(args, kwargs)] = uvicorn_calls
    assert args == ("gpulens.api.server:app_from_env",)
    assert kwargs["reload"] is True and kwargs["factory"] is True
    # What the reloader's child reads in app_from_env: the environment alone.
    child = load_settings()
    assert (child.telemetry_provider, child.host, child.port) == ("replay", "::1", 5099)


def test_serve_installs_the_head_bounds(
    uvicorn_calls: list[tuple[tuple[Any, ...], dict[str, Any]]],
) -> None:
    assert server.run(Settings(telemetry_provider="replay")) == 0
    [(_, kwargs)] = uvicorn_calls
    assert kwargs["http"] is HeadDeadlineProtocol


# --- start-up warnings ----------------------------------------------------------


@pytest.fixture
def warnings(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Any:
    # logs.configure() (run by other tests) stops "gpulens" from reaching caplog's handler.
    monkeypatch.setattr(logging.getLogger("gpulens"), "propagate", True)

    def collect(settings: Settings) -> list[str]:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="gpulens"):
            server.warn_about(settings)
        return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]

    return collect


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7", "2001:db8::1"])
def test_a_non_loopback_address_is_reported_as_reachable(warnings: Any, host: str) -> None:
    assert warnings(Settings(host=host)) == [f"listening on {host}: reachable from other machines"]


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1", "localhost", "LOCALHOST"]
)
def test_loopback_is_not_reported(warnings: Any, host: str) -> None:
    assert warnings(Settings(host=host)) == []


def test_a_name_that_is_not_an_address_is_not_called_reachable(warnings: Any) -> None:
    # config.py refuses such a HOST; the warning must not claim anything about it either way.
    assert server.is_loopback("not_an_ip") is None
    assert warnings(Settings.model_construct(host="not_an_ip")) == []


def test_any_origin_is_warned_about(warnings: Any) -> None:
    [message] = warnings(Settings(allowed_origins=["https://gpu.example.com", "*"]))
    assert "Origin check is off" in message
    assert "any web page" in message
    assert "ALLOWED_ORIGINS" in message


def test_listed_origins_are_not_warned_about(warnings: Any) -> None:
    assert warnings(Settings(allowed_origins=["https://gpu.example.com"])) == []
