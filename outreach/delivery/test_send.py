"""Test sends: a campaign as a chosen contact (or a neutral recipient) would get it, subject
prefixed `[TEST] `, sent at once over SMTP to a few addresses. No outbox rows, no change to the
campaign, no List-Unsubscribe header; the unsubscribe and preference links in the body point to a
placeholder token, so a tester clicking them unsubscribes nobody.
"""

from __future__ import annotations

from dataclasses import replace

from flask import current_app
from sqlalchemy.orm import Session

from outreach.campaigns.models import Campaign
from outreach.contacts.models import Contact
from outreach.contacts.validation import FieldError, normalise_email
from outreach.core.errors import ServiceError
from outreach.delivery import transport as smtp
from outreach.delivery.message import AddressError, CampaignHeaders, LinkBuilder, MessageFactory

MAX_TEST_ADDRESSES = 10
TEST_PREFIX = "[TEST] "
TEST_TOKEN = "test"


def recipient_for_test(campaign: Campaign, sample: Contact | None, language: str | None):
    """The sample contact as the renderer sees it, else the renderer's fictional contact."""
    from outreach.campaigns.rendering import recipient_for, sample_recipient

    if sample is None:
        return sample_recipient(language or campaign.default_language)
    return replace(recipient_for(sample), language=language or sample.language)


def _addresses(addresses: list[str]) -> list[str]:
    cleaned: list[str] = []
    for raw in addresses:
        if not raw.strip():
            continue
        try:
            email, _key = normalise_email(raw)
        except FieldError as exc:
            raise ServiceError(f"{raw.strip()}: {exc}", {"addresses": str(exc)}) from None
        if email not in cleaned:
            cleaned.append(email)
    if not cleaned:
        raise ServiceError("Enter at least one address.", {"addresses": "Enter an address."})
    if len(cleaned) > MAX_TEST_ADDRESSES:
        message = f"Send a test to at most {MAX_TEST_ADDRESSES} addresses."
        raise ServiceError(message, {"addresses": message})
    return cleaned


def send_test(
    session: Session,
    campaign: Campaign,
    addresses: list[str],
    sample: Contact | None = None,
    *,
    language: str | None = None,
) -> int:
    """Send the test; returns how many were accepted. ServiceError for bad addresses, or when the
    server refused some (the message says which and why) or could not be reached."""
    from outreach.campaigns.rendering import PreparedCampaign

    recipients = _addresses(addresses)
    config = current_app.config
    prepared = PreparedCampaign.prepare(session, campaign)
    links = LinkBuilder(config)
    recipient = recipient_for_test(campaign, sample, language)
    rendered = prepared.render(
        recipient,
        unsubscribe_url=links.unsubscribe(TEST_TOKEN),
        preferences_url=links.preferences(TEST_TOKEN, recipient.language),
    )
    rendered = replace(rendered, subject=TEST_PREFIX + rendered.subject)
    factory = MessageFactory(CampaignHeaders.for_campaign(campaign, config), config, bulk=False)
    sent = 0
    problems: list[str] = []
    with smtp.SmtpTransport(timeout=config["DELIVERY_SMTP_TIMEOUT"]) as transport:
        for address in recipients:
            try:
                message = factory.build(rendered, to_email=address)
            except AddressError as exc:
                problems.append(f"{address}: {exc}")
                continue
            outcome = transport.send(message)
            if outcome.kind == smtp.SENT:
                sent += 1
            elif outcome.kind == smtp.UNAVAILABLE:
                raise ServiceError(f"The mail server could not be reached ({outcome.reply}).")
            else:
                problems.append(f"{address}: {outcome.reply}")
    if problems:
        done = f"Test sent to {sent} address(es). " if sent else ""
        raise ServiceError(done + "Not sent to " + "; ".join(problems))
    return sent
