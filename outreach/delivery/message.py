"""Campaign messages as ready-to-send bytes.

`MessageFactory` does once per campaign what is the same for every recipient (the From, Reply-To
and List-Id headers, the MIME skeleton per language with fixed boundaries) and per recipient fills
in only To, Subject, Date, Message-ID, List-Unsubscribe and the two quoted-printable parts.

Encoding rules (RFC 5322, 2047, 2369, 8058, 6531): non-ASCII header text becomes RFC 2047 encoded
words, folded so that no line passes 78 characters; internationalised domains are sent in IDNA
(`xn--`) form; a non-ASCII local part needs a server offering SMTPUTF8 (`BuiltMessage.smtputf8`);
body parts are UTF-8 quoted-printable (lines of at most 76 characters), text first, then HTML.
`BuiltMessage.message_id` is stored on the outbox row exactly as in the header, angle brackets
included; the envelope sender is `bounces+<outbox id>@MAIL_DOMAIN` (VERP).
"""

from __future__ import annotations

import binascii
import re
import secrets
import time
from base64 import b64encode
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parseaddr
from typing import Any

import idna

LIST_UNSUBSCRIBE_POST = "List-Unsubscribe=One-Click"
MAX_LINE = 78
# RFC 5322 atext plus space: a display name made only of these needs no quoting.
_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]*")
_NEWLINES = re.compile(r"[\r\n]+")
# Never in an address we write: they would break the header or the envelope.
_FORBIDDEN = re.compile(r'[\r\n<>" ,;]')


class AddressError(ValueError):
    """An address that cannot be put in a message."""


@dataclass(frozen=True, slots=True)
class Address:
    header: str  # as written in the To/From header (IDNA domain; UTF-8 local part if any)
    envelope: str  # for MAIL FROM / RCPT TO
    smtputf8: bool  # True when the local part is not ASCII


@dataclass(frozen=True, slots=True)
class CampaignHeaders:
    """What every message of a campaign shares."""

    from_name: str
    from_email: str
    reply_to: str = ""
    list_name: str = ""  # with list_id: the List-Id header, e.g. "Outreach newsletter"
    list_id: str = ""  # e.g. "newsletter.lists.example.org"

    @classmethod
    def for_list(cls, config: Mapping[str, Any], slug: str, label: str) -> CampaignHeaders:
        """Messages Outreach sends on its own behalf (alerts, digests): from MAIL_DEFAULT_SENDER,
        List-Id `<slug>.lists.<MAIL_DOMAIN>` named "<organisation> <label>"."""
        organisation = config.get("ORGANISATION_NAME") or "Outreach"
        name, email = parseaddr(config.get("MAIL_DEFAULT_SENDER") or "")
        return cls(
            from_name=name or organisation,
            from_email=email,
            list_name=f"{organisation} {label}",
            list_id=f"{slug}.lists.{ascii_domain(config['MAIL_DOMAIN'])}",
        )

    @classmethod
    def for_campaign(cls, campaign, config: Mapping[str, Any]) -> CampaignHeaders:
        """From the campaign's sender (falling back to MAIL_DEFAULT_SENDER) and its topic."""
        default_name, default_email = parseaddr(config.get("MAIL_DEFAULT_SENDER") or "")
        organisation = config.get("ORGANISATION_NAME") or "Outreach"
        topic = (campaign.topic or "newsletter").replace("_", "-")
        return cls(
            from_name=campaign.sender_name or default_name or organisation,
            from_email=campaign.sender_email or default_email,
            reply_to=campaign.reply_to or "",
            list_name=f"{organisation} {topic.replace('-', ' ')}",
            list_id=f"{topic}.lists.{ascii_domain(config['MAIL_DOMAIN'])}",
        )


@dataclass(frozen=True, slots=True)
class BuiltMessage:
    data: bytes
    message_id: str
    envelope_from: str
    recipient: str
    smtputf8: bool


# -- encoding helpers


def clean_header_text(value: str) -> str:
    """No CR or LF may reach a header (header injection): they become one space."""
    return _NEWLINES.sub(" ", value).strip() if ("\r" in value or "\n" in value) else value


def ascii_domain(domain: str) -> str:
    domain = domain.strip().rstrip(".")
    if domain.isascii():
        return domain
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise AddressError(f"invalid domain {domain!r}: {exc}") from None


def encode_address(address: str) -> Address:
    """Split `address` into its header and envelope forms (IDNA domain)."""
    address = address.strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or _FORBIDDEN.search(address):
        raise AddressError(f"invalid address {address!r}")
    if not (address.isascii() and address.isprintable()) and (
        any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in address)
        or not all(ch.isprintable() for ch in local)
    ):
        raise AddressError(f"invalid address {address!r}")
    full = f"{local}@{ascii_domain(domain)}"
    return Address(full, full, not local.isascii())


