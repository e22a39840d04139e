"""GET /api/events (being built: see issue 15)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
