"""Serving the built dashboard: hashed assets cached for a year, index.html never cached."""

from __future__ import annotations

from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"


class SpaFiles(StaticFiles):
    """Static files with an ``index.html`` fallback for client-side routes."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or path.startswith(("api/", "ws/", "assets/")):
                raise
            response = await super().get_response("index.html", scope)
        if response.status_code == 404 and not path.startswith(("api/", "ws/", "assets/")):
            response = await super().get_response("index.html", scope)
        if path.startswith("assets/") and response.status_code == 200:
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
