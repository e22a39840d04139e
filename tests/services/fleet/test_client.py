"""The Prometheus client against a fake Prometheus: answers parsed, each failure one clear
reason, credentials sent and never shown."""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpulens.services.fleet.client import (
    Auth,
    PrometheusClient,
    PrometheusError,
    Series,
    _result,
    number,
)
from tests.services.fleet.fakeprom import FakePrometheus, Target, dcgm_metrics, self_signed, serve

SECRET = "s3cret-Pa55"
TOKEN = "tok-9f8e7d6c"


@pytest.fixture
def prom() -> Iterator[FakePrometheus]:
    fake = FakePrometheus()
    fake.targets = [Target("box-1:9400", job="dcgm", series=dcgm_metrics("box-1"))]
    with serve(fake) as running:
        yield running


def ask(client: PrometheusClient, promql: str = "up[45s]") -> object:
    async def go() -> object:
        try:
            return await client.query(promql)
        finally:
            await client.aclose()

    return asyncio.run(go())


def reason_of(client: PrometheusClient, promql: str = "up[45s]") -> str:
    with pytest.raises(PrometheusError) as caught:
        ask(client, promql)
    return caught.value.reason


@pytest.mark.parametrize(
    ("raw", "value"),
    [("1.5", 1.5), ("0", 0.0), ("NaN", None), ("+Inf", None), ("-Inf", None), ("x", None)],
)
def test_values_are_strings_and_non_finite_ones_are_none(raw: str, value: float | None) -> None:
    assert number(raw) == value


def test_a_matrix_answer_becomes_series_with_labels_and_points(prom: FakePrometheus) -> None:
    client = PrometheusClient(prom.url, timeout=3)
    series = ask(client, '{__name__=~"DCGM_FI_DEV_GPU_UTIL"}[45s]')
    assert isinstance(series, list) and len(series) == 2
    first = series[0]
    assert first.labels["instance"] == "box-1:9400" and first.labels["Hostname"] == "box-1"
    assert first.last is not None and first.last[1] == 80.0


def test_last_only_keeps_each_series_newest_point_with_its_time(prom: FakePrometheus) -> None:
    promql = '{__name__=~"DCGM_FI_DEV_GPU_UTIL"}[45s]'
    client = PrometheusClient(prom.url, timeout=3)

    async def go() -> tuple[list[Series], list[Series]]:
        try:
            full = await client.query(promql, at=1_800_000_000.0)
            return full, await client.query(promql, at=1_800_000_000.0, last_only=True)
        finally:
            await client.aclose()

    full, last = asyncio.run(go())
    assert len(last) == len(full) == 2
    assert all(len(s.points) == 2 for s in full)  # the fake's matrix: two points each
    assert [s.labels for s in last] == [s.labels for s in full]
    assert [s.points for s in last] == [[s.points[-1]] for s in full]  # time and value
    assert last[0].last == (1_800_000_000.0 - 5, 80.0)


def test_connection_refused() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = PrometheusClient(f"http://127.0.0.1:{port}", timeout=3)
    assert reason_of(client) == "connection refused"


def test_a_slow_prometheus_times_out(prom: FakePrometheus) -> None:
    prom.delay_s = 1.5
    client = PrometheusClient(prom.url, timeout=0.5)
    assert reason_of(client) == "Prometheus did not answer within 0.5 s"


@pytest.mark.parametrize(
    ("fail", "expected"),
    [
        ("500", "not a Prometheus API answer (HTTP 500, text/plain)"),
        ("error", "Prometheus error (HTTP 422): execution: query timed out"),
        ("html", "not a Prometheus API answer (HTTP 200, text/html)"),
        ("garbage", "not a Prometheus API answer (no vector or matrix in it)"),
    ],
)
def test_errors_and_wrong_answers_say_which(prom: FakePrometheus, fail: str, expected: str) -> None:
    prom.fail = fail
    assert reason_of(PrometheusClient(prom.url, timeout=3)) == expected


def test_a_wrong_url_is_a_404_that_says_so(prom: FakePrometheus) -> None:
    client = PrometheusClient(prom.url + "/grafana", timeout=3)
    reason = reason_of(client)
    assert reason.startswith("404 Not Found: not a Prometheus API at this URL")
    assert "FLEET_PROMETHEUS_URL" in reason


