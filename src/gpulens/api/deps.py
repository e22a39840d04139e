"""FastAPI dependencies: what routes need, taken from the running app's state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from gpulens.api.security import HostPolicy
from gpulens.config import Settings
from gpulens.services.sampler import Sampler
from gpulens.services.websocket import Hub


def get_settings(conn: HTTPConnection) -> Settings:
    settings: Settings = conn.app.state.settings
    return settings


def get_hub(conn: HTTPConnection) -> Hub:
    hub: Hub = conn.app.state.hub
    return hub


def get_sampler(conn: HTTPConnection) -> Sampler:
    sampler: Sampler = conn.app.state.sampler
    return sampler


def get_policy(conn: HTTPConnection) -> HostPolicy:
    policy: HostPolicy = conn.app.state.policy
    return policy


def get_started(request: Request) -> float:
    started: float = request.app.state.started
    return started


SettingsDep = Annotated[Settings, Depends(get_settings)]
HubDep = Annotated[Hub, Depends(get_hub)]
SamplerDep = Annotated[Sampler, Depends(get_sampler)]
PolicyDep = Annotated[HostPolicy, Depends(get_policy)]
