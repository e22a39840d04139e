"""HIDE_USERS: pseudonyms everywhere a user name would reach the page, stable within a run."""

from __future__ import annotations

from datetime import UTC, datetime

from gpulens.core.metrics.schema import ProcessInfo, SystemInfo, Telemetry
from gpulens.services.findings.model import Event
from gpulens.services.privacy import UserMask
from tests.fakes import gpu

NOW = datetime(2026, 12, 2, 22, 0, tzinfo=UTC)


def payload(*users: str | None) -> Telemetry:
    processes = [
        ProcessInfo(pid=100 + i, name="python3", used_memory_mib=900, user=u)
        for i, u in enumerate(users)
    ]
    system = SystemInfo(
        cpu_usage=1.0, memory_usage=1.0, load_average=(0, 0, 0), uptime=1, disk_utilization=1.0
    )
    return Telemetry(
        seq=0, timestamp=NOW, source="nvml", gpus=[gpu(0, processes=processes)], system=system
    )


def test_the_same_name_gets_the_same_pseudonym_and_never_the_name() -> None:
    mask = UserMask(key=b"k" * 32)
    shown = mask.telemetry(payload("alice", "bob", "alice", None))
    users = [p.user for p in shown.gpus[0].processes]
    assert users[0] == users[2] != users[1]
    assert users[3] is None
    assert all(u is None or (u.startswith("user-") and len(u) == 9) for u in users)
    assert "alice" not in shown.model_dump_json() and "bob" not in shown.model_dump_json()


def test_pseudonyms_change_with_the_key_and_the_input_is_not_changed() -> None:
    original = payload("alice")
    a = UserMask(key=b"a" * 32).telemetry(original).gpus[0].processes[0].user
    b = UserMask(key=b"b" * 32).telemetry(original).gpus[0].processes[0].user
    assert a != b
    assert original.gpus[0].processes[0].user == "alice"


def test_no_user_no_copy() -> None:
    original = payload(None)
    assert UserMask().telemetry(original) is original


def test_an_events_sentences_are_masked_too_but_not_other_words() -> None:
    mask = UserMask(key=b"k" * 32)
    event = Event(
        id="idleHolding:GPU-1:7:1", kind="idleHolding", severity="warning", start=NOW,
        user="al", process="alpha", pid=7,
        summary="alpha (al) holds 20.5 GiB at 0 % SM for 12 min",
        action="Ask al to free it, or end pid 7; also ask hal.",
    )  # fmt: skip
    shown = mask.event(event)
    alias = mask.user("al")
    assert shown.user == alias
    assert shown.summary == f"alpha ({alias}) holds 20.5 GiB at 0 % SM for 12 min"
    assert shown.action == f"Ask {alias} to free it, or end pid 7; also ask hal."
