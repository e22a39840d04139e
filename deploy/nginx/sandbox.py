#!/usr/bin/env python3
"""Lay out a self-contained nginx prefix that runs deploy/nginx/gpulens.conf unprivileged.

Used by scripts/lint-deploy.sh (``nginx -t``) and tests/deploy/test_nginx.py
(a real nginx in front of a real backend), and handy for trying the shipped
configuration without root or touching /etc/nginx:

    deploy/nginx/sandbox.py /tmp/gl-nginx --https-listen 127.0.0.1:8443 \\
        --http-listen 127.0.0.1:8080 --upstream 127.0.0.1:5000 --static frontend/dist \\
        --user alice:a-long-password
    nginx -p /tmp/gl-nginx -c conf/nginx.conf -e logs/error.log -g 'daemon off;'

Access is basic auth, as in production: the htpasswd file is DIR/conf/gpulens.htpasswd
(``--user NAME:PASSWORD`` adds entries; without any, nobody gets in) unless
``--htpasswd`` names another; ``--auth sso --sso-upstream HOST:PORT`` or ``--auth off``
choose the other modes (docs/access.md).

The site file is rendered by deploy/nginx/render.sh (the one substitution
used in production too). A throwaway self-signed certificate is made with the openssl
command line. The main nginx.conf written here
stands in for the distribution's: pid, logs and temp files stay inside DIR.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SNIPPETS = ("security-headers.conf", "proxy.conf")
FALLBACK_TYPES = """types {
        text/html html;
        text/css css;
        application/javascript js mjs;
        application/json json;
        image/svg+xml svg;
        image/png png;
        font/woff2 woff2;
        font/woff woff;
    }"""


@dataclass(frozen=True)
class Sandbox:
    prefix: str
    conf: str
    site: str
    error_log: str
    cert: str
    key: str

    def command(self, nginx: str = "nginx", *extra: str) -> list[str]:
        """nginx with this prefix, configuration and error log, plus ``extra`` arguments."""
        return [nginx, "-p", self.prefix, "-c", self.conf, "-e", self.error_log, *extra]


def make_certificate(tls_dir: Path, names: tuple[str, ...] = ("localhost",)) -> tuple[Path, Path]:
    """A self-signed P-256 certificate for ``names`` and 127.0.0.1, valid two days."""
    tls_dir.mkdir(parents=True, exist_ok=True)
    cert, key = tls_dir / "cert.pem", tls_dir / "key.pem"
    san = ",".join([*(f"DNS:{n}" for n in names), "IP:127.0.0.1"])
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", f"/CN={names[0]}", "-addext", f"subjectAltName={san}",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def mime_types(nginx: str) -> str:
    """``include`` of the system's mime.types when nginx has one, else a minimal types block."""
    try:
        info = subprocess.run([nginx, "-V"], capture_output=True, text=True, check=False).stderr
    except OSError:
        info = ""
    candidates = [Path("/etc/nginx/mime.types")]
    for word in info.split():
        if word.startswith("--conf-path="):
            candidates.insert(0, Path(word.split("=", 1)[1]).parent / "mime.types")
    found = next((c for c in candidates if c.is_file()), None)
    return f"include {found};" if found else FALLBACK_TYPES


