"""Bearer tokens, stored as SHA-256 hashes, bound to a data provider (a country) or to an administrator."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from sqlalchemy import Connection, insert, or_, select, update

from exchange.ingest import Principal
from exchange.store.tables import api_token

TOKEN_PREFIX = "exh_"  # noqa: S105 - a visible prefix, not a secret


class AuthError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(conn: Connection, *, provider: str | None, admin: bool, label: str = "") -> tuple[int, str]:
    """Create a token and return (id, token). The token itself is shown once and never stored."""
    if admin == (provider is not None):
        raise ValueError("a token is either for one data provider or for an administrator")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    result = conn.execute(insert(api_token).values(
        token_sha256=_hash(token), provider=provider, is_admin=admin, label=label, created_at=datetime.now(UTC)))
    return int(result.inserted_primary_key[0]), token  # type: ignore[index]


def revoke_token(conn: Connection, token_or_id: str) -> int:
    """Revoke by token value or by numeric id; returns how many tokens were revoked."""
    match = api_token.c.token_sha256 == _hash(token_or_id)
    if token_or_id.isdigit():
        match = or_(match, api_token.c.id == int(token_or_id))
    result = conn.execute(update(api_token).where(match, api_token.c.revoked_at.is_(None))
                          .values(revoked_at=datetime.now(UTC)))
    return result.rowcount or 0


def authenticate(conn: Connection, authorization: str | None) -> Principal:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise AuthError(401, "This endpoint needs a bearer token: send 'Authorization: Bearer <token>'.")
    token = authorization.split(None, 1)[1].strip()
    row = conn.execute(select(api_token).where(api_token.c.token_sha256 == _hash(token))).first()
    if row is None:
        raise AuthError(401, "Unknown token. Ask the hub administrator for one (exchange token create).")
    if row.revoked_at is not None:
        raise AuthError(403, "This token has been revoked. Ask the hub administrator for a new one.")
    return Principal(row.id, row.provider, bool(row.is_admin))
