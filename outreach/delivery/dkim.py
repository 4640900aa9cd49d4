"""Optional DKIM signing (dkimpy) of outgoing campaign messages.

On when `DKIM_PRIVATE_KEY_PATH` names a PEM RSA key; the signature's domain is `DKIM_DOMAIN`
(default `MAIL_DOMAIN`) and its selector `DKIM_SELECTOR`, so the public key is published as the
TXT record `SELECTOR._domainkey.DOMAIN`. The headers mailbox providers require for one-click
unsubscribe are covered (RFC 8058 section 4).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import dkim

SIGNED_HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
    "Content-Type",
)


class DkimSigner:
    def __init__(self, private_key: bytes, selector: str, domain: str):
        self.private_key = private_key
        self.selector = selector.encode("ascii")
        self.domain = domain.encode("ascii")
        self.include = [name.encode("ascii") for name in SIGNED_HEADERS]

    def signature(self, message: bytes) -> bytes:
        """The `DKIM-Signature:` header line (CRLF-terminated) for `message`."""
        return dkim.sign(
            message,
            self.selector,
            self.domain,
            self.private_key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=self.include,
        )

    def sign(self, message: bytes) -> bytes:
        return self.signature(message) + message


@lru_cache(maxsize=8)
def _load(path: str, selector: str, domain: str) -> DkimSigner:
    return DkimSigner(Path(path).read_bytes(), selector, domain)


def signer_from_config(config: Mapping[str, Any]) -> DkimSigner | None:
    path = config.get("DKIM_PRIVATE_KEY_PATH")
    if not path:
        return None
    from outreach.delivery.message import ascii_domain

    domain = ascii_domain(config.get("DKIM_DOMAIN") or config["MAIL_DOMAIN"])
    return _load(str(path), config.get("DKIM_SELECTOR") or "outreach", domain)
