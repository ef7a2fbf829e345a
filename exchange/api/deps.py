"""Request-level dependencies: the hub from app.state, and who is calling."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from exchange.auth import AuthError, authenticate
from exchange.hub import Hub
from exchange.ingest import Principal


def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]


def get_principal(hub: HubDep, authorization: Annotated[str | None, Header()] = None) -> Principal:
    with hub.engine.connect() as conn:
        return authenticate(conn, authorization)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def get_admin(principal: PrincipalDep) -> Principal:
    if not principal.is_admin:
        raise AuthError(403, "Only administrators may do this; your token is for data provider "
                             f"{principal.provider}.")
    return principal


AdminDep = Annotated[Principal, Depends(get_admin)]
