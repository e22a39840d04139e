"""PromQL over HTTP: the Prometheus HTTP API's instant and range queries, and their failures.

Every failure becomes one ``PrometheusError`` whose ``reason`` says which, in one line
for people ("Prometheus did not answer within 3 s", "401 Unauthorized: check
FLEET_USERNAME/FLEET_PASSWORD_FILE", "TLS: certificate verify failed …", "connection
refused", "not a Prometheus API answer …"). A reason never holds a secret: it is built
here, and anything quoted from the server has the password and token scrubbed out.

Values are strings in the API ("0.5", "NaN", "+Inf", "-Inf"): the non-finite ones are
``None`` here, never numbers.
"""

from __future__ import annotations

import logging
import math
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pydantic_core

from gpulens.core.metrics.text import clean_reason

log = logging.getLogger("gpulens.fleet")

MAX_ANSWER_BYTES = 64 * 1024 * 1024  # 100 hosts x 8 GPUs is about 2 MB
# httpx logs every request at INFO: once per refresh would drown gpulens' own log.
logging.getLogger("httpx").setLevel(logging.WARNING)


class PrometheusError(Exception):
    """A query failed; ``reason`` says why, for people (no secrets)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Series:
    """One series of an answer: its labels and its points (Unix s, value or None)."""

    labels: dict[str, str]
    points: list[tuple[float, float | None]] = field(default_factory=list)

    @property
    def last(self) -> tuple[float, float | None] | None:
        return self.points[-1] if self.points else None


def number(raw: object) -> float | None:
    """A sample value as the API writes it ("1.5", "NaN", "+Inf"); None unless finite."""
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class Auth:
    """How to authenticate: basic (username + password) or a bearer token; neither is shown."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)

    @property
    def hint(self) -> str:
        if self.token is not None:
            return "check FLEET_BEARER_TOKEN_FILE"
        if self.username is not None:
            return "check FLEET_USERNAME/FLEET_PASSWORD_FILE"
        return (
            "Prometheus wants credentials: set FLEET_USERNAME/FLEET_PASSWORD_FILE or "
            "FLEET_BEARER_TOKEN_FILE"
        )

    def secrets(self) -> list[str]:
        return [s for s in (self.password, self.token) if s]


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """The system's trust store, or only the CA in ``ca_file``."""
    if ca_file is None:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=str(ca_file))


