"""Configuration from the environment or a ``.env`` file, validated at start-up.

A bad value stops start-up with a message that names the variable, the
value and what is allowed; it is never silently replaced.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ProviderName = Literal["auto", "nvml", "nvidia-smi", "nvtop", "replay"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
CommaList = Annotated[list[str], NoDecode]

MIN_POLL_INTERVAL_MS = 250
RECOMMENDED_POLL_INTERVAL_MS = 1000

ACCESS_TOKEN_MIN = 16
ACCESS_TOKEN_MAX = 512
# Settings whose value an error message must never repeat.
SECRET_SETTINGS = frozenset({"ACCESS_TOKEN"})
TOKEN_RULE = (
    f"{ACCESS_TOKEN_MIN}-{ACCESS_TOKEN_MAX} printable ASCII characters without spaces "
    "(e.g. `openssl rand -base64 32`)"
)


def token_shape_ok(token: str) -> bool:
    """16-512 characters, each printable ASCII other than space (0x21-0x7E)."""
    return ACCESS_TOKEN_MIN <= len(token) <= ACCESS_TOKEN_MAX and all(
        "!" <= ch <= "~" for ch in token
    )


def read_token_file(path: Path) -> str:
    """The access token in ``path``: readable, not world-accessible, one token (a single
    trailing newline, as ``echo`` writes, is not part of it). ``ValueError`` names the file,
    never the content."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path} cannot be read ({exc.strerror or type(exc).__name__})") from None
    if mode & 0o006:
        raise ValueError(
            f"{path} can be read or written by every user on this machine: "
            f"chmod 600 {path} (or 640 with the gpulens group)"
        )
    if data.endswith(b"\r\n"):
        data = data[:-2]
    elif data.endswith(b"\n"):
        data = data[:-1]
    if not data:
        raise ValueError(f"{path} is empty: write the token into it ({TOKEN_RULE})")
    try:
        token = data.decode("ascii")
    except UnicodeDecodeError:
        token = ""
    if not token_shape_ok(token):
        raise ValueError(f"{path} does not hold a usable token: it must be {TOKEN_RULE}")
    return token


def parse_networks(value: list[str]) -> list[str]:
    """Each entry an IP address or network (v4 or v6); ``ValueError`` names the bad one."""
    for item in value:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(
                f"{item!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/8)"
            ) from None
    return value


class ConfigError(SystemExit):
    """Raised (and printed) when the environment holds an invalid value."""


