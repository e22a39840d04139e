"""``/api/session``: who is signed in, signing in with the token, signing out.

The page posts the token once; the answer is an HttpOnly, SameSite=Strict cookie the
browser keeps for its session, so the token itself is stored nowhere in the page and
never appears in a URL. These routes are public (the middleware lets them through).
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response

from gpulens.api.access import (
    WRONG_DETAIL,
    AccessGate,
    Method,
    cookie_header,
    limited_detail,
)
from gpulens.api.deps import PolicyDep

router = APIRouter()

MAX_BODY = 1024


def get_gate(conn: HTTPConnection) -> AccessGate:
    gate: AccessGate = conn.app.state.access
    return gate


GateDep = Annotated[AccessGate, Depends(get_gate)]


class SessionState(BaseModel):
    required: bool
    authenticated: bool
    method: Method | None
    user: str | None


@router.get("/api/session", response_model=SessionState)
def session_state(request: Request, gate: GateDep) -> BaseModel:
    """Whether access needs credentials, and whether (and how) this request has them.
    Wrong credentials count as failed attempts here as everywhere."""
    verdict = gate.check(request.scope)
    return SessionState(
        required=gate.required,
        authenticated=verdict.ok,
        method=verdict.method,
        user=verdict.user,
    )


async def _read_body(request: Request) -> bytes | None:
    """The body, or None once it passes MAX_BODY (reading stops there)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return None
    return body


@router.post("/api/session", status_code=204, response_class=Response)
async def sign_in(request: Request, gate: GateDep, policy: PolicyDep) -> Response:
    """Exchange the token (JSON ``{"token": "..."}``) for a session cookie."""
    headers = request.headers
    if not policy.origin_ok(headers.get("origin"), headers.get("host")):
        return JSONResponse({"detail": "origin not allowed"}, status_code=403)
    if not gate.required:
        return Response(status_code=204)
    address = gate.client_address(request.scope)
    wait = gate.retry_after(address)
    if wait is not None:
        return JSONResponse(
            {"detail": limited_detail(wait)}, status_code=429, headers={"retry-after": str(wait)}
        )
    body = await _read_body(request)
    token: object = None
    if body is not None:
        try:
            parsed = json.loads(body)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested too deep
            return JSONResponse({"detail": 'send JSON: {"token": "..."}'}, status_code=400)
        if not isinstance(parsed, dict) or "token" not in parsed:
            return JSONResponse({"detail": 'send JSON: {"token": "..."}'}, status_code=400)
        token = parsed["token"]
    if not isinstance(token, str) or not gate.token_ok(token):
        gate.failed(address, "wrong token")
        return JSONResponse({"detail": WRONG_DETAIL}, status_code=401)
    value = gate.new_cookie()
    response = Response(status_code=204)
    if value is not None:
        response.headers.append("set-cookie", cookie_header(value, gate.secure(request.scope)))
    return response


@router.delete("/api/session", status_code=204, response_class=Response)
def sign_out(request: Request, gate: GateDep) -> Response:
    """Drop the session cookie (the token stays valid; change it to end every session)."""
    response = Response(status_code=204)
    response.headers.append("set-cookie", cookie_header("", gate.secure(request.scope), True))
    return response
