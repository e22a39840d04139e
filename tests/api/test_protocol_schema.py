"""The dashboard's TS types come from a committed copy of the JSON Schema: keep it current."""

from __future__ import annotations

import json
from pathlib import Path

from gpulens.services.messages import protocol_json_schema

COMMITTED = Path(__file__).resolve().parents[2] / "frontend/src/api/protocol.schema.json"


def test_frontend_schema_matches_the_backend() -> None:
    committed = json.loads(COMMITTED.read_text())
    assert committed == protocol_json_schema(), (
        "frontend/src/api/protocol.schema.json is stale: run "
        "`.venv/bin/gpulens schema --all > frontend/src/api/protocol.schema.json` "
        "then `cd frontend && npm run gen:types`"
    )


def test_every_server_message_type_is_in_the_schema() -> None:
    schema = protocol_json_schema()
    types = set()
    for definition in schema["$defs"].values():
        kind = definition.get("properties", {}).get("type", {})
        types.update(kind.get("enum", []) or ([kind["const"]] if "const" in kind else []))
    assert types == {"telemetry", "hello", "gpuAdded", "gpuRemoved", "status", "heartbeat", "error"}
