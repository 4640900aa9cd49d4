"""Message bytes: parsed back with the standard library, they say what was rendered."""

from __future__ import annotations

import base64
import binascii
import re
import shutil
import subprocess
from email import message_from_bytes, message_from_string, policy
from email.utils import parsedate_to_datetime

import dkim
import pytest

from outreach.campaigns.rendering import Rendered
from outreach.delivery.dkim import SIGNED_HEADERS, signer_from_config
from outreach.delivery.message import (
    AddressError,
    CampaignHeaders,
    LineEncoder,
    MessageFactory,
    encode_address,
    encode_text,
)

CONFIG = {"MAIL_DOMAIN": "mail.example.org"}
HEADERS = CampaignHeaders(
    from_name="UPR Info",
    from_email="news@example.org",
    reply_to="team@example.org",
    list_name="UPR Info newsletter",
    list_id="newsletter.lists.mail.example.org",
)
FRENCH = Rendered(
    language="fr",
    subject="Lettre d'information : l'Examen périodique universel, 47e session à Genève",
    html="<!doctype html><html><body><p>Chère Éloïse,</p><p>" + "é" * 300 + "</p>\n"
    ".\n<p>Fin</p></body></html>",
    text="Chère Éloïse,\n\nLa session commence le 4 novembre.\n"
    ". une ligne qui commence par un point\n"
    "Une ligne avec un espace final \n" + "x" * 1200,
)
UNSUBSCRIBE = "https://outreach.example.org/u/eyJjIjoxfQ.abc-DEF_123"


def parse(data: bytes):
    return message_from_bytes(data, policy=policy.default)


def lines_of(data: bytes) -> list[bytes]:
    return data.split(b"\r\n")


def build(rendered=FRENCH, **kwargs):
    factory = MessageFactory(HEADERS, CONFIG)
    options = {
        "to_email": "eloise@example.org",
        "to_name": "Éloïse Müller",
        "outbox_id": 7,
        "unsubscribe_url": UNSUBSCRIBE,
        "unsubscribe_token": "eyJjIjoxfQ.abc-DEF_123",
    }
    options.update(kwargs)
    return factory.build(rendered, **options)


def test_parsed_back_the_message_says_what_was_rendered():
    built = build()
    message = parse(built.data)

    assert message["Subject"] == FRENCH.subject
    assert message["To"].addresses[0].display_name == "Éloïse Müller"
    assert message["To"].addresses[0].addr_spec == "eloise@example.org"
    assert str(message["From"]) == "UPR Info <news@example.org>"
    assert str(message["Reply-To"]) == "team@example.org"
    assert message["Content-Language"] == "fr"
    assert message["MIME-Version"] == "1.0"
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    for part, expected in zip(parts, (FRENCH.text, FRENCH.html), strict=True):
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
        assert part.get_content_charset() == "utf-8"
        assert part.get_content().replace("\r\n", "\n").rstrip("\n") == expected


def test_headers_required_of_bulk_mail():
    built = build()
    message = parse(built.data)

    assert built.message_id == message["Message-ID"]
    assert re.fullmatch(r"<[0-9a-f]{24}@mail\.example\.org>", built.message_id)
    assert build().message_id != built.message_id
    assert str(message["List-Unsubscribe"]) == (
        f"<{UNSUBSCRIBE}>, <mailto:unsubscribe@mail.example.org?subject=eyJjIjoxfQ.abc-DEF_123>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Id"] == "UPR Info newsletter <newsletter.lists.mail.example.org>"
    assert parsedate_to_datetime(message["Date"]).utcoffset().total_seconds() == 0
    assert built.envelope_from == "bounces+7@mail.example.org"
    assert built.recipient == "eloise@example.org"
    assert not built.smtputf8


def test_lines_stay_short_and_ascii():
    built = build()
    assert all(len(line) <= 998 for line in lines_of(built.data))
    header, _, body = built.data.partition(b"\r\n\r\n")
    long_lines = [line for line in lines_of(header) if len(line) > 78]
    assert all(line.startswith(b"List-Unsubscribe: <https://") for line in long_lines)
    assert all(len(line) <= 76 for line in lines_of(body))
    assert built.data.isascii()
    assert b"\n" not in built.data.replace(b"\r\n", b"")


def test_non_ascii_names_and_subjects_are_rfc2047_encoded():
    built = build(
        to_name="José", rendered=Rendered("es", "Boletín: sesión 47", "<p>Hola</p>", "Hola")
    )
    header = built.data.partition(b"\r\n\r\n")[0].decode("ascii")
    assert "=?utf-8?b?" in header
    message = parse(built.data)
    assert message["Subject"] == "Boletín: sesión 47"
    assert message["To"].addresses[0].display_name == "José"


def test_names_with_specials_are_quoted_and_newlines_cannot_inject_headers():
    built = build(
        to_name='Smith, "Jo" (UPR)',
        rendered=Rendered("en", "Hi\r\nBcc: victim@example.org", "<p>x</p>", "x"),
    )
    message = parse(built.data)
    assert message["To"].addresses[0].display_name == 'Smith, "Jo" (UPR)'
    assert message["Subject"] == "Hi Bcc: victim@example.org"
    assert message["Bcc"] is None


