"""Compact signed tokens for tracked links and the open pixel: (outbox row, link) and an HMAC.

A token is `<payload>.<signature>`, both base64url: the payload packs the outbox row id and the
link id (0 for the open pixel), the signature is the first 12 bytes of an HMAC-SHA256 keyed from
SECRET_KEY. Anything that does not verify reads as None: callers answer 404.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct

from flask import current_app

PACKING = struct.Struct(">QI")
SIGNATURE_BYTES = 12
OPEN_LINK = 0


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"outreach.engagement", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Signs many tokens with one derived key (one per worker or request)."""

    def __init__(self, secret: str | None = None):
        self.key = _key(secret or current_app.config["SECRET_KEY"])

    def _signature(self, payload: bytes) -> bytes:
        return hmac.new(self.key, payload, hashlib.sha256).digest()[:SIGNATURE_BYTES]

    def sign(self, outbox_id: int, link_id: int = OPEN_LINK) -> str:
        payload = PACKING.pack(outbox_id, link_id)
        return f"{_b64(payload)}.{_b64(self._signature(payload))}"

    def verify(self, token: str) -> tuple[int, int] | None:
        """(outbox id, link id), or None for anything tampered, truncated or malformed."""
        head, dot, tail = (token or "").partition(".")
        if not dot or len(token) > 64:
            return None
        try:
            payload, signature = _unb64(head), _unb64(tail)
        except (binascii.Error, ValueError):
            return None
        if len(payload) != PACKING.size or not hmac.compare_digest(
            signature, self._signature(payload)
        ):
            return None
        return PACKING.unpack(payload)
