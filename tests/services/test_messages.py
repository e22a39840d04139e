"""The published JSON Schema: the dashboard's committed copy is current, and every message
the server really sends validates against it and parses back into its model."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, TypeAdapter
from websockets.sync.client import connect

from gpulens.api.app import create_app
from gpulens.config import Settings
from gpulens.core.metrics.providers.base import ProviderError
from gpulens.core.metrics.schema import GpuInfo, Telemetry
from gpulens.services.messages import (
    ErrorMessage,
    EventMessage,
    Findings,
    GpuChange,
    Heartbeat,
    Hello,
    ServerMessage,
    Status,
    protocol_json_schema,
)
from tests.fakes import FakeProvider, FakeSystem, gpu, selection
from tests.live import serve_in_thread

FRONTEND_API = Path(__file__).resolve().parents[2] / "frontend/src/api"
COMMITTED = FRONTEND_API / "protocol.schema.json"


def test_frontend_schema_matches_the_backend() -> None:
    committed = json.loads(COMMITTED.read_text())
    assert committed == protocol_json_schema(), (
        "frontend/src/api/protocol.schema.json is stale: run "
        "`cd frontend && npm run gen:schema` and commit what it rewrites"
    )


@pytest.mark.parametrize(
    ("name", "option"),
    [
        ("history", "--history"),
        ("events", "--events"),
        ("usage", "--usage"),
        ("fleet", "--fleet-history"),
    ],
)
def test_frontend_api_schemas_match_the_backend(name: str, option: str) -> None:
    """The page validates GET /api/<name> with code generated from its committed copy."""
    committed = json.loads((FRONTEND_API / f"{name}.schema.json").read_text())
    assert committed == published_schema(option), (
        f"frontend/src/api/{name}.schema.json is stale: run "
        "`cd frontend && npm run gen:schema` and commit what it rewrites"
    )


def test_every_server_message_type_is_in_the_schema() -> None:
    schema = protocol_json_schema()
    types: set[str] = set()
    for definition in schema["$defs"].values():
        kind = definition.get("properties", {}).get("type", {})
        types.update(kind.get("enum", []) or ([kind["const"]] if "const" in kind else []))
    assert types == {
        "telemetry", "hello", "gpuAdded", "gpuRemoved", "status", "heartbeat", "error",
        "findings", "event", "fleet",
    }  # fmt: skip


# -- every message as the server really sends it -----------------------------------------

MODELS: dict[str, type[BaseModel]] = {
    "hello": Hello,
    "telemetry": Telemetry,
    "gpuAdded": GpuChange,
    "gpuRemoved": GpuChange,
    "status": Status,
    "heartbeat": Heartbeat,
    "error": ErrorMessage,
    "findings": Findings,
    "event": EventMessage,
}


def published_schema(which: str = "--all") -> dict[str, Any]:
    """What ``gpulens schema --all`` (or ``--history``) prints, from the command itself."""
    out = subprocess.run(
        [sys.executable, "-m", "gpulens", "schema", which],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    schema: dict[str, Any] = json.loads(out.stdout)
    return schema


def eventful_provider(go: threading.Event) -> FakeProvider:
    """Steady GPUs until ``go``; then one leaves, another comes, one is lost, the source fails
    once, and the readings stop changing (so the stream goes quiet and heartbeats are sent)."""
    first: list[int] = []  # the read at which ``go`` was first seen

    def script(n: int) -> list[GpuInfo] | BaseException:
        if not go.is_set():
            return [gpu(0, util=1), gpu(1, util=1)]
        if not first:
            first.append(n)
        step = n - first[0]
        if step == 0:
            return [gpu(0, util=2)]  # GPU 1 leaves: gpuRemoved
        if step == 1:
            return [gpu(0, util=3), gpu(1, uuid="GPU-new")]  # gpuAdded (and its event)
        if step == 2:
            return [gpu(0).as_failed("GPU is lost"), gpu(1, uuid="GPU-new")]  # findings
        if step == 3:
            return ProviderError("Driver Not Loaded")  # status: degraded
        return [gpu(0, util=4), gpu(1, uuid="GPU-new")]  # status: ok, then quiet

    return FakeProvider(script)


def test_every_message_as_sent_validates_against_the_schema_and_parses_back() -> None:
    schema = published_schema()
    validator = Draft202012Validator(schema)
    settings = Settings(
        poll_interval_ms=250, heartbeat_interval_ms=500, ws_max_rate=50, ws_max_clients=1,
        ws_backlog=5,
    )  # fmt: skip
    go = threading.Event()
    app = create_app(settings, selection=selection(eventful_provider(go)), system=FakeSystem())
    sent: dict[str, list[str]] = {}
    with serve_in_thread(app) as address:
        with connect(f"ws://{address}/ws/gpu", max_size=2**22) as ws:
            sent.setdefault("hello", []).append(str(ws.recv(timeout=10)))
            go.set()
            deadline = time.monotonic() + 20
            while set(MODELS) - {"error"} - set(sent) and time.monotonic() < deadline:
                frame = str(ws.recv(timeout=10))
                sent.setdefault(json.loads(frame)["type"], []).append(frame)
            with connect(f"ws://{address}/ws/gpu") as second:  # one client too many
                frame = str(second.recv(timeout=10))
                sent.setdefault(json.loads(frame)["type"], []).append(frame)
    assert set(sent) == set(MODELS), f"never sent: {set(MODELS) - set(sent)}"
    for kind, frames in sent.items():
        model = MODELS[kind]
        own = {"$ref": f"#/$defs/{model.__name__}", "$defs": schema["$defs"]}
        for frame in frames:
            message = json.loads(frame)
            validator.validate(message)  # the published schema, as a client would use it
            Draft202012Validator(own).validate(message)  # and its own definition
            parsed = TypeAdapter(ServerMessage).validate_json(frame)
            assert type(parsed) is model
            assert json.loads(parsed.model_dump_json(by_alias=True)) == message  # nothing lost
