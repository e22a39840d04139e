"""Serving the built dashboard: hashed assets cached for a year, index.html never cached.

The build writes ``<file>.br`` and ``<file>.gz`` beside every compressible file
(frontend/vite.config.ts); they are sent as they are to clients that accept them.
"""

from __future__ import annotations

import os
import stat
from mimetypes import guess_type
from pathlib import Path

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, PathLike, StaticFiles
from starlette.types import Scope

IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"

COMPRESSIBLE = frozenset({".js", ".css", ".html", ".svg", ".json"})
# Content-Encoding → the suffix of its precompressed copy, best first.
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))


def accepted_codings(accept_encoding: str) -> dict[str, float]:
    """Accept-Encoding as {coding: q}; ``*`` stands for every coding not named."""
    accepted: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, *params = (part.strip() for part in item.split(";"))
        if not coding:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        accepted[coding.lower()] = q
    return accepted


def choose_encoding(accept_encoding: str | None, available: list[str]) -> str | None:
    """The coding of ``available`` (best first) the client prefers; q=0 means refused."""
    if not accept_encoding:
        return None
    accepted = accepted_codings(accept_encoding)
    star = accepted.get("*", 0.0)
    best, best_q = None, 0.0
    for coding in available:
        q = accepted.get(coding, star)
        if q > best_q:  # ties go to the earlier (smaller) one
            best, best_q = coding, q
    return best


class SpaFiles(StaticFiles):
    """Static files with an ``index.html`` fallback for client-side routes.

    A compressible file with a precompressed copy beside it is sent as that
    copy when the request's Accept-Encoding allows it (its q-values first,
    then br before gzip; q=0 refuses), with the file's own Content-Type and
    ``Vary: Accept-Encoding``. Each copy has its own ETag (a different
    representation), so conditional requests work for each. A copy is only
    ever looked for next to a file that exists.
    """

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        path = os.fspath(full_path)
        if os.path.splitext(path)[1].lower() not in COMPRESSIBLE:
            return super().file_response(full_path, stat_result, scope, status_code)
        request_headers = Headers(scope=scope)
        copies = {coding: path + suffix for coding, suffix in ENCODINGS}
        found: dict[str, os.stat_result] = {}
        for coding, copy in copies.items():
            try:
                # Not following links: a copy is a plain file the build wrote, nothing else.
                st = os.stat(copy, follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                found[coding] = st
        chosen = choose_encoding(request_headers.get("accept-encoding"), list(found))
        headers = {"vary": "Accept-Encoding"}
        if chosen is None:
            response = FileResponse(
                path, status_code=status_code, stat_result=stat_result, headers=headers
            )
        else:
            headers["content-encoding"] = chosen
            response = FileResponse(
                copies[chosen],
                status_code=status_code,
                stat_result=found[chosen],
                headers=headers,
                media_type=guess_type(path)[0] or "text/plain",
            )
        if self.is_not_modified(response.headers, request_headers):
            return NotModifiedResponse(response.headers)
        return response

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or path.startswith(("api/", "ws/", "assets/")):
                raise
            response = await super().get_response("index.html", scope)
        if response.status_code == 404 and not path.startswith(("api/", "ws/", "assets/")):
            response = await super().get_response("index.html", scope)
        # A 304 carries the 200's Cache-Control: caches update their stored headers from it.
        if path.startswith("assets/") and response.status_code in (200, 206, 304):
            response.headers["cache-control"] = IMMUTABLE
        else:
            response.headers["cache-control"] = NO_CACHE
        return response


# The dashboard inside an installed wheel (hatch_build.py puts frontend/dist there).
PACKAGED = Path(__file__).resolve().parent.parent / "static"
# The checkout this module runs from (an editable install, `make start`).
CHECKOUT = Path(__file__).resolve().parents[3] / "frontend" / "dist"


def find_static_dir(configured: Path | None) -> Path | None:
    """STATIC_DIR, else the copy inside the package, else the checkout's or ./frontend/dist."""
    if configured is not None:
        return configured if (configured / "index.html").is_file() else None
    candidates = [PACKAGED, CHECKOUT, Path.cwd() / "frontend" / "dist"]
    return next((c for c in candidates if (c / "index.html").is_file()), None)
