"""deploy/prometheus/alerts.yml: promtool checks it and runs its unit tests; every
hardware event kind has an alert; the rules query what ``/metrics`` really exports.

promtool comes with Debian's ``prometheus`` package (``make test-py`` installs it
through scripts/system-packages.sh). Missing, it is installed here when that can
run unattended (root, or CI); on CI a missing promtool fails, never skips.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from gpulens.api.metrics import (
    EVENT_LABELS,
    XID_LABELS,
    GpulensCollector,
    SampleMetrics,
    render,
)
from gpulens.core.metrics.providers.base import XidEvent
from gpulens.services.findings.model import EVENT_KINDS, SEVERITIES, Event, EventKind
from gpulens.services.findings.rules import XIDS
from gpulens.services.websocket import Hub

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "alerts.test.yml"

# Event kinds that are no problem to alert on, each with why. A new kind in
# model.EVENT_KINDS must get an alert in alerts.yml or a line here.
NOT_ALERTED: dict[str, str] = {
    "gpuAdded": "a GPU that appears (or comes back) is good news; its loss is alerted",
}
# Kinds whose rule reads its own counter rather than kind="..." of the shared ones.
OWN_METRIC = {"xid": "gpulens_xid_errors_total"}
# What the rules may query besides gpulens' families: Prometheus' own target health.
PROMETHEUS_SERIES = {"up"}
# The per-GPU families (labels gpu, UUID, Hostname), and a selector of the two shared by kinds.
GPU_SERIES = re.compile(r"gpulens_(events_total|xid_errors_total|findings_active)\b")
BY_KIND = re.compile(r"gpulens_(?:events_total|findings_active)\{([^}]*)\}")


def find_promtool() -> str:
    found = shutil.which("promtool")
    if found is not None:
        return found
    ci = os.environ.get("CI") == "true"
    if ci or os.geteuid() == 0:  # apt-get can run without asking anyone for a password
        subprocess.run(
            [str(ROOT / "scripts" / "system-packages.sh"), "promtool"],
            stdin=subprocess.DEVNULL,
            timeout=600,
            check=False,
        )
        found = shutil.which("promtool")
        if found is not None:
            return found
    why = "promtool is needed: scripts/system-packages.sh promtool (Debian's prometheus)"
    if ci:
        pytest.fail(why, pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="module")
def promtool() -> str:
    return find_promtool()


def run(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *args], capture_output=True, text=True, timeout=120, cwd=RULES.parent
    )


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def rules() -> list[dict[str, Any]]:
    groups = load(RULES)["groups"]
    return [rule for group in groups for rule in group["rules"]]


def alerts() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for rule in rules() if "alert" in rule}


# -- promtool ------------------------------------------------------------------


def test_promtool_check_rules(promtool: str) -> None:
    result = run(promtool, "check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_promtool_test_rules(promtool: str) -> None:
    result = run(promtool, "test", "rules", RULE_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


# -- what the rules cover --------------------------------------------------------


def kinds_alerted() -> dict[str, list[str]]:
    """Event kind -> the alerts that fire on it (by the rule's ``kind`` label)."""
    out: dict[str, list[str]] = {}
    for name, rule in alerts().items():
        kind = rule.get("labels", {}).get("kind")
        if kind is not None:
            out.setdefault(kind, []).append(name)
    return out


def test_every_problem_event_kind_has_an_alert() -> None:
    alerted = kinds_alerted()
    assert set(NOT_ALERTED) <= set(EVENT_KINDS), "NOT_ALERTED names a kind that is gone"
    missing = [k for k in EVENT_KINDS if k not in alerted and k not in NOT_ALERTED]
    assert missing == [], f"event kinds with no alert in {RULES.name}: {missing}"
    assert not set(NOT_ALERTED) & set(alerted)
    assert set(alerted) <= set(EVENT_KINDS), "an alert's kind label is no event kind"


@pytest.mark.parametrize("kind", [k for k in EVENT_KINDS if k not in NOT_ALERTED])
def test_an_alert_of_a_kind_queries_that_kind(kind: EventKind) -> None:
    for name in kinds_alerted()[kind]:
        expr = alerts()[name]["expr"]
        if kind in OWN_METRIC:
            assert OWN_METRIC[kind] in expr, name
        elif kind == "provider":
            assert "gpulens_provider_up" in expr, name
        else:
            assert f'kind="{kind}"' in expr, name
            # Every selector of the shared families is of this kind: no copy-paste slip.
            for selector in BY_KIND.findall(expr):
                assert selector.split(",")[0] == f'kind="{kind}"', (name, selector)


def test_every_alert_fires_and_stays_quiet_in_the_unit_tests() -> None:
    fired: set[str] = set()
    quiet: set[str] = set()
    for group in load(RULE_TESTS)["tests"]:
        for case in group.get("alert_rule_test", []):
            (fired if case.get("exp_alerts") else quiet).add(case["alertname"])
    assert load(RULE_TESTS)["rule_files"] == [RULES.name]
    names = set(alerts())
    assert names - fired == set(), "alerts never shown firing"
    assert names - quiet == set(), "alerts never shown not firing"
    assert fired | quiet <= names, "tests of alerts that do not exist"


def test_xid_alerts_split_the_codes_as_the_findings_do() -> None:
    """GpulensXidFatal pages for the codes whose finding is critical; the rest warn."""
    fatal = {code for code, (_, is_fatal) in XIDS.items() if is_fatal}

    def codes(expr: str, op: str) -> set[int]:
        found = set(re.findall(rf'gpulens_xid_errors_total\{{xid{op}"([0-9|]+)"\}}', expr))
        assert len(found) == 1, expr  # every selector of the rule says the same
        return {int(code) for code in found.pop().split("|")}

    assert codes(alerts()["GpulensXidFatal"]["expr"], "=~") == fatal
    assert alerts()["GpulensXidFatal"]["labels"]["severity"] == "critical"
    assert codes(alerts()["GpulensXidError"]["expr"], "!~") == fatal
    assert alerts()["GpulensXidError"]["labels"]["severity"] == "warning"


def test_labels_and_annotations() -> None:
    groups = load(RULES)["groups"]
    assert [g["name"] for g in groups] == ["gpulens"]
    for name, rule in alerts().items():
        assert name.startswith("Gpulens"), name
        assert rule["labels"]["severity"] in SEVERITIES, name
        annotations = rule["annotations"]
        assert set(annotations) == {"summary", "description"}, name
        text = annotations["summary"] + annotations["description"]
        if GPU_SERIES.search(rule["expr"]):
            # A GPU's alert says which host and which GPU, in dcgm-exporter's labels.
            assert "$labels.Hostname" in annotations["summary"], name
            assert "$labels.gpu" in annotations["summary"], name
        else:
            assert "$labels.instance" in text, name


# -- the rules read what /metrics exports ----------------------------------------


def exported() -> dict[str, set[str]]:
    """Sample name -> label names, from a scrape after one event of each kind and an XID."""
    metrics = SampleMetrics()
    moment = datetime(2026, 12, 1, tzinfo=UTC)
    for kind in EVENT_KINDS:
        event = Event(
            id=f"id-{kind}", kind=kind, severity="warning", start=moment, gpu="GPU-0",
            gpu_index=0, summary="s", action="a",
        )  # fmt: skip
        metrics.counts.add(event)
        metrics.findings[(kind, "warning", "0", "GPU-0")] = 1
    metrics.counts.add_xid(XidEvent("GPU-0", 79, 0.0), [])
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GpulensCollector(metrics, Hub(), "box"))
    out: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(render(registry).decode()):
        for sample in family.samples:
            out.setdefault(sample.name, set()).update(sample.labels)
    return out


def test_rules_query_exported_series_and_labels() -> None:
    series = exported()
    assert series["gpulens_events_total"] == set(EVENT_LABELS)
    assert series["gpulens_xid_errors_total"] == set(XID_LABELS)
    assert series["gpulens_findings_active"] == set(EVENT_LABELS)
    names = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?=\{|\[|\s+(?:==|>|unless|offset|or)|\))")
    for name, rule in alerts().items():
        used = {
            n
            for n in names.findall(rule["expr"])
            if n.startswith("gpulens_") or n in PROMETHEUS_SERIES
        }
        assert used, name
        assert used - set(series) - PROMETHEUS_SERIES == set(), name
        for labels in re.findall(r"\{([^}]*)\}", rule["expr"]):
            for label in re.findall(r"(\w+)\s*[=!]~?", labels):
                known = set(EVENT_LABELS) | set(XID_LABELS) | {"job", "instance", "provider"}
                assert label in known, (name, label)
