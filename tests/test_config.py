"""Settings from the environment: a bad value stops start-up, naming the variable; good ones
start."""

from __future__ import annotations

from pathlib import Path

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


# --- access control (issue 17) ------------------------------------------------------------

TOKEN = "Correct-Horse-Battery-Staple-0042"


def token_file(tmp_path: Path, content: bytes, mode: int = 0o600) -> Path:
    path = tmp_path / "access-token"
    path.write_bytes(content)
    path.chmod(mode)
    return path


def config_error(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    return str(info.value.code)


@pytest.mark.parametrize(
    ("content", "mode", "expected"),
    [
        (b"", 0o600, "is empty"),
        (b"\n", 0o600, "is empty"),
        (TOKEN.encode() + b"\n", 0o644, "chmod 600"),
        (TOKEN.encode() + b"\n", 0o604, "chmod 600"),
        (TOKEN.encode() + b"\n", 0o602, "chmod 600"),
        (b"short\n", 0o600, "16-512 printable ASCII"),
        (b"two words are not one token\n", 0o600, "16-512 printable ASCII"),
        (TOKEN.encode() + b"\n\n", 0o600, "16-512 printable ASCII"),
        ("Correct-Horse-Battery-Stäple".encode(), 0o600, "16-512 printable ASCII"),
    ],
    ids=[
        "empty", "a newline only", "world-readable", "world-readable (o+r only)",
        "world-writable", "too short", "with spaces", "two lines", "non-ASCII",
    ],
)  # fmt: skip
def test_a_bad_token_file_stops_start_up_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: bytes, mode: int, expected: str
) -> None:
    path = token_file(tmp_path, content, mode)
    message = config_error(monkeypatch, ACCESS_TOKEN_FILE=str(path))
    assert f"ACCESS_TOKEN_FILE='{path}'" in message
    assert expected in message
    if expected == "chmod 600":
        assert f"chmod 600 {path}" in message
    secret = content.decode("utf-8").strip()
    assert len(secret) < 8 or secret not in message  # the file's content is never shown


def test_a_missing_or_unreadable_token_file_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for path in (tmp_path / "nowhere", tmp_path):  # missing; a directory cannot be read
        message = config_error(monkeypatch, ACCESS_TOKEN_FILE=str(path))
        assert f"{path} cannot be read" in message
        assert "ACCESS_TOKEN_FILE" in message


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o640, 0o440])
def test_a_private_or_group_readable_token_file_starts(
    tmp_path: Path, mode: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    for content in (TOKEN.encode(), TOKEN.encode() + b"\n", TOKEN.encode() + b"\r\n"):
        monkeypatch.setenv("ACCESS_TOKEN_FILE", str(token_file(tmp_path, content, mode)))
        settings = load_settings()
        assert settings.access_required
        assert settings.access_secret() == TOKEN


def test_both_token_settings_stop_start_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = token_file(tmp_path, TOKEN.encode())
    message = config_error(monkeypatch, ACCESS_TOKEN=TOKEN, ACCESS_TOKEN_FILE=str(path))
    assert "either ACCESS_TOKEN or ACCESS_TOKEN_FILE, not both" in message
    assert TOKEN not in message


@pytest.mark.parametrize(
    "value",
    ["", "short-token", "has a space in the middle", "x" * 513, "Correct-Horse-Battery-Stäple"],
    ids=["empty", "too short", "spaces", "too long", "non-ASCII"],
)
def test_a_bad_access_token_is_refused_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    message = config_error(monkeypatch, ACCESS_TOKEN=value)
    assert "ACCESS_TOKEN='(hidden)'" in message
    assert "16-512 printable ASCII characters without spaces" in message
    if value:
        assert value not in message


@pytest.mark.parametrize(
    ("name", "value", "bad"),
    [
        ("TRUSTED_PROXIES", "127.0.0.1,nginx.local", "nginx.local"),
        ("TRUSTED_PROXIES", "10.0.0.0/33", "10.0.0.0/33"),
        ("TRUSTED_PROXIES", "*", "*"),
        ("METRICS_ALLOW_FROM", "10.0.0.5, prometheus", "prometheus"),
        ("METRICS_ALLOW_FROM", "::1/200", "::1/200"),
    ],
)
def test_a_bad_address_list_names_the_entry(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, bad: str
) -> None:
    message = config_error(monkeypatch, **{name: value})
    assert f"{name}={value!r}" in message
    assert f"{bad!r} is not an IP address or network" in message


def test_a_bad_proxy_user_header_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    message = config_error(monkeypatch, PROXY_USER_HEADER="X-User: admin")
    assert "PROXY_USER_HEADER='X-User: admin'" in message


def test_access_is_required_by_a_token_or_a_proxy_only(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not load_settings().access_required
    assert not load_settings(metrics_allow_from="10.0.0.5").access_required
    monkeypatch.setenv("TRUSTED_PROXIES", "127.0.0.1, ::1, 10.0.0.0/8")
    settings = load_settings()
    assert settings.access_required and settings.access_secret() is None
    assert settings.trusted_proxies == ["127.0.0.1", "::1", "10.0.0.0/8"]
    monkeypatch.delenv("TRUSTED_PROXIES")
    monkeypatch.setenv("ACCESS_TOKEN", TOKEN)
    settings = load_settings()
    assert settings.access_required and TOKEN not in repr(settings)