class PrometheusClient:
    """Instant and range queries against one Prometheus server; counts the queries it makes."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        auth: Auth | None = None,
        ca_file: Path | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.auth = auth or Auth()
        headers = {"Accept": "application/json"}
        basic: httpx.BasicAuth | None = None
        if self.auth.token is not None:
            headers["Authorization"] = f"Bearer {self.auth.token}"
        elif self.auth.username is not None:
            basic = httpx.BasicAuth(self.auth.username, self.auth.password or "")
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            auth=basic,
            headers=headers,
            verify=tls_context(ca_file),
            transport=transport,
            follow_redirects=False,
            trust_env=False,  # no proxy or .netrc from the environment: what is set is used
        )
        self.queries = 0

    async def aclose(self) -> None:
        await self._http.aclose()

    async def query(
        self, promql: str, at: float | None = None, *, last_only: bool = False
    ) -> list[Series]:
        """An instant query; a vector's samples come as one-point series, a matrix as is.

        ``last_only``: each series keeps only its newest point (its time and value), and
        the older points of a matrix are not parsed at all (the fleet reads ``last``).
        """
        params = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = await self._get("/api/v1/query", params)
        return _result(data, ("vector", "matrix"), last_only=last_only)

    async def query_range(self, promql: str, start: float, end: float, step: float) -> list[Series]:
        params = {
            "query": promql,
            "start": f"{start:.3f}",
            "end": f"{end:.3f}",
            "step": f"{step:g}",
        }
        data = await self._get("/api/v1/query_range", params)
        return _result(data, ("matrix",))

    async def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        self.queries += 1
        try:
            async with self._http.stream("GET", path, params=params) as response:
                body = await _read_capped(response)
        except PrometheusError:
            raise
        except httpx.TimeoutException:
            raise PrometheusError(f"Prometheus did not answer within {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise PrometheusError(self._scrub(_connect_reason(exc))) from None
        return self._answer(response, body)

    def _answer(self, response: httpx.Response, body: bytes) -> dict[str, Any]:
        code = response.status_code
        data = _json(body)
        if code == 401:
            raise PrometheusError(f"401 Unauthorized: {self.auth.hint}")
        if code == 403:
            raise PrometheusError(f"403 Forbidden: {self.auth.hint}")
        if code == 404:
            raise PrometheusError(
                "404 Not Found: not a Prometheus API at this URL (FLEET_PROMETHEUS_URL is the "
                "server's base URL, e.g. http://prometheus:9090)"
            )
        if 300 <= code < 400:
            where = response.headers.get("location", "")[:100]
            raise PrometheusError(
                self._scrub(f"HTTP {code}: redirected to {where!r}; give that URL instead")
            )
        if data is None or not isinstance(data.get("status"), str):
            kind = response.headers.get("content-type", "no content type").split(";")[0]
            raise PrometheusError(f"not a Prometheus API answer (HTTP {code}, {kind[:60]})")
        if data["status"] != "success":
            what = f"{data.get('errorType', 'error')}: {data.get('error', 'no reason given')}"
            raise PrometheusError(self._scrub(f"Prometheus error (HTTP {code}): {what}"))
        if code != 200:
            raise PrometheusError(f"HTTP {code} from Prometheus")
        return data

    def _scrub(self, text: str) -> str:
        for secret in self.auth.secrets():
            text = text.replace(secret, "***")
        return clean_reason(text)


async def _read_capped(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise PrometheusError(f"answer larger than {MAX_ANSWER_BYTES // 2**20} MiB")
        chunks.append(chunk)
    return b"".join(chunks)


def _json(body: bytes) -> dict[str, Any] | None:
    # pydantic-core's parser (jiter): a quarter faster than the json module on a fleet's
    # answer (1.2 MB for 100 hosts x 8 GPUs), the same objects.
    try:
        data = pydantic_core.from_json(body)
    except ValueError:  # not JSON, not UTF-8
        return None
    return data if isinstance(data, dict) else None


def _connect_reason(exc: httpx.HTTPError) -> str:
    """What went wrong below HTTP: refused, name not found, TLS, reset."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ssl.SSLCertVerificationError):
            detail = cause.verify_message or "certificate verify failed"
            return f"TLS: certificate verify failed ({detail}); check FLEET_CA_FILE"
        if isinstance(cause, ssl.SSLError):
            return f"TLS: {cause.reason or cause.strerror or 'handshake failed'}"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return "host not found (DNS)"
        if isinstance(cause, ConnectionResetError):
            return "connection reset"
        cause = cause.__cause__ or cause.__context__
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "TLS: certificate verify failed; check FLEET_CA_FILE"
    if "SSL" in text or "TLS" in text:
        return f"TLS: {text[:200]}"
    if "refused" in text.lower():
        return "connection refused"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"not a Prometheus API answer ({text[:120] or 'broken HTTP'})"
    return f"cannot reach Prometheus ({type(exc).__name__}: {text[:160]})"


_STRINGS = {str}


def _labels(metric: object) -> dict[str, str]:
    """A series' labels; JSON gives them as strings already, so they are used as they are."""
    if type(metric) is dict and set(map(type, metric.values())) <= _STRINGS:
        return metric  # JSON object keys are always strings
    if not metric:
        return {}
    return {str(k): str(v) for k, v in metric.items()}  # type: ignore[attr-defined]


def _result(
    data: dict[str, Any], kinds: tuple[str, ...], *, last_only: bool = False
) -> list[Series]:
    """The series of a successful answer; anything malformed is "not a Prometheus API answer".

    ``last_only``: only each series' newest point is read (a matrix's values are in time
    order), the others are neither parsed nor kept."""
    inner = data.get("data")
    if not isinstance(inner, dict) or inner.get("resultType") not in kinds:
        raise PrometheusError("not a Prometheus API answer (no vector or matrix in it)")
    rows = inner.get("result")
    if not isinstance(rows, list):
        raise PrometheusError("not a Prometheus API answer (no result list)")
    out: list[Series] = []
    try:
        for row in rows:
            labels = _labels(row.get("metric"))
            if "value" in row:
                t, v = row["value"]
                out.append(Series(labels, [(float(t), number(v))]))
            elif last_only:
                values = row["values"]
                if values:
                    t, v = values[-1]
                    out.append(Series(labels, [(float(t), number(v))]))
                else:
                    out.append(Series(labels, []))
            else:
                out.append(Series(labels, [(float(t), number(v)) for t, v in row["values"]]))
    except (AttributeError, KeyError, TypeError, ValueError):
        raise PrometheusError("not a Prometheus API answer (a malformed series)") from None
    return out
