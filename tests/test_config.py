"""Settings from the environment: a bad value stops start-up, naming the variable; good ones
start."""

from __future__ import annotations

import pytest

from gpulens.config import ConfigError, load_settings


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("POLL_INTERVAL_MS", "abc", "250-60000 ms"),
        ("POLL_INTERVAL_MS", "10", "greater than or equal to 250"),
        ("POLL_INTERVAL_MS", "-5", "greater than or equal to 250"),
        ("WS_BACKLOG", "many", "0-1200"),
        ("TELEMETRY_PROVIDER", "gpu-z", "auto, nvml, nvidia-smi, nvtop or replay"),
        ("ALLOWED_ORIGINS", "evil.com", "is not an origin"),
        ("PORT", "70000", "1-65535"),
        ("DISK_PATH", "/no/such/dir", "is not a directory"),
        ("STATIC_DIR", "/nonexistent", "has no index.html"),
        ("ALLOWED_ORIGINS", "http://a.example/path", "no path"),
        ("ALLOWED_ORIGINS", "https://", "is not an origin"),
        ("FORWARDED_ALLOW_IPS", "garbage", "is not an IP address or network"),
        ("FORWARDED_ALLOW_IPS", "127.0.0.1,10.0.0.1/8", "is not an IP address or network"),
        ("HOST", "not_an_ip", "is not an IP address"),
        ("HOST", "gpu.example.com", "is not an IP address"),
        ("TEMP_HOT_C", "60", "must be below TEMP_HOT_C"),
    ],
)
def test_bad_environment_values_stop_start_up(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value.code)
    assert f"{name}={value!r}" in message
    assert expected in message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HOST", "0.0.0.0"),
        ("HOST", "::"),
        ("HOST", "localhost"),
        ("HOST", "[::1]"),
        ("FORWARDED_ALLOW_IPS", "*"),
        ("FORWARDED_ALLOW_IPS", "127.0.0.1, 10.0.0.0/8, ::1"),
        ("ALLOWED_ORIGINS", "https://gpu.example.com:8443,http://10.0.0.5/"),
    ],
)
def test_good_environment_values_start(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    load_settings()
