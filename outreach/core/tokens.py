"""Signed tokens for links in emails (itsdangerous), one salt per purpose.

A tampered token is indistinguishable from garbage: `TokenInvalid` says nothing about whose it was.
An expired token's signature is still checked, so `TokenExpired.payload` can be trusted (to offer a
new link) without accepting the token itself.

Signing writes the itsdangerous `URLSafeTimedSerializer` format (payload.timestamp.signature) with
a direct HMAC: the key is derived once per purpose and secret, and `sign_many` signs a whole batch
with one timestamp, which is what the delivery worker needs for two links per message. Verifying
goes through itsdangerous itself, so both ends always agree on the format.
"""

from __future__ import annotations

import hmac
import json
import time
import zlib
from base64 import urlsafe_b64encode
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

COMPRESS_FROM = 64  # shorter JSON hardly ever shrinks under zlib (either form verifies)


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


def _b64(data: bytes) -> bytes:
    return urlsafe_b64encode(data).rstrip(b"=")


# What itsdangerous writes: compact JSON, non-ASCII kept as UTF-8.
_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@lru_cache(maxsize=32)
def _signing_key(secret_key: str | bytes, purpose: str) -> tuple[bytes, str]:
    """The derived HMAC key and digest name of one purpose (derived once, not per token)."""
    signer = URLSafeTimedSerializer(secret_key, salt=f"outreach.{purpose}").make_signer()
    return signer.derive_key(), signer.digest_method().name


def _dump(payload: Any) -> bytes:
    """The payload part: compact JSON in URL-safe base64; longer payloads are compressed (with a
    leading dot) when that makes them shorter, as itsdangerous does."""
    data = _encode_json(payload).encode("utf-8")
    if len(data) > COMPRESS_FROM:
        compressed = zlib.compress(data)
        if len(compressed) < len(data) - 1:
            return b"." + _b64(compressed)
    return _b64(data)


def sign_many(purpose: str, payloads: Iterable[Any]) -> list[str]:
    """One token per payload, all with the same timestamp."""
    key, digest = _signing_key(current_app.config["SECRET_KEY"], purpose)
    stamp = int(time.time())
    suffix = b"." + _b64(stamp.to_bytes(8, "big").lstrip(b"\0"))
    signed = []
    for payload in payloads:
        value = _dump(payload) + suffix
        signature = _b64(hmac.digest(key, value, digest))
        signed.append((value + b"." + signature).decode("ascii"))
    return signed


def sign(purpose: str, payload: Any) -> str:
    return sign_many(purpose, (payload,))[0]


def verify(purpose: str, token: str, max_age: int | None = None) -> Any:
    serializer = _serializer(purpose)
    try:
        return serializer.loads(token, max_age=max_age)
    except SignatureExpired:
        valid, payload = serializer.loads_unsafe(token)
        raise TokenExpired(payload if valid else None) from None
    except BadSignature:
        raise TokenInvalid("invalid token") from None
