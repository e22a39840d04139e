"""Dockerfiles and docker-compose.yml, read as files (no Docker engine on CI).

hadolint lints the Dockerfiles in scripts/lint-deploy.sh; these tests hold them
to the commands that are tested outside Docker (pip install -r
requirements.lock, npm ci, npm run build, gpulens serve) and to what the
README promises (non-root, health check, GPU runtime, host PID namespace).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BACKEND = ROOT / "deploy" / "docker" / "backend.Dockerfile"
NGINX = ROOT / "deploy" / "docker" / "nginx.Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
NO_GPU = ROOT / "deploy" / "docker" / "compose.no-gpu.yml"


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in lines]


def stages(path: Path) -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for op, args in instructions(path):
        if op == "FROM":
            out.append([])
        if out:
            out[-1].append((op, args))
    return out


def build_args(path: Path) -> dict[str, str]:
    return dict(
        args.split("=", 1) for op, args in instructions(path) if op == "ARG" and "=" in args
    )


def runs(path: Path) -> str:
    return "\n".join(args for op, args in instructions(path) if op == "RUN")


class YamlLoader(yaml.SafeLoader):
    """SafeLoader that also reads compose's !reset / !override tags."""


yaml.add_multi_constructor(
    "!", lambda loader, suffix, node: {"tag": suffix, "node": node.value}, Loader=YamlLoader
)


def compose(path: Path = COMPOSE) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(path.read_text(), Loader=YamlLoader)
    return loaded


@pytest.mark.parametrize("path", [BACKEND, NGINX], ids=lambda p: p.name)
def test_base_images_pinned_to_exact_tags(path: Path) -> None:
    images = [v for k, v in build_args(path).items() if k.endswith("_IMAGE")]
    assert images
    for image in images:
        tag = image.split("@", 1)[0].rsplit(":", 1)[1]
        assert re.match(r"\d+\.\d+\.\d+", tag), f"{image}: pin an exact version"
    for _op, args in (i for i in instructions(path) if i[0] == "FROM"):
        assert args.split()[0].startswith("${"), f"FROM {args}: use the pinned ARG"


def test_backend_runs_the_tested_commands() -> None:
    text = runs(BACKEND)
    assert "npm ci" in text
    assert "npm run build" in text
    assert "pip install --no-cache-dir -r requirements.lock" in text
    cmd = [args for op, args in instructions(BACKEND) if op == "CMD"]
    assert cmd == ['["gpulens", "serve"]']


def test_backend_final_stage_is_small_and_unprivileged() -> None:
    final = stages(BACKEND)[-1]
    copies = [args for op, args in final if op == "COPY"]
    assert copies == [
        "--from=builder /opt/gpulens/.venv /opt/gpulens/.venv",
        "--from=spa /src/frontend/dist /opt/gpulens/static",
    ]
    users = [args for op, args in final if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    env = " ".join(args for op, args in final if op == "ENV")
    assert "HOST=0.0.0.0" in env
    assert "STATIC_DIR=/opt/gpulens/static" in env
    assert ("EXPOSE", "5000") in final
    health = [args for op, args in final if op == "HEALTHCHECK"]
    assert len(health) == 1
    assert "/api/health" in health[0]
    assert "urllib.request" in health[0]


def test_nginx_image_uses_the_shipped_config() -> None:
    final = stages(NGINX)[-1]
    text = " ".join(args for _op, args in final)
    assert "deploy/nginx/gpulens.conf" in text
    assert "render.sh" in text
    assert "deploy/nginx/security-headers.conf" in text
    assert "/etc/nginx/snippets/gpulens/" in text
    users = [args for op, args in final if op == "USER"]
    assert users[-1] == "101"
    assert "npm ci" in runs(NGINX)
    assert "npm run build" in runs(NGINX)


def test_compose_backend_gets_the_gpus_and_host_pids() -> None:
    services = compose()["services"]
    assert set(services) >= {"backend", "frontend", "nginx"}
    backend = services["backend"]
    assert backend["pid"] == "host"
    (device,) = backend["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia"
    assert device["count"] == "all"
    assert "gpu" in device["capabilities"]
    assert backend["build"]["dockerfile"] == "deploy/docker/backend.Dockerfile"
    assert services["nginx"]["build"]["dockerfile"] == "deploy/docker/nginx.Dockerfile"
    assert services["nginx"]["profiles"] == ["nginx"]


def test_compose_publishes_on_loopback_only() -> None:
    for name, service in compose()["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"


def test_compose_environment_names_are_real_settings() -> None:
    from gpulens.config import Settings

    known = {n.upper() for n in Settings.model_fields}
    assert set(compose()["services"]["backend"]["environment"]) <= known


def test_no_gpu_override_resets_the_gpu_bits() -> None:
    backend = compose(NO_GPU)["services"]["backend"]
    assert backend["deploy"]["tag"] == "reset"
    assert backend["pid"]["tag"] == "reset"
    assert backend["environment"]["TELEMETRY_PROVIDER"] == "replay"


def test_dockerignore_keeps_host_builds_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".venv/", "frontend/node_modules/", "frontend/dist/", ".env"):
        assert entry in ignored
