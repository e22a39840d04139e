"""FastAPI dependencies: what routes need, taken from the running app's state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from gpulens.api.security import HostPolicy
from gpulens.services.history.recorder import HistoryRecorder
from gpulens.services.privacy import UserMask
from gpulens.services.sampler import Sampler
from gpulens.services.stream import Stream
from gpulens.services.websocket import Hub


def get_hub(conn: HTTPConnection) -> Hub:
    hub: Hub = conn.app.state.hub
    return hub


def get_stream(conn: HTTPConnection) -> Stream:
    stream: Stream = conn.app.state.stream
    return stream


def get_sampler(conn: HTTPConnection) -> Sampler:
    sampler: Sampler = conn.app.state.sampler
    return sampler


def get_policy(conn: HTTPConnection) -> HostPolicy:
    policy: HostPolicy = conn.app.state.policy
    return policy


def get_history(conn: HTTPConnection) -> HistoryRecorder | None:
    """The history recorder, or None when HISTORY=off."""
    recorder: HistoryRecorder | None = getattr(conn.app.state, "history", None)
    return recorder


def get_mask(conn: HTTPConnection) -> UserMask | None:
    """HIDE_USERS: what replaces user names in answers to the page (None: names shown)."""
    mask: UserMask | None = getattr(conn.app.state, "mask", None)
    return mask


HubDep = Annotated[Hub, Depends(get_hub)]
StreamDep = Annotated[Stream, Depends(get_stream)]
SamplerDep = Annotated[Sampler, Depends(get_sampler)]
PolicyDep = Annotated[HostPolicy, Depends(get_policy)]
HistoryDep = Annotated[HistoryRecorder | None, Depends(get_history)]
MaskDep = Annotated[UserMask | None, Depends(get_mask)]
