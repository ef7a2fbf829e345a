"""Request-level dependencies: the hub from app.state, and who is calling."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from exchange.api.observe import note
from exchange.auth import AuthError, authenticate
from exchange.hub import Hub
from exchange.ingest import Principal


def get_hub(request: Request) -> Hub:
    """The hub, its structures brought up to date first (another process may have registered some: issue #15)."""
    hub: Hub = request.app.state.hub
    hub.refresh()
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]


#: The bearer token, declared in the OpenAPI document as a security scheme. Checked by ``authenticate`` from the
#: raw header (auto_error off), so a missing or malformed header gets the hub's own 401 explaining the fix.
BEARER = HTTPBearer(auto_error=False, description="A token from `exchange token`: Authorization: Bearer <token>.")


def get_principal(hub: HubDep, request: Request,
                  _declared: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None) -> Principal:
    with hub.engine.connect() as conn:
        principal = authenticate(conn, request.headers.get("authorization"))
    note(provider=principal.provider, admin=principal.is_admin)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def get_admin(principal: PrincipalDep) -> Principal:
    if not principal.is_admin:
        raise AuthError(403, "Only administrators may do this; your token is for data provider "
                             f"{principal.provider}.")
    return principal


AdminDep = Annotated[Principal, Depends(get_admin)]