class Settings(BaseSettings):
    """Every setting gpulens reads. Names are the environment variables, upper-cased."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
    )

    telemetry_provider: ProviderName = Field(
        "auto", description="GPU source: auto, nvml, nvidia-smi, nvtop or replay."
    )
    poll_interval_ms: int = Field(
        1000, ge=MIN_POLL_INTERVAL_MS, le=60_000, description="Sampling period, 250-60000 ms."
    )
    ws_backlog: int = Field(
        120, ge=0, le=1200, description="Past samples sent to a new client, 0-1200."
    )
    log_level: LogLevel = Field("INFO", description="DEBUG, INFO, WARNING, ERROR or CRITICAL.")

    host: str = Field(
        "127.0.0.1",
        min_length=1,
        description="Address to bind: an IP address (127.0.0.1, 0.0.0.0, ::) or localhost.",
    )
    port: int = Field(5000, ge=1, le=65535, description="TCP port, 1-65535.")
    allowed_origins: CommaList = Field(
        default_factory=list,
        description="Extra browser origins allowed on /ws/gpu, comma-separated "
        "(scheme://host[:port]); the page's own origin is always allowed.",
    )
    allowed_hosts: CommaList = Field(
        default_factory=list,
        description="Extra Host header names accepted (besides localhost, 127.0.0.1, ::1 "
        "and HOST); '*' accepts any.",
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        min_length=1,
        description="Proxies whose X-Forwarded-For/-Proto are trusted: IP addresses or networks "
        "(10.0.0.0/8), comma-separated, or '*' for any.",
    )
    dev_mode: bool = Field(False, description="Also allow the Vite dev server's origin.")
    dev_origin: str = Field("http://localhost:3000", description="The dev server's origin.")

    ws_max_clients: int = Field(
        256, ge=1, le=100_000, description="Concurrent WebSocket clients, 1-100000."
    )
    ws_queue_size: int = Field(8, ge=1, le=1024, description="Frames queued per client, 1-1024.")
    ws_send_timeout_ms: int = Field(
        5000, ge=100, le=120_000, description="Longest wait for one send, 100-120000 ms."
    )
    ws_max_lag_drops: int = Field(
        40, ge=1, le=100_000,
        description="Frames a client may lose in a row before it is closed, 1-100000.",
    )  # fmt: skip
    ws_max_rate: float = Field(
        5.0, gt=0, le=50, description="Most messages per second to one client, up to 50."
    )
    heartbeat_interval_ms: int = Field(
        5000, ge=500, le=60_000, description="Application heartbeat period, 500-60000 ms."
    )
    temp_warn_c: int = Field(
        70, ge=20, le=120, description="GPU temperature the page shows as warm, 20-120 °C."
    )
    temp_hot_c: int = Field(
        85,
        ge=20,
        le=120,
        description="GPU temperature the page shows as hot, 20-120 °C (a GPU that reports "
        "its own slowdown temperature is hot from there).",
    )
    busy_utilization_pct: int = Field(
        10, ge=1, le=100, description="Utilization from which a GPU counts as busy, 1-100 %."
    )
    sample_timeout_ms: int = Field(
        3000, ge=100, le=60_000, description="Longest wait for one GPU read, 100-60000 ms."
    )

    nvidia_smi_path: str | None = Field(None, description="nvidia-smi binary (default: PATH).")
    nvtop_path: str | None = Field(None, description="nvtop binary (default: PATH).")
    replay_file: Path | None = Field(
        None, description="Recording for the replay provider (default: the shipped demo)."
    )
    static_dir: Path | None = Field(
        None,
        description="Built dashboard to serve at /: a directory holding index.html "
        "(default: the bundled copy, else frontend/dist).",
    )
    disk_path: str = Field("/", description="File system whose use is reported as disk.")
    metrics_enabled: bool = Field(True, description="Serve Prometheus metrics at /metrics.")
    metrics_hostname: str | None = Field(
        None, description="Value of the Hostname label on /metrics (default: this host's name)."
    )
    history: bool = Field(
        True, description="Keep every sample's history on disk for /api/history: on or off."
    )
    history_path: Path | None = Field(
        None,
        description="The history file (SQLite). Default: $STATE_DIRECTORY/history.db under "
        "systemd, else $XDG_STATE_HOME/gpulens/history.db (~/.local/state/gpulens); with "
        "replay, a throw-away file.",
    )
    history_max_mb: int = Field(
        1024, ge=16, le=1_048_576,
        description="Size cap of the history file, 16-1048576 MB (the oldest detail goes first).",
    )  # fmt: skip

    findings: bool = Field(
        True, description="Detect findings (idle holders, throttling, errors...) and events."
    )
    idle_holding_gib: float = Field(
        1.0, ge=0.01, le=4096,
        description="GPU memory a process must hold to count as idle-but-holding, 0.01-4096 GiB.",
    )  # fmt: skip
    idle_holding_s: int = Field(
        600, ge=1, le=7 * 86_400,
        description="How long a process holds memory at 0 % SM before it is reported, "
        "1-604800 s.",
    )  # fmt: skip
    unowned_memory_gib: float = Field(
        1.0, ge=0.01, le=4096,
        description="GPU memory used beyond the listed processes' that is reported, "
        "0.01-4096 GiB.",
    )  # fmt: skip
    unowned_memory_s: int = Field(
        120, ge=1, le=7 * 86_400,
        description="How long memory stays unowned before it is reported, 1-604800 s.",
    )  # fmt: skip
    dead_holder_s: int = Field(
        10, ge=1, le=86_400,
        description="How long a listed process must be missing from /proc before it is "
        "reported as a dead holder, 1-86400 s.",
    )  # fmt: skip
    throttling_s: int = Field(
        10, ge=1, le=86_400,
        description="How long a thermal or power slowdown must last before it is reported, "
        "1-86400 s.",
    )  # fmt: skip
    hot_margin_c: int = Field(
        5, ge=1, le=30,
        description="A GPU within this many °C of its own slowdown temperature is hot, 1-30.",
    )  # fmt: skip
    finding_clear_s: int = Field(
        60, ge=0, le=86_400,
        description="How long a finding's condition must stay false before it ends "
        "(hysteresis, so a value around its threshold does not flap), 0-86400 s.",
    )  # fmt: skip
    xid_events: bool = Field(
        True, description="Watch the driver's XID error events (NVML, a thread of its own)."
    )
    container_names: Literal["off", "docker", "podman"] = Field(
        "off",
        description="Show container names read from the engine's API: off, docker or podman. "
        "Reading that socket is effectively root access; off shows the short id only.",
    )
    container_socket: Path | None = Field(
        None,
        description="The engine's API socket (default: /var/run/docker.sock for docker, "
        "/run/podman/podman.sock for podman).",
    )
    hide_users: bool = Field(
        False,
        description="Replace user names on the page and in its APIs with pseudonyms "
        "(user-1a2b), for shared screens.",
    )

    access_token: SecretStr | None = Field(
        None,
        description="Shared access token required on every HTTP route and the WebSocket, "
        f"{ACCESS_TOKEN_MIN}-{ACCESS_TOKEN_MAX} printable ASCII characters; prefer "
        "ACCESS_TOKEN_FILE (an environment is easier to leak than a file).",
    )
    access_token_file: Path | None = Field(
        None,
        description="File holding the access token (one line; not readable by every user: "
        "chmod 600), read at start-up. Not together with ACCESS_TOKEN.",
    )
    trusted_proxies: CommaList = Field(
        default_factory=list,
        description="Proxies (IP addresses or networks, comma-separated) whose requests may "
        "name the signed-in user in PROXY_USER_HEADER and the client in X-Forwarded-For; "
        "setting it makes access required.",
    )
    proxy_user_header: str = Field(
        "X-Forwarded-User",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$",
        description="Header in which a trusted proxy names the signed-in user.",
    )
    metrics_allow_from: CommaList = Field(
        default_factory=list,
        description="Addresses or networks (comma-separated) that may read /metrics and the "
        "full /api/health without credentials, e.g. the Prometheus server.",
    )

    fleet_prometheus_url: str | None = Field(
        None,
        description="Prometheus server the Fleet view queries (http:// or https://, e.g. "
        "http://prometheus:9090); unset: fleet mode off.",
    )
    fleet_refresh_s: float = Field(
        5, ge=1, le=300, description="Seconds between fleet refreshes, 1-300."
    )
    fleet_timeout_s: float = Field(
        3, ge=0.5, le=60, description="Longest wait for one Prometheus query, 0.5-60 s."
    )
    fleet_stale_s: float = Field(
        45, ge=1, le=86_400,
        description="A target with no sample newer than this is stale, 1-86400 s "
        "(about 3 scrape intervals).",
    )  # fmt: skip
    fleet_username: str | None = Field(
        None, description="User name for basic auth to Prometheus (with FLEET_PASSWORD_FILE)."
    )
    fleet_password_file: Path | None = Field(
        None, description="File holding the basic-auth password, read at start-up."
    )
    fleet_bearer_token_file: Path | None = Field(
        None, description="File holding a bearer token for Prometheus, read at start-up."
    )
    fleet_ca_file: Path | None = Field(
        None, description="PEM file of the CA that signed Prometheus' certificate (https)."
    )
    fleet_link_label: str = Field(
        "gpulens_url",
        pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$",
        description="Target label holding a host's gpulens page URL (set in the scrape "
        "configuration); a Prometheus label name.",
    )

    @field_validator(
        "allowed_origins", "allowed_hosts", "trusted_proxies", "metrics_allow_from", mode="before"
    )
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin == "*":
                continue
            parts = urlsplit(origin.rstrip("/"))
            if (
                parts.scheme not in ("http", "https")
                or not parts.hostname
                or parts.path
                or parts.query
                or parts.fragment
                or parts.username is not None
            ):
                raise ValueError(
                    f"{origin!r} is not an origin like https://gpu.example.com[:port] "
                    "(scheme, host and port only, no path)"
                )
        return [o.rstrip("/") for o in value]

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if value.lower() == "localhost":
            return value
        try:
            ipaddress.ip_address(value.strip("[]"))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address") from None
        return value.strip("[]")

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxies(cls, value: str) -> str:
        for item in (part.strip() for part in value.split(",")):
            if item == "*":
                continue
            try:  # as uvicorn reads it: anything else would silently trust nobody
                ipaddress.ip_network(item) if "/" in item else ipaddress.ip_address(item)
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an IP address or network (e.g. 10.0.0.0/8)"
                ) from None
        return value

    @field_validator("trusted_proxies", "metrics_allow_from")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return parse_networks(value)

    @field_validator("access_token")
    @classmethod
    def _access_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not token_shape_ok(value.get_secret_value()):
            raise ValueError(f"the token must be {TOKEN_RULE}")  # never the value itself
        return value

    @field_validator("access_token_file")
    @classmethod
    def _access_token_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None or str(value) == "":
            return None
        if info.data.get("access_token") is not None:
            raise ValueError("give either ACCESS_TOKEN or ACCESS_TOKEN_FILE, not both")
        read_token_file(value)
        return value

    @field_validator("static_dir")
    @classmethod
    def _static_dir(cls, value: Path | None) -> Path | None:
        if value is not None and not (value / "index.html").is_file():
            raise ValueError(f"'{value}' has no index.html (build the dashboard first)")
        return value

    @field_validator("history_path")
    @classmethod
    def _history_path(cls, value: Path | None) -> Path | None:
        if value is not None and value.is_dir():
            raise ValueError(f"'{value}' is a directory; give the file, e.g. {value}/history.db")
        return value

    @field_validator("disk_path")
    @classmethod
    def _disk_path(cls, value: str) -> str:
        if not Path(value).is_dir():
            raise ValueError(f"{value!r} is not a directory")
        return value

    @field_validator("fleet_prometheus_url")
    @classmethod
    def _fleet_url(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("not an http:// or https:// URL with a host")
        if parts.username is not None or parts.password is not None:
            raise ValueError(
                "credentials do not belong in the URL: use FLEET_USERNAME and FLEET_PASSWORD_FILE"
            )
        if parts.query or parts.fragment:
            raise ValueError("give the server's base URL, without ? or #")
        return value.strip().rstrip("/")

    @field_validator("fleet_password_file", "fleet_bearer_token_file", "fleet_ca_file")
    @classmethod
    def _fleet_file(cls, value: Path | None) -> Path | None:
        """The file is there, readable and not empty (its content is read by fleet_secrets)."""
        if value is None or str(value) == "":
            return None
        try:
            data = value.read_bytes()
        except OSError as exc:
            raise ValueError(f"cannot be read ({exc.strerror or type(exc).__name__})") from None
        if not data.strip():
            raise ValueError("is empty")
        return value

    @field_validator("fleet_ca_file")
    @classmethod
    def _fleet_ca(cls, value: Path | None) -> Path | None:
        if value is not None:
            try:
                ssl.create_default_context(cafile=str(value))
            except (ssl.SSLError, OSError, ValueError):
                raise ValueError("holds no PEM certificate") from None
        return value

    @field_validator("fleet_bearer_token_file")
    @classmethod
    def _one_auth(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None and info.data.get("fleet_username"):
            raise ValueError("give either FLEET_USERNAME/FLEET_PASSWORD_FILE or a bearer token")
        return value

    @field_validator("fleet_password_file")
    @classmethod
    def _password_needs_user(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None and info.data.get("fleet_username"):
            raise ValueError("FLEET_USERNAME is set: give the password's file too")
        if value is not None and not info.data.get("fleet_username"):
            raise ValueError("give FLEET_USERNAME too")
        return value

    @field_validator("temp_hot_c")
    @classmethod
    def _hot_above_warn(cls, value: int, info: ValidationInfo) -> int:
        warn = info.data.get("temp_warn_c")
        if warn is not None and warn >= value:
            raise ValueError(f"TEMP_WARN_C ({warn}) must be below TEMP_HOT_C ({value})")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    def history_file(self) -> Path:
        """HISTORY_PATH, else the state directory systemd gives (StateDirectory=), else
        the user's XDG state directory."""
        if self.history_path is not None:
            return self.history_path
        state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
        if state:
            return Path(state) / "history.db"
        xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        return Path(xdg) / "gpulens" / "history.db"

    def fleet_secret(self, which: Literal["password", "token"]) -> str | None:
        """The password or bearer token, read from its file (validated at start-up)."""
        path = self.fleet_password_file if which == "password" else self.fleet_bearer_token_file
        if path is None:
            return None
        return path.read_text(encoding="utf-8").strip()

    def access_secret(self) -> str | None:
        """The access token (ACCESS_TOKEN, or ACCESS_TOKEN_FILE read now), or None."""
        if self.access_token is not None:
            return self.access_token.get_secret_value()
        if self.access_token_file is not None:
            return read_token_file(self.access_token_file)
        return None

    @property
    def access_required(self) -> bool:
        """A token or a trusted proxy is configured: every route but the page's shell needs
        credentials. Otherwise access is open (as before the setting existed)."""
        return (
            self.access_token is not None
            or self.access_token_file is not None
            or bool(self.trusted_proxies)
        )

    @property
    def poll_interval(self) -> float:
        return self.poll_interval_ms / 1000

    @property
    def below_recommended_interval(self) -> bool:
        return self.poll_interval_ms < RECOMMENDED_POLL_INTERVAL_MS


def describe_errors(error: ValidationError) -> str:
    """One line per bad variable: name, value given, what is allowed."""
    lines = ["gpulens: invalid configuration"]
    for item in error.errors():
        name = str(item["loc"][0]).upper() if item["loc"] else "?"
        field = Settings.model_fields.get(name.lower())
        allowed = field.description if field is not None and field.description else ""
        given = os.environ.get(name, item.get("input"))
        if name in SECRET_SETTINGS:
            given = "(hidden)"
        lines.append(f"  {name}={given!r}: {item['msg']}. Allowed: {allowed}")
    return "\n".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Read the environment; raise ``ConfigError`` (a clean exit) on a bad value."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc)) from None
