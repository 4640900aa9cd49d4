"""Signed tokens for links in emails (itsdangerous), one salt per purpose.

A tampered token is indistinguishable from garbage: `TokenInvalid` says nothing about whose it was.
An expired token's signature is still checked, so `TokenExpired.payload` can be trusted (to offer a
new link) without accepting the token itself.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


class TokenError(Exception):
    pass


class TokenInvalid(TokenError):
    pass


class TokenExpired(TokenError):
    def __init__(self, payload: Any):
        super().__init__("token expired")
        self.payload = payload


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"outreach.{purpose}")


def sign(purpose: str, payload: Any) -> str:
    return _serializer(purpose).dumps(payload)


def verify(purpose: str, token: str, max_age: int | None = None) -> Any:
    serializer = _serializer(purpose)
    try:
        return serializer.loads(token, max_age=max_age)
    except SignatureExpired:
        valid, payload = serializer.loads_unsafe(token)
        raise TokenExpired(payload if valid else None) from None
    except BadSignature:
        raise TokenInvalid("invalid token") from None