def test_internationalised_domain_is_sent_in_idna_form():
    built = build(to_email="eloise@exämple.org")
    assert built.recipient == "eloise@xn--exmple-cua.org"
    assert parse(built.data)["To"].addresses[0].domain == "xn--exmple-cua.org"
    assert not built.smtputf8


def test_non_ascii_local_part_needs_smtputf8():
    built = build(to_email="josé@exämple.org", to_name="José")
    assert built.smtputf8
    assert built.recipient == "josé@xn--exmple-cua.org"
    # RFC 6532: the header is UTF-8, which only an SMTPUTF8 session may carry.
    message = message_from_string(built.data.decode("utf-8"), policy=policy.default)
    assert message["To"].addresses[0].username == "josé"
    assert message["To"].addresses[0].display_name == "José"


def test_bad_addresses_are_refused():
    for address in ("no-at-sign", "a@b@", "x@example.org\r\nBcc: y@example.org", "a b@example.org"):
        with pytest.raises(AddressError):
            encode_address(address)


def test_address_checks_hold_on_the_ascii_fast_path_and_off_it():
    refused = [
        "a\tb@example.org",
        "a\x7fb@example.org",
        "a\x00b@example.org",
        "<a@example.org>",
        'a"b@example.org',
        "a,b@example.org",
        "a;b@example.org",
        "josé\u200b@example.org",  # not printable, outside ASCII
        "josé\x85@example.org",
    ]
    for address in refused:
        with pytest.raises(AddressError):
            encode_address(address)
    assert encode_address(" a.b+c@example.org ").envelope == "a.b+c@example.org"
    assert encode_address("josé@example.org").smtputf8
    assert encode_address("a@bücher.example").envelope == "a@xn--bcher-kva.example"


def test_long_subjects_fold_and_survive():
    subject = "A very long subject " * 12
    encoded = encode_text(subject.strip(), len("Subject: "))
    assert all(len(line) <= 78 for line in ("Subject: " + encoded).split("\r\n"))
    built = build(rendered=Rendered("en", subject.strip(), "<p>x</p>", "x"))
    assert parse(built.data)["Subject"] == subject.strip()


def test_test_messages_carry_no_list_headers():
    factory = MessageFactory(HEADERS, CONFIG, bulk=False)
    built = factory.build(FRENCH, to_email="tester@example.org")
    message = parse(built.data)
    assert message["List-Unsubscribe"] is None
    assert message["List-Unsubscribe-Post"] is None
    assert message["List-Id"] is None
    assert built.envelope_from == "bounces@mail.example.org"


def test_campaign_headers_fall_back_to_the_default_sender():
    class Bare:
        topic = "pre_session"
        sender_name = ""
        sender_email = ""
        reply_to = ""

    config = {
        "MAIL_DEFAULT_SENDER": "Outreach <outreach@example.org>",
        "MAIL_DOMAIN": "mail.example.org",
        "ORGANISATION_NAME": "UPR Info",
    }
    headers = CampaignHeaders.for_campaign(Bare(), config)
    assert (headers.from_name, headers.from_email) == ("Outreach", "outreach@example.org")
    assert headers.list_id == "pre-session.lists.mail.example.org"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is needed to make a key")
def test_dkim_signature_verifies_and_covers_the_unsubscribe_headers(tmp_path):
    key = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    config = {
        **CONFIG,
        "DKIM_PRIVATE_KEY_PATH": str(key),
        "DKIM_SELECTOR": "s1",
        "DKIM_DOMAIN": "example.org",
    }
    assert signer_from_config(config) is not None
    built = MessageFactory(HEADERS, config).build(
        FRENCH, to_email="eloise@example.org", unsubscribe_url=UNSUBSCRIBE, outbox_id=1
    )
    asked = []

    def dns(name, timeout=5):
        asked.append(name)
        return record if name == b"s1._domainkey.example.org." else None

    assert dkim.verify(built.data, dnsfunc=dns)
    assert asked == [b"s1._domainkey.example.org."]
    signature = parse(built.data)["DKIM-Signature"]
    signed = {
        name.strip().lower() for name in re.search(r"h=([^;]+)", signature).group(1).split(":")
    }
    assert {
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
    } <= signed
    assert len(SIGNED_HEADERS) == len(set(SIGNED_HEADERS))
    tampered = built.data.replace(
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        b"List-Unsubscribe-Post: List-Unsubscribe=Two-Clicks",
    )
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_no_dkim_without_a_key():
    assert signer_from_config(CONFIG) is None
    assert b"DKIM-Signature" not in build().data


def test_line_by_line_quoted_printable_decodes_to_the_text():
    encoder = LineEncoder(limit=3)  # a tiny cache: most lines take the uncached path
    texts = [
        FRENCH.html,
        FRENCH.text,
        "trailing space \nand tab\t\n.\n=equals= and é\r\nwindows line\rold mac",
        "x" * 500 + "\n" + "é" * 100,
        "",
    ]
    for text in texts * 2:
        encoded = encoder.encode(text)
        assert all(len(line) <= 76 for line in encoded.split(b"\r\n"))
        assert b"\n" not in encoded.replace(b"\r\n", b"")
        expected = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
        assert binascii.a2b_qp(encoded).decode("utf-8") == expected
    assert len(encoder.lines) == 3
