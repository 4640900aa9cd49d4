"""Create, find and revoke API tokens. Flushes, never commits."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from outreach.api.models import ApiToken
from outreach.auth.models import User
from outreach.core.database import utcnow
from outreach.core.errors import NotFound, ServiceError

TOKEN_PREFIX = "otk_"
NAME_MAX = 100
# `last_used_at` is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(session: Session, user: User, name: str = "") -> tuple[ApiToken, str]:
    """A new token for `user`, and its secret (shown once; only the hash is kept)."""
    name = " ".join((name or "").split())
    if len(name) > NAME_MAX:
        message = f"The name is too long (at most {NAME_MAX} characters)."
        raise ServiceError(message, {"name": message})
    if not user.active:
        raise ServiceError("This account is disabled; it cannot have API tokens.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=name or "API token",
        token_hash=hash_token(secret),
        prefix=secret[: len(TOKEN_PREFIX) + 6],
    )
    session.add(token)
    session.flush()
    return token, secret


def authenticate(session: Session, secret: str) -> ApiToken | None:
    """The active token with this secret whose user is active; notes when it was used."""
    if not secret:
        return None
    token = session.scalar(
        select(ApiToken)
        .where(ApiToken.token_hash == hash_token(secret), ApiToken.revoked_at.is_(None))
        .options(selectinload(ApiToken.user))
    )
    if token is None or not token.user.active:
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now  # the caller commits it
    return token


def visible_tokens(session: Session, user: User) -> list[ApiToken]:
    """The user's tokens, or every token for an admin; newest first."""
    stmt = select(ApiToken).options(selectinload(ApiToken.user)).order_by(ApiToken.id.desc())
    if user.role != "admin":
        stmt = stmt.where(ApiToken.user_id == user.id)
    return list(session.scalars(stmt))


def revoke_token(session: Session, user: User, token_id: int) -> ApiToken:
    """Revoke a token of `user` (an admin may revoke anyone's); revoking twice is harmless."""
    token = session.get(ApiToken, token_id)
    if token is None or (token.user_id != user.id and user.role != "admin"):
        raise NotFound("There is no such token.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
    return token
