"""Dockerfiles and docker-compose.yml, read as files (no Docker engine on CI).

hadolint lints the Dockerfiles in scripts/lint-deploy.sh; these tests hold them
to the commands that are tested outside Docker (pip install -r
requirements.lock, npm ci, npm run build, gpulens serve) and to what the
README promises (non-root, health check, GPU runtime, host PID namespace).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
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
    """The image is `make dist`'s wheel installed as a user installs it."""
    text = runs(BACKEND)
    assert "npm ci" in text
    assert "npm run build" in text
    assert "GPULENS_PREBUILT_DASHBOARD=1 python -m build --wheel --outdir /dist ." in text
    assert "pip install --no-cache-dir -r /tmp/requirements.lock" in text
    assert "pip install --no-cache-dir --no-deps /tmp/dist/gpulens-*.whl" in text
    cmd = [args for op, args in instructions(BACKEND) if op == "CMD"]
    assert cmd == ['["gpulens", "serve"]']


def test_backend_final_stage_is_small_and_unprivileged() -> None:
    final = stages(BACKEND)[-1]
    copies = [args for op, args in final if op == "COPY"]
    # The environment only: the dashboard is inside the installed package.
    assert copies == ["--from=builder /opt/gpulens/.venv /opt/gpulens/.venv"]
    users = [args for op, args in final if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    env = " ".join(args for op, args in final if op == "ENV")
    assert "HOST=0.0.0.0" in env
    assert "STATIC_DIR" not in env
    # The history lives in a volume the service user owns.
    assert "HISTORY_PATH=/var/lib/gpulens/history.db" in env
    assert ("VOLUME", '["/var/lib/gpulens"]') in final
    assert "install -d -o 10001 -g 10001 -m 0750 /var/lib/gpulens" in runs(BACKEND)
    assert ("EXPOSE", "5000") in final
    health = [args for op, args in final if op == "HEALTHCHECK"]
    assert len(health) == 1
    assert "/api/health" in health[0]
    assert "urllib.request" in health[0]


def test_backend_wheel_stage_builds_the_wheel_with_the_dashboard(tmp_path: Path) -> None:
    """The image's wheel stage, without Docker: its COPY sources laid out as it copies
    them (the Node stage's output stood in for by a page), then its RUN lines, with no
    Node on PATH. The wheel must carry that page as gpulens/static."""
    (stage,) = [s for s in stages(BACKEND) if s[0][1].endswith(" AS wheel")]
    context = tmp_path / "src"
    context.mkdir()
    runs_here: list[str] = []
    for op, args in stage:
        if op == "COPY" and args.startswith("--from=spa "):
            dist = context / args.split()[-1]
            (dist / "assets").mkdir(parents=True)
            (dist / "index.html").write_text('<div id="root"></div>')
            (dist / "assets" / "index-abc.js").write_text("export {}")
        elif op == "COPY":
            *sources, dest = args.split()
            assert dest in ("./", "./src/"), dest
            for source in sources:
                target = context / dest / Path(source).name if dest == "./" else context / "src"
                if (ROOT / source).is_dir():
                    skip = shutil.ignore_patterns("__pycache__")
                    shutil.copytree(ROOT / source, target, ignore=skip)
                else:
                    shutil.copy(ROOT / source, target)
        elif op == "RUN" and "python -m build" in args:
            runs_here.append(args.replace("/dist", str(tmp_path / "out")))
    (command,) = runs_here
    python_dir = str(Path(sys.executable).parent)
    env = {"PATH": python_dir, "HOME": str(tmp_path)}
    assert shutil.which("node", path=python_dir) is None
    # The stage's `python` is the image's, with `build` installed: here, this venv's.
    command = command.replace("python -m build", f"{sys.executable} -m build", 1)
    result = subprocess.run(
        ["/bin/sh", "-c", command],
        cwd=context,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = (tmp_path / "out").glob("gpulens-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read("gpulens/static/index.html") == b'<div id="root"></div>'
        assert "gpulens/static/assets/index-abc.js" in zf.namelist()
        assert "gpulens/cli.py" in zf.namelist()


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


def test_nginx_image_turns_basic_auth_on_with_a_mounted_htpasswd() -> None:
    """As the recipe: basic auth by default, its htpasswd in the directory compose mounts."""
    assert build_args(NGINX)["AUTH"] == "basic"
    text = runs(NGINX)
    assert 'GPULENS_AUTH="${AUTH}"' in text
    assert 'GPULENS_HTPASSWD="${HTPASSWD}"' in text
    nginx = compose()["services"]["nginx"]
    args = nginx["build"]["args"]
    assert args["AUTH"] == "basic"
    mounted = [volume.split(":")[1] for volume in nginx["volumes"]]
    assert any(args["HTPASSWD"].startswith(f"{target}/") for target in mounted), mounted
    assert args["HTPASSWD"].startswith(build_args(NGINX)["HTPASSWD"].rsplit("/", 1)[0])


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


def test_compose_keeps_the_history_in_a_volume() -> None:
    config = compose()
    backend = config["services"]["backend"]
    assert backend["read_only"] is True
    assert "gpulens_history:/var/lib/gpulens" in backend["volumes"]
    assert "gpulens_history" in config["volumes"]


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
