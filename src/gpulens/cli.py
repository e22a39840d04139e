"""The ``gpulens`` command: serve, snapshot, record, schema, static-dir."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from gpulens import __version__
from gpulens.config import MIN_POLL_INTERVAL_MS, ConfigError, Settings, load_settings

DESCRIPTION = (
    "Real-time dashboard for NVIDIA GPU workstations: serve the dashboard, print one "
    "snapshot, record a trace for replay, or print the stream's JSON Schema."
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gpulens", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"gpulens {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the dashboard server (HOST:PORT)")
    serve.add_argument("--host", help="address to bind (overrides HOST)")
    serve.add_argument("--port", type=int, help="port (overrides PORT)")
    serve.add_argument("--provider", help="GPU source (overrides TELEMETRY_PROVIDER)")
    serve.add_argument("--reload", action="store_true", help="restart on code changes (dev)")

    snap = sub.add_parser("snapshot", help="print one telemetry payload as JSON")
    snap.add_argument("--provider", help="auto, nvml, nvidia-smi, nvtop or replay")
    snap.add_argument("--compact", action="store_true", help="one line instead of indented")

    rec = sub.add_parser("record", help="write a recording that the replay provider can play")
    rec.add_argument("--seconds", type=float, required=True, help="how long to record")
    rec.add_argument("--out", type=Path, required=True, help="file (.jsonl or .jsonl.gz)")
    rec.add_argument("--provider", help="GPU source (default: TELEMETRY_PROVIDER)")
    rec.add_argument("--interval-ms", type=int, help="sampling period (default: POLL_INTERVAL_MS)")

    schema = sub.add_parser("schema", help="print the telemetry payload's JSON Schema")
    which = schema.add_mutually_exclusive_group()
    which.add_argument(
        "--all", action="store_true", help="every /ws/gpu message type, not only telemetry"
    )
    which.add_argument("--history", action="store_true", help="the GET /api/history response")
    which.add_argument("--events", action="store_true", help="the GET /api/events response")
    which.add_argument("--usage", action="store_true", help="the GET /api/usage response")
    which.add_argument(
        "--fleet-history", action="store_true", help="the GET /api/fleet/history response"
    )
    sub.add_parser(
        "static-dir",
        help="print the directory the dashboard is served from (for nginx's root)",
        description="Print the directory `gpulens serve` serves the dashboard from: STATIC_DIR, "
        "else the copy inside the installed package, else a checkout's frontend/dist.",
    )
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "provider", None):
        overrides["telemetry_provider"] = args.provider
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None):
        overrides["port"] = args.port
    return load_settings(**overrides)


def cmd_schema(args: argparse.Namespace) -> int:
    from gpulens.services import messages

    if args.history:
        from gpulens.api.history import HistoryResponse

        schema = HistoryResponse.model_json_schema(by_alias=True, mode="serialization")
        schema["title"] = "gpulens GET /api/history response"
    elif args.events or args.usage:
        from gpulens.api.records import EventsResponse, UsageResponse

        model = EventsResponse if args.events else UsageResponse
        schema = model.model_json_schema(by_alias=True, mode="serialization")
        schema["title"] = f"gpulens GET /api/{'events' if args.events else 'usage'} response"
    elif args.fleet_history:
        from gpulens.services.fleet.model import FleetHistoryResponse

        schema = FleetHistoryResponse.model_json_schema(by_alias=True, mode="serialization")
        schema["title"] = "gpulens GET /api/fleet/history response"
    else:
        schema = messages.protocol_json_schema() if args.all else messages.telemetry_json_schema()
    print(json.dumps(schema, indent=2))
    return 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    from gpulens.core.metrics.collector import build_payload
    from gpulens.core.metrics.providers import ProviderError, select
    from gpulens.core.metrics.system import SystemCollector

    settings = _settings(args)
    system = SystemCollector(settings.disk_path)
    selection = select(settings)
    wanted = settings.telemetry_provider
    if selection.provider is None and wanted != "auto":
        print(f"gpulens: {wanted}: {selection.unavailable[wanted]}", file=sys.stderr)
        return 2
    gpus = []
    if selection.provider is not None:
        try:
            gpus = selection.provider.sample()
        except ProviderError as exc:
            print(f"gpulens: {selection.provider.name}: {exc}", file=sys.stderr)
            return 2
        finally:
            selection.provider.close()
    payload = build_payload(0, selection, gpus, system)
    print(payload.model_dump_json(by_alias=True, indent=None if args.compact else 2))
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    from gpulens.core.metrics import recording
    from gpulens.core.metrics.providers import ProviderError, select
    from gpulens.core.metrics.schema import GpuInfo

    settings = _settings(args)
    if args.seconds <= 0:
        print("gpulens: --seconds must be more than 0", file=sys.stderr)
        return 2
    interval_ms = args.interval_ms if args.interval_ms is not None else settings.poll_interval_ms
    if not MIN_POLL_INTERVAL_MS <= interval_ms <= 60_000:
        print(
            f"gpulens: --interval-ms must be {MIN_POLL_INTERVAL_MS}-60000, not {interval_ms}",
            file=sys.stderr,
        )
        return 2
    interval = interval_ms / 1000
    selection = select(settings)
    provider = selection.provider
    if provider is None:
        reasons = "; ".join(f"{k}: {v}" for k, v in selection.unavailable.items())
        print(f"gpulens: no GPU source to record ({reasons})", file=sys.stderr)
        return 2

    def frames() -> Iterator[tuple[float, list[GpuInfo]]]:
        start = time.monotonic()
        tick = 0
        while True:
            due = start + tick * interval
            if due - start >= args.seconds:
                return
            time.sleep(max(0.0, due - time.monotonic()))
            try:
                yield time.monotonic() - start, provider.sample()
            except ProviderError as exc:
                print(f"gpulens: skipped a sample: {exc}", file=sys.stderr)
            tick += 1

    header = {"source": provider.name, "interval": interval, "recordedWith": __version__}

    def full(limit: str) -> None:
        print(
            f"gpulens: stopped before {limit}, so that the recording can be played", file=sys.stderr
        )

    try:
        count = recording.write(args.out, header, frames(), on_full=full)
    except OSError as exc:
        print(f"gpulens: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    finally:
        provider.close()
    print(f"gpulens: wrote {count} frames from {provider.name} to {args.out}", file=sys.stderr)
    return 0


def cmd_static_dir(args: argparse.Namespace) -> int:
    from gpulens.api.static import find_static_dir

    settings = _settings(args)
    static = find_static_dir(settings.static_dir)
    if static is None:  # a STATIC_DIR without index.html was refused by the settings already
        print("gpulens: no built dashboard (index.html) in this installation", file=sys.stderr)
        return 1
    print(static)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from gpulens.api.server import run

    return run(_settings(args), reload=args.reload)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "schema":
            return cmd_schema(args)
        if args.command == "snapshot":
            return cmd_snapshot(args)
        if args.command == "record":
            return cmd_record(args)
        if args.command == "serve":
            return cmd_serve(args)
        if args.command == "static-dir":
            return cmd_static_dir(args)
    except ConfigError as exc:
        print(exc.code, file=sys.stderr)
        return 2
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