def encoded_words(value: str, first_line_used: int = 0) -> str:
    """RFC 2047 base64 encoded words, split on character boundaries, folded to 78 columns."""
    words: list[str] = []
    chunk = bytearray()
    # "=?utf-8?b?" + base64 + "?=" must fit in 75 characters: at most 45 bytes per word.
    limit = 45 if first_line_used == 0 else max(9, (75 - 12 - first_line_used) // 4 * 3)
    for char in value:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > limit and chunk:
            words.append(f"=?utf-8?b?{b64encode(chunk).decode('ascii')}?=")
            chunk = bytearray()
            limit = 45
        chunk += encoded
    if chunk or not words:
        words.append(f"=?utf-8?b?{b64encode(chunk).decode('ascii')}?=")
    return "\r\n ".join(words)


def fold_ascii(value: str, first_line_used: int) -> str:
    """Fold an ASCII value at spaces so lines stay within 78 characters where possible."""
    if first_line_used + len(value) <= MAX_LINE:
        return value
    lines: list[str] = []
    current = ""
    used = first_line_used
    for word in value.split(" "):
        candidate = f"{current} {word}" if current else word
        if current and used + len(candidate) > MAX_LINE:
            lines.append(current)
            current, used = word, 1
        else:
            current = candidate
    lines.append(current)
    return "\r\n ".join(lines)


def encode_text(value: str, first_line_used: int = 0) -> str:
    """An unstructured header value (Subject): ASCII as is, else RFC 2047 encoded words."""
    value = clean_header_text(value)
    if (
        value.isascii()
        and value.isprintable()
        and "=?" not in value
        and all(len(word) <= 70 for word in value.split(" "))
    ):
        return fold_ascii(value, first_line_used)
    return encoded_words(value, first_line_used)


def encode_phrase(name: str) -> str:
    """A display name: bare atoms, a quoted string, or encoded words when not ASCII."""
    name = clean_header_text(name)
    if not name:
        return ""
    if name.isascii() and name.isprintable():
        if _ATEXT.fullmatch(name) and "=?" not in name:
            return name
        if "=?" not in name:
            return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return encoded_words(name)


def format_address(name: str, address: Address) -> str:
    phrase = encode_phrase(name)
    return f"{phrase} <{address.header}>" if phrase else address.header


class LineEncoder:
    """Quoted-printable encoding with a cache of encoded lines.

    Quoted-printable is line-local, so a text can be encoded line by line; most lines of a
    campaign are the same for every recipient (only those with merge values differ), so they are
    encoded once. Those lines all appear in the first messages, so the cache keeps the first
    `limit` distinct lines and then stops growing: memory stays bounded whatever the values.
    """

    def __init__(self, limit: int = 4096):
        self.limit = limit
        self.lines: dict[str, bytes] = {}

    def encode(self, text: str) -> bytes:
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        get = self.lines.get
        return b"\r\n".join(
            [
                done if (done := get(line)) is not None else self._miss(line)
                for line in text.split("\n")
            ]
        )

    def _miss(self, line: str) -> bytes:
        done = binascii.b2a_qp(line.encode("utf-8"), istext=True)
        if b"\n" in done:  # soft line breaks of a long line
            done = done.replace(b"\n", b"\r\n")
        if len(self.lines) < self.limit:
            self.lines[line] = done
        return done


class _Clock:
    """The Date header, formatted once per second."""

    __slots__ = ("second", "text")

    def __init__(self) -> None:
        self.second = -1
        self.text = ""

    def date(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        second = int(now)
        if second != self.second:
            self.second = second
            self.text = format_datetime(datetime.fromtimestamp(second, UTC))
        return self.text


class MessageFactory:
    """Prebuilt headers and MIME skeleton; `build` fills one recipient's fields into them.

    `bulk=False` (test sends): no List-Unsubscribe, List-Unsubscribe-Post or List-Id.
    DKIM signing applies when the config names a private key (`DKIM_PRIVATE_KEY_PATH`).
    """

    def __init__(self, headers: CampaignHeaders, config: Mapping[str, Any], *, bulk: bool = True):
        from outreach.delivery.dkim import signer_from_config

        self.domain = ascii_domain(config["MAIL_DOMAIN"])
        self.bulk = bulk
        self.sender = encode_address(headers.from_email)
        self.boundary = f"=_outreach_{secrets.token_hex(12)}"
        self.signer = signer_from_config(config)
        self._clock = _Clock()
        self._skeletons: dict[str, tuple[str, bytes, bytes, bytes]] = {}
        self._subjects: dict[str, str] = {}
        self._qp = LineEncoder()
        fixed = [f"From: {format_address(headers.from_name, self.sender)}"]
        if headers.reply_to:
            fixed.append(f"Reply-To: {format_address('', encode_address(headers.reply_to))}")
        if bulk and headers.list_id:
            name = encode_phrase(headers.list_name)
            fixed.append(
                f"List-Id: {name} <{headers.list_id}>" if name else f"List-Id: <{headers.list_id}>"
            )
        self._fixed_from = fixed[0]
        self._fixed_rest = "\r\n".join(fixed[1:])

    def _skeleton(self, language: str) -> tuple[str, bytes, bytes, bytes]:
        """(header tail, text part head, html part head, closing) for one language."""
        skeleton = self._skeletons.get(language)
        if skeleton is None:
            tail = [self._fixed_rest] if self._fixed_rest else []
            if self.bulk:
                tail.append(f"List-Unsubscribe-Post: {LIST_UNSUBSCRIBE_POST}")
            tail += [
                "MIME-Version: 1.0",
                f'Content-Type: multipart/alternative;\r\n boundary="{self.boundary}"',
                f"Content-Language: {clean_header_text(language)}",
            ]
            part = (
                '--{b}\r\nContent-Type: text/{kind}; charset="utf-8"\r\n'
                "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            )
            skeleton = (
                "\r\n".join(tail) + "\r\n\r\n",
                part.format(b=self.boundary, kind="plain").encode("ascii"),
                ("\r\n" + part.format(b=self.boundary, kind="html")).encode("ascii"),
                f"\r\n--{self.boundary}--\r\n".encode("ascii"),
            )
            self._skeletons[language] = skeleton
        return skeleton

    def _subject(self, subject: str) -> str:
        encoded = self._subjects.get(subject)
        if encoded is None:
            if len(self._subjects) > 64:
                self._subjects.clear()
            encoded = encode_text(subject, len("Subject: "))
            self._subjects[subject] = encoded
        return encoded

    def new_message_id(self) -> str:
        return f"<{secrets.token_hex(12)}@{self.domain}>"

    def envelope_from(self, outbox_id: int | None) -> str:
        local = f"bounces+{outbox_id}" if outbox_id is not None else "bounces"
        return f"{local}@{self.domain}"

    def build(
        self,
        rendered,
        *,
        to_email: str,
        to_name: str = "",
        outbox_id: int | None = None,
        unsubscribe_url: str | None = None,
        unsubscribe_token: str | None = None,
        now: float | None = None,
    ) -> BuiltMessage:
        """The message for one recipient. Raises AddressError for an address we cannot write."""
        to = encode_address(to_email)
        message_id = self.new_message_id()
        head, text_head, html_head, closing = self._skeleton(rendered.language)
        lines = [
            f"Date: {self._clock.date(now)}",
            f"Message-ID: {message_id}",
            f"Subject: {self._subject(rendered.subject)}",
            self._fixed_from,
            f"To: {format_address(to_name, to)}",
        ]
        if self.bulk and unsubscribe_url:
            token = unsubscribe_token or unsubscribe_url.rstrip("/").rpartition("/")[2]
            lines.append(
                f"List-Unsubscribe: <{unsubscribe_url}>,\r\n"
                f" <mailto:unsubscribe@{self.domain}?subject={token}>"
            )
        header = "\r\n".join(lines) + "\r\n" + head
        data = b"".join(
            (
                header.encode("utf-8"),
                text_head,
                self._qp.encode(rendered.text),
                html_head,
                self._qp.encode(rendered.html),
                closing,
            )
        )
        if self.signer is not None:
            data = self.signer.sign(data)
        return BuiltMessage(
            data=data,
            message_id=message_id,
            envelope_from=self.envelope_from(outbox_id),
            recipient=to.envelope,
            smtputf8=to.smtputf8 or self.sender.smtputf8,
        )


class LinkBuilder:
    """Unsubscribe and preference-centre URLs per recipient without a URL build per message:
    each URL is built once with a placeholder token, then only the token is swapped in."""

    PLACEHOLDER = "OUTREACH-TOKEN-PLACEHOLDER"
    LANGUAGES = ("en", "fr", "es")

    def __init__(self, config: Mapping[str, Any]):
        from werkzeug.routing import BuildError

        from outreach.core.urls import public_url

        base = config["PUBLIC_BASE_URL"].rstrip("/")
        token = self.PLACEHOLDER
        try:
            self._unsubscribe = public_url("public_links.unsubscribe", token=token)
        except BuildError:
            self._unsubscribe = f"{base}/u/{token}"
        self._preferences: dict[str, str] = {}
        for lang in self.LANGUAGES:
            try:
                url = public_url("public.preferences", lang=lang, token=token)
            except BuildError:
                url = f"{base}/{lang}/preferences/{token}"
            self._preferences[lang] = url

    def unsubscribe(self, token: str) -> str:
        return self._unsubscribe.replace(self.PLACEHOLDER, token)

    def preferences(self, token: str, language: str) -> str:
        template = self._preferences.get(language) or self._preferences["en"]
        return template.replace(self.PLACEHOLDER, token)