def test_basic_auth_is_sent_and_wrong_credentials_are_named(prom: FakePrometheus) -> None:
    good = base64.b64encode(f"gpulens:{SECRET}".encode()).decode()
    prom.want_auth = f"Basic {good}"
    right = PrometheusClient(prom.url, timeout=3, auth=Auth("gpulens", SECRET))
    assert isinstance(ask(right), list)
    wrong = PrometheusClient(prom.url, timeout=3, auth=Auth("gpulens", "nope"))
    reason = reason_of(wrong)
    assert reason == "401 Unauthorized: check FLEET_USERNAME/FLEET_PASSWORD_FILE"
    none = PrometheusClient(prom.url, timeout=3)
    assert reason_of(none).startswith("401 Unauthorized: Prometheus wants credentials")


def test_a_bearer_token_is_sent(prom: FakePrometheus) -> None:
    prom.want_auth = f"Bearer {TOKEN}"
    assert isinstance(ask(PrometheusClient(prom.url, timeout=3, auth=Auth(token=TOKEN))), list)
    wrong = PrometheusClient(prom.url, timeout=3, auth=Auth(token="other"))
    assert reason_of(wrong) == "401 Unauthorized: check FLEET_BEARER_TOKEN_FILE"


def test_secrets_are_in_no_reason_repr_or_log(
    prom: FakePrometheus, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    prom.want_auth = "Basic nothing-matches"
    for auth in (Auth("gpulens", SECRET), Auth(token=TOKEN)):
        client = PrometheusClient(prom.url, timeout=3, auth=auth)
        reason = reason_of(client)
        assert SECRET not in reason and TOKEN not in reason
        assert SECRET not in repr(auth) and TOKEN not in repr(auth)
    assert SECRET not in caplog.text and TOKEN not in caplog.text


def test_a_secret_quoted_back_by_the_server_is_scrubbed(prom: FakePrometheus) -> None:
    client = PrometheusClient(prom.url, timeout=3, auth=Auth(token=TOKEN))
    assert TOKEN not in client._scrub(f"bad token {TOKEN}")


def test_tls_with_the_wrong_ca_fails_naming_tls_and_the_right_ca_works(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path, "prometheus")
    other, _ = self_signed(tmp_path, "someone-else")
    fake = FakePrometheus()
    with serve(fake, tls=(cert, key)):
        system = PrometheusClient(fake.url, timeout=3)  # the system's CAs do not know it
        assert reason_of(system).startswith("TLS: certificate verify failed")
        wrong = PrometheusClient(fake.url, timeout=3, ca_file=other)
        reason = reason_of(wrong)
        assert reason.startswith("TLS: certificate verify failed") and "FLEET_CA_FILE" in reason
        right = PrometheusClient(fake.url, timeout=3, ca_file=cert)
        assert ask(right) == []


def test_http_to_a_tls_port_is_not_a_prometheus_answer(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    fake = FakePrometheus()
    with serve(fake, tls=(cert, key)):
        plain = PrometheusClient(fake.url.replace("https://", "http://"), timeout=3)
        reason = reason_of(plain)
        assert reason  # one line, whichever the server's TLS stack answers
        assert "\n" not in reason


def test_queries_are_counted(prom: FakePrometheus) -> None:
    client = PrometheusClient(prom.url, timeout=3)

    async def go() -> None:
        await client.query("up[45s]")
        await client.query_range("DCGM_FI_DEV_GPU_UTIL", 0, 60, 30)
        await client.aclose()

    asyncio.run(go())
    assert client.queries == 2 == len(prom.requests)


def test_label_values_that_are_not_strings_become_strings() -> None:
    answer = {"data": {"resultType": "vector", "result": [
        {"metric": {"gpu": 0, "job": "dcgm"}, "value": [1.5, "2"]},
        {"value": [1.5, "NaN"]},
    ]}}  # fmt: skip
    series = _result(answer, ("vector",))
    assert [s.labels for s in series] == [{"gpu": "0", "job": "dcgm"}, {}]
    assert [s.last for s in series] == [(1.5, 2.0), (1.5, None)]