def htpasswd_line(user: str, password: str) -> str:
    """``user:<SHA-512 crypt of password>``, the hash made by ``openssl passwd -6``."""
    if not user or ":" in user or "\n" in user:
        raise ValueError(f"not a usable htpasswd user name: {user!r}")
    hashed = subprocess.run(
        ["openssl", "passwd", "-6", "-stdin"],
        input=password, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    return f"{user}:{hashed}\n"


def render(env: dict[str, str], template: Path = HERE / "gpulens.conf") -> str:
    result = subprocess.run(
        ["sh", str(HERE / "render.sh"), str(template)],
        env={**os.environ, **env}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"render.sh failed: {result.stderr.strip()}")
    return result.stdout


def build(
    prefix: Path,
    *,
    https_listen: str,
    http_listen: str,
    upstream: str,
    static: Path,
    server_name: str = "localhost",
    metrics_allow: str = "192.0.2.0/24",
    nginx: str = "nginx",
    auth: str = "basic",
    htpasswd: Path | None = None,
    users: dict[str, str] | None = None,
    sso_upstream: str = "127.0.0.1:4180",
    metrics_access: str = "auth",
) -> Sandbox:
    """Write conf/nginx.conf, conf/sites/gpulens.conf, the snippets and a certificate.

    ``users`` (name -> password) are written to ``htpasswd`` (default
    conf/gpulens.htpasswd, created empty when there are none: nobody gets in).
    """
    prefix = prefix.resolve()
    conf_dir, logs, tmp = prefix / "conf", prefix / "logs", prefix / "tmp"
    for d in (conf_dir / "sites", conf_dir / "snippets" / "gpulens", logs, tmp):
        d.mkdir(parents=True, exist_ok=True)
    for name in SNIPPETS:
        shutil.copyfile(HERE / name, conf_dir / "snippets" / "gpulens" / name)
    cert, key = make_certificate(prefix / "tls", (server_name.split()[0],))
    dhparam = prefix / "tls" / "ffdhe2048.pem"
    shutil.copyfile(HERE / "ffdhe2048.pem", dhparam)
    if htpasswd is None:
        htpasswd = conf_dir / "gpulens.htpasswd"
        htpasswd.write_text("".join(htpasswd_line(u, pw) for u, pw in (users or {}).items()))
        htpasswd.chmod(0o640)
    elif users:
        raise ValueError("users are written only to the sandbox's own htpasswd file")
    port = https_listen.rsplit(":", 1)[-1]
    site = render(
        {
            "GPULENS_SERVER_NAME": server_name,
            "GPULENS_HTTP_LISTEN": http_listen,
            "GPULENS_HTTPS_LISTEN": https_listen,
            "GPULENS_REDIRECT_PORT": "" if port == "443" else f":{port}",
            "GPULENS_UPSTREAM": upstream,
            "GPULENS_STATIC": str(static.resolve()),
            "GPULENS_CERT": str(cert),
            "GPULENS_KEY": str(key),
            "GPULENS_DHPARAM": str(dhparam),
            "GPULENS_METRICS_ALLOW": metrics_allow,
            "GPULENS_AUTH": auth,
            "GPULENS_HTPASSWD": str(htpasswd.resolve()),
            "GPULENS_SSO_UPSTREAM": sso_upstream,
            "GPULENS_METRICS_ACCESS": metrics_access,
        }
    )
    (conf_dir / "sites" / "gpulens.conf").write_text(site)
    # As root, nginx's workers would switch to "nobody", which cannot read a
    # private temporary directory; keep them as the current user instead.
    user = "user root root;\n" if hasattr(os, "geteuid") and os.geteuid() == 0 else ""
    main = f"""# Stand-in for the distribution's nginx.conf (written by deploy/nginx/sandbox.py).
{user}worker_processes 1;
pid {logs}/nginx.pid;
error_log {logs}/error.log notice;
events {{
    worker_connections 256;
}}
http {{
    {mime_types(nginx)}
    default_type application/octet-stream;
    access_log {logs}/access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    sendfile on;
    include sites/gpulens.conf;
}}
"""
    (conf_dir / "nginx.conf").write_text(main)
    return Sandbox(
        prefix=str(prefix),
        conf=str(conf_dir / "nginx.conf"),
        site=str(conf_dir / "sites" / "gpulens.conf"),
        error_log=str(logs / "error.log"),
        cert=str(cert),
        key=str(key),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("prefix", type=Path)
    parser.add_argument("--https-listen", default="127.0.0.1:8443")
    parser.add_argument("--http-listen", default="127.0.0.1:8080")
    parser.add_argument("--upstream", default="127.0.0.1:5000")
    parser.add_argument("--static", type=Path, default=HERE.parents[1] / "frontend" / "dist")
    parser.add_argument("--server-name", default="localhost")
    parser.add_argument("--metrics-allow", default="192.0.2.0/24")
    parser.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    parser.add_argument("--auth", choices=("basic", "sso", "off"), default="basic")
    parser.add_argument("--htpasswd", type=Path, help="an existing htpasswd file to use")
    parser.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="NAME:PASSWORD",
        help="add to the sandbox's htpasswd (for trying it out: the password shows in ps)",
    )
    parser.add_argument("--sso-upstream", default="127.0.0.1:4180")
    parser.add_argument("--metrics-access", choices=("auth", "addresses"), default="auth")
    parser.add_argument("--test", action="store_true", help="then run nginx -t on it")
    args = parser.parse_args(argv)
    box = build(
        args.prefix,
        https_listen=args.https_listen,
        http_listen=args.http_listen,
        upstream=args.upstream,
        static=args.static,
        server_name=args.server_name,
        metrics_allow=args.metrics_allow,
        nginx=args.nginx,
        auth=args.auth,
        htpasswd=args.htpasswd,
        users={name: pw for name, _, pw in (u.partition(":") for u in args.user)} or None,
        sso_upstream=args.sso_upstream,
        metrics_access=args.metrics_access,
    )
    print(json.dumps({**asdict(box), "run": box.command(args.nginx, "-g", "daemon off;")}))
    if args.test:
        result = subprocess.run(box.command(args.nginx, "-t"), check=False)
        return result.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
