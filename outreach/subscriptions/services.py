"""Subscriptions without an account: subscribe, confirm, preferences, unsubscribe, erase.

Double opt-in: `subscribe` never changes an existing contact. The preferences asked for travel
inside the signed confirmation link and are applied only when the owner of the address opens it, so
nobody can subscribe, change or knock out someone else's address, and the answer is the same whether
the address was known or not. A brand-new address gets a contact with a *pending* subscription,
which receives nothing until confirmed.

A link is "already used" when the subscription's `confirm_nonce` has moved past the nonce it carries
(every confirmation bumps it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from outreach.audit.services import forget_object
from outreach.audit.services import record as audit_record
from outreach.auth.permissions import ensure_role, require_role
from outreach.contacts.models import CONTACT_TYPES, LANGUAGES, Contact
from outreach.contacts.services import find_contact_by_email, get_or_create_organisation
from outreach.contacts.services import set_countries as set_contact_countries
from outreach.contacts.validation import (
    FieldError,
    hash_email_key,
    normalise_email,
)
from outreach.core import tokens
from outreach.core.countries import is_country_code
from outreach.core.database import utcnow
from outreach.core.errors import ServiceError
from outreach.subscriptions.models import (
    ALERT_FREQUENCIES,
    TOPICS,
    ConsentRecord,
    Subscription,
    SubscriptionSession,
    SubscriptionTopic,
    Suppression,
)

CONFIRM = "confirm"
PREFERENCES = "preferences"
UNSUBSCRIBE = "unsubscribe"
# Suppressions that a new, confirmed opt-in lifts; complaints and staff blocks stay until staff act.
LIFTED_BY_OPT_IN = ("unsubscribed", "erased", "hard_bounce")
MAX_PAUSE_WEEKS = 52
MAX_SESSION_NUMBER = 1000
# Addresses whose owner complained, or that staff blocked: a subscribe request for them sends
# nothing (the answer is the same, so nobody learns the address is blocked).
NOT_REOPENED_BY_FORM = ("complaint", "staff")


@dataclass
class RequestMeta:
    """Where a consent event came from, for the consent log."""

    source: str = "form"
    ip_address: str = ""
    user_agent: str = ""
    staff_user_id: int | None = None


@dataclass
class Preferences:
    """What a subscriber chooses, on the subscribe form and in the preference centre."""

    language: str = "en"
    countries: list[str] = field(default_factory=list)
    all_sessions: bool = True
    session_numbers: list[int] = field(default_factory=list)
    topics: list[str] = field(default_factory=lambda: ["newsletter", "deadline_alerts"])
    alert_frequency: str = "immediate"

    def validate(self) -> Preferences:
        errors: dict[str, str] = {}
        if self.language not in LANGUAGES:
            errors["language"] = "Choose English, French or Spanish."
        unknown = [code for code in self.countries if not is_country_code(code)]
        if unknown:
            errors["countries"] = f"Unknown country code(s): {', '.join(unknown)}."
        if any(topic not in TOPICS for topic in self.topics):
            errors["topics"] = "Unknown topic."
        if not self.topics:
            errors["topics"] = "Choose at least one kind of message."
        if self.alert_frequency not in ALERT_FREQUENCIES:
            errors["alert_frequency"] = "Unknown alert frequency."
        if not self.all_sessions and not self.session_numbers:
            errors["session_numbers"] = "Choose at least one session, or all upcoming sessions."
        if any(not 1 <= int(n) <= MAX_SESSION_NUMBER for n in self.session_numbers):
            errors["session_numbers"] = "Unknown session."
        if errors:
            raise ServiceError("Please correct the highlighted fields.", errors)
        self.countries = [code.upper() for code in dict.fromkeys(self.countries)]
        self.session_numbers = sorted({int(n) for n in self.session_numbers})
        self.topics = [topic for topic in TOPICS if topic in self.topics]
        return self


@dataclass
class SubscribeRequest:
    email: str
    preferences: Preferences
    consent: bool
    first_name: str = ""
    last_name: str = ""
    organisation: str = ""
    contact_type: str = "other"


@dataclass
class ConfirmationLink:
    """What the confirmation email needs; the same shape whether the address was known or not."""

    email: str
    first_name: str
    language: str
    token: str
    # False for addresses that must not be mailed even a confirmation (complaints, staff blocks).
    deliver: bool = True


@dataclass
class ConfirmResult:
    contact: Contact
    already_confirmed: bool


# -- tokens


def _identity(contact: Contact) -> dict[str, Any]:
    # The hash prefix ties a token to the address, so a reused id never opens another's page.
    return {"c": contact.id, "h": contact.email_hash[:16]}


def preferences_token(contact: Contact) -> str:
    return tokens.sign(PREFERENCES, _identity(contact))


def unsubscribe_token(contact: Contact) -> str:
    return tokens.sign(UNSUBSCRIBE, _identity(contact))


def link_tokens(contacts: Sequence[Contact]) -> list[tuple[str, str]]:
    """(unsubscribe, preferences) tokens for each contact, signed as one batch. Reads only `id`
    and `email_hash`, so any object with those attributes will do."""
    identities = [_identity(contact) for contact in contacts]
    return list(
        zip(
            tokens.sign_many(UNSUBSCRIBE, identities),
            tokens.sign_many(PREFERENCES, identities),
            strict=True,
        )
    )


def contact_from_token(session: Session, purpose: str, token: str) -> Contact:
    """The contact a preferences or unsubscribe link was made for; TokenInvalid otherwise.

    These links do not expire quickly: mailbox providers may POST an unsubscribe days later.
    """
    payload = tokens.verify(purpose, token)
    contact = _contact_for(session, payload)
    if contact is None:
        raise tokens.TokenInvalid("no such contact")
    return contact


def _contact_for(session: Session, payload: Any) -> Contact | None:
    if not isinstance(payload, dict) or not isinstance(payload.get("c"), int):
        return None
    contact = session.get(Contact, payload["c"])
    if contact is None or contact.email_hash[:16] != payload.get("h"):
        return None
    return contact


# -- consent log and suppression


def record_consent(
    session: Session,
    contact: Contact | None,
    action: str,
    meta: RequestMeta,
    details: dict[str, Any] | None = None,
    email_hash: str | None = None,
) -> ConsentRecord:
    record = ConsentRecord(
        contact_id=contact.id if contact is not None else None,
        email_hash=email_hash or contact.email_hash,
        action=action,
        source=meta.source,
        ip_address=(meta.ip_address or "")[:64],
        user_agent=(meta.user_agent or "")[:400],
        privacy_notice_version=current_app.config["PRIVACY_NOTICE_VERSION"],
        details=details or {},
        staff_user_id=meta.staff_user_id,
    )
    session.add(record)
    return record


def find_suppression(session: Session, email_hash: str) -> Suppression | None:
    return session.scalar(select(Suppression).where(Suppression.email_hash == email_hash))


def suppress(
    session: Session,
    email: str,
    reason: str,
    *,
    note: str = "",
    user_id: int | None = None,
) -> Suppression:
    """Put an address on the suppression list (idempotent: the first reason is kept)."""
    try:
        normalised, key = normalise_email(email)
    except FieldError as exc:
        raise ServiceError(str(exc).capitalize(), {"email": str(exc)}) from None
    digest = hash_email_key(key)
    existing = find_suppression(session, digest)
    if existing is not None:
        return existing
    entry = Suppression(
        email_hash=digest, email=normalised, reason=reason, note=note, created_by_id=user_id
    )
    session.add(entry)
    session.flush()
    return entry


def unsuppress(
    session: Session, entry: Suppression, user: Any, meta: RequestMeta | None = None
) -> None:
    """Remove an entry; the consent log keeps the event with `user` as the staff member.

    Only an admin may: anyone else gets PermissionDenied (views check the role first too).
    """
    ensure_role(user, "admin")
    meta = replace(meta or RequestMeta(source="staff"), staff_user_id=user.id)
    contact = session.scalar(select(Contact).where(Contact.email_hash == entry.email_hash))
    record_consent(
        session,
        contact,
        "unsuppress",
        meta,
        details={"reason": entry.reason, "note": entry.note},
        email_hash=entry.email_hash,
    )
    audit_record(session, "suppression.remove", "suppression", entry.id,
                 f"Removed {entry.email or 'an erased address'} ({entry.reason})",
                 {"reason": entry.reason}, actor=user)
    session.delete(entry)
    session.flush()


# -- subscribe and confirm


def subscribe(session: Session, request: SubscribeRequest, meta: RequestMeta) -> ConfirmationLink:
    """Record a subscription request; return the link to email (for a new or a known address)."""
    errors: dict[str, str] = {}
    try:
        email, key = normalise_email(request.email)
    except FieldError as exc:
        errors["email"] = f"Enter a valid email address ({exc})."
        email = key = ""
    if not request.consent:
        errors["consent"] = "Please agree to the privacy notice to subscribe."
    if request.contact_type not in CONTACT_TYPES:
        errors["contact_type"] = "Choose the kind of organisation you work for."
    try:
        prefs = request.preferences.validate()
    except ServiceError as exc:
        errors.update(exc.fields)
    if errors:
        raise ServiceError("Please correct the highlighted fields.", errors)

    contact = find_contact_by_email(session, email)
    if contact is None:
        contact = Contact(
            email=email,
            email_key=key,
            first_name=request.first_name.strip()[:150],
            last_name=request.last_name.strip()[:150],
            type=request.contact_type,
            language=prefs.language,
        )
        contact.organisation = get_or_create_organisation(
            session, request.organisation.strip() or None, request.contact_type
        )
        set_contact_countries(contact, None, prefs.countries)
        contact.subscription = Subscription(status="pending")
        _apply_subscription_choices(contact.subscription, prefs)
        session.add(contact)
        session.flush()
    nonce = contact.subscription.confirm_nonce if contact.subscription else 0
    payload = {
        **_identity(contact),
        "n": nonce,
        "p": asdict(prefs),
        "who": {
            "first_name": request.first_name.strip()[:150],
            "last_name": request.last_name.strip()[:150],
            "organisation": request.organisation.strip()[:300],
            "type": request.contact_type,
        },
    }
    record_consent(session, contact, "subscribe", meta, details={"preferences": asdict(prefs)})
    session.flush()
    return ConfirmationLink(
        email=contact.email,
        first_name=request.first_name.strip() or contact.first_name,
        language=prefs.language,
        token=tokens.sign(CONFIRM, payload),
        deliver=_may_reopen(session, contact),
    )


def confirm(session: Session, token: str, meta: RequestMeta) -> ConfirmResult:
    """Apply a confirmation link. Raises TokenInvalid / TokenExpired (with its payload)."""
    payload = tokens.verify(CONFIRM, token, max_age=current_app.config["CONFIRM_TOKEN_MAX_AGE"])
    contact = _contact_for(session, payload)
    if contact is None:
        raise tokens.TokenInvalid("no such contact")
    subscription = contact.subscription
    if (subscription.confirm_nonce if subscription else 0) != payload.get("n"):
        return ConfirmResult(contact, already_confirmed=True)
    try:
        prefs = Preferences(**payload["p"]).validate()
    except (TypeError, KeyError, ValueError):  # a link from an older release of the form
        raise tokens.TokenInvalid("unreadable preferences") from None
    if subscription is None:
        subscription = contact.subscription = Subscription()
    was = subscription.status
    subscription.status = "confirmed"
    subscription.confirmed_at = utcnow()
    subscription.unsubscribed_at = None
    subscription.confirm_nonce += 1
    subscription.privacy_notice_version = current_app.config["PRIVACY_NOTICE_VERSION"]
    _apply_subscription_choices(subscription, prefs)
    _apply_contact_choices(session, contact, prefs, payload.get("who") or {})
    lifted = _lift_suppression(session, contact)
    action = "resubscribe" if was == "unsubscribed" or lifted else "confirm"
    record_consent(session, contact, action, meta, details={"lifted_suppression": lifted})
    session.flush()
    return ConfirmResult(contact, already_confirmed=False)


def renew_confirmation(session: Session, payload: Any) -> ConfirmationLink | None:
    """A fresh link for an expired one (its signature was valid); None if it cannot be renewed."""
    contact = _contact_for(session, payload)
    if contact is None:
        return None
    nonce = contact.subscription.confirm_nonce if contact.subscription else 0
    if nonce != payload.get("n"):
        return None
    return ConfirmationLink(
        email=contact.email,
        first_name=(payload.get("who") or {}).get("first_name") or contact.first_name,
        language=payload.get("p", {}).get("language", contact.language),
        token=tokens.sign(CONFIRM, payload),
        deliver=_may_reopen(session, contact),
    )


def _may_reopen(session: Session, contact: Contact) -> bool:
    """Whether a confirmation link may be emailed to this address."""
    blocked = find_suppression(session, contact.email_hash)
    return blocked is None or blocked.reason not in NOT_REOPENED_BY_FORM


def _lift_suppression(session: Session, contact: Contact) -> str | None:
    entry = find_suppression(session, contact.email_hash)
    if entry is None or entry.reason not in LIFTED_BY_OPT_IN:
        return None
    session.delete(entry)
    return entry.reason


def _apply_subscription_choices(subscription: Subscription, prefs: Preferences) -> None:
    subscription.all_sessions = prefs.all_sessions
    subscription.alert_frequency = prefs.alert_frequency
    subscription.topic_links = [SubscriptionTopic(topic=topic) for topic in prefs.topics]
    numbers = [] if prefs.all_sessions else prefs.session_numbers
    subscription.session_links = [SubscriptionSession(session_number=n) for n in numbers]


def _apply_contact_choices(
    session: Session, contact: Contact, prefs: Preferences, who: dict[str, str]
) -> None:
    contact.language = prefs.language
    set_contact_countries(contact, contact.country_code, prefs.countries)
    contact.first_name = contact.first_name or (who.get("first_name") or "")[:150]
    contact.last_name = contact.last_name or (who.get("last_name") or "")[:150]
    if contact.organisation is None and who.get("organisation"):
        contact.organisation = get_or_create_organisation(
            session, who["organisation"], who.get("type")
        )
    contact.updated_at = utcnow()


# -- preference centre and unsubscribe


def current_preferences(contact: Contact) -> Preferences:
    subscription = contact.subscription
    if subscription is None:  # added by staff: receives everything
        return Preferences(language=contact.language, countries=contact.all_countries,
                           topics=list(TOPICS))
    return Preferences(
        language=contact.language,
        countries=contact.all_countries,
        all_sessions=subscription.all_sessions,
        session_numbers=subscription.session_numbers,
        topics=subscription.topics or list(TOPICS),
        alert_frequency=subscription.alert_frequency,
    )


def update_preferences(
    session: Session,
    contact: Contact,
    prefs: Preferences,
    meta: RequestMeta,
    pause_weeks: int = 0,
) -> Subscription:
    """Save the preference centre; takes effect for the next send."""
    prefs.validate()
    if not 0 <= pause_weeks <= MAX_PAUSE_WEEKS:
        raise ServiceError(
            f"Pause for 0 to {MAX_PAUSE_WEEKS} weeks.", {"pause_weeks": "Out of range."}
        )
    subscription = contact.subscription
    if subscription is None:
        # A contact added by staff now manages its own choices, with the consent this implies.
        subscription = contact.subscription = Subscription(
            status="confirmed", confirmed_at=utcnow(), confirm_nonce=1
        )
    if subscription.status != "confirmed":
        raise ServiceError(
            "This subscription is not active; subscribe again to receive our emails.",
            {"status": subscription.status},
        )
    _apply_subscription_choices(subscription, prefs)
    contact.language = prefs.language
    set_contact_countries(contact, contact.country_code, prefs.countries)
    subscription.paused_until = (
        utcnow() + timedelta(weeks=pause_weeks) if pause_weeks else None
    )
    contact.updated_at = utcnow()
    record_consent(
        session,
        contact,
        "preference_change",
        meta,
        details={"preferences": asdict(prefs), "pause_weeks": pause_weeks},
    )
    session.flush()
    return subscription


def unsubscribe(session: Session, contact: Contact, meta: RequestMeta) -> bool:
    """Unsubscribe from everything and suppress the address. Idempotent; True if it changed."""
    subscription = contact.subscription
    already = find_suppression(session, contact.email_hash) is not None and (
        subscription is None or subscription.status == "unsubscribed"
    )
    if already:
        return False
    if subscription is None:
        subscription = contact.subscription = Subscription(status="unsubscribed")
    subscription.status = "unsubscribed"
    subscription.unsubscribed_at = utcnow()
    subscription.paused_until = None
    suppress(session, contact.email, "unsubscribed")
    record_consent(session, contact, "unsubscribe", meta)
    session.flush()
    return True


# -- privacy


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export_contact(session: Session, contact: Contact) -> dict[str, Any]:
    """Everything Outreach holds about one contact, as JSON-ready data."""
    subscription = contact.subscription
    organisation = contact.organisation
    consent = session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.email_hash == contact.email_hash)
        .order_by(ConsentRecord.created_at, ConsentRecord.id)
    ).all()
    suppression = find_suppression(session, contact.email_hash)
    return {
        "contact": {
            "id": contact.id,
            "email": contact.email,
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "type": contact.type,
            "role_title": contact.role_title,
            "language": contact.language,
            "country": contact.country_code,
            "countries": contact.all_countries,
            "topics": contact.topics,
            "status": contact.status,
            "notes": contact.notes,
            "created_at": _iso(contact.created_at),
            "updated_at": _iso(contact.updated_at),
        },
        "organisation": None
        if organisation is None
        else {"id": organisation.id, "name": organisation.name, "type": organisation.type},
        "subscription": None
        if subscription is None
        else {
            "status": subscription.status,
            "topics": subscription.topics,
            "all_sessions": subscription.all_sessions,
            "sessions": subscription.session_numbers,
            "alert_frequency": subscription.alert_frequency,
            "paused_until": _iso(subscription.paused_until),
            "confirmed_at": _iso(subscription.confirmed_at),
            "unsubscribed_at": _iso(subscription.unsubscribed_at),
            "privacy_notice_version": subscription.privacy_notice_version,
        },
        "consent_log": [
            {
                "action": record.action,
                "source": record.source,
                "at": _iso(record.created_at),
                "ip_address": record.ip_address,
                "user_agent": record.user_agent,
                "privacy_notice_version": record.privacy_notice_version,
                "details": record.details,
            }
            for record in consent
        ],
        "suppression": None
        if suppression is None
        else {"reason": suppression.reason, "since": _iso(suppression.created_at)},
    }


def erase_contact(session: Session, contact: Contact, meta: RequestMeta) -> str:
    """Remove a contact's personal data; keep its address's hash suppressed and the erase event.

    Returns the hash. Earlier consent events keep their action and time but lose the IP address
    and user agent, which are personal data too. Outbox rows and bounce records lose the address;
    messages not yet sent to it are skipped.
    """
    from outreach.delivery.models import UNSENT, Bounce, OutboxMessage

    require_role("editor")
    digest = contact.email_hash
    forget_object(session, "contact", contact.id)
    audit_record(session, "contact.erase", "contact", contact.id, f"Erased contact #{contact.id}")
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.contact_id == contact.id, OutboxMessage.status.in_(UNSENT))
        .values(status="skipped", smtp_reply="contact erased")
    )
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.contact_id == contact.id)
        .values(email="", contact_id=None)
    )
    session.execute(update(Bounce).where(Bounce.email_hash == digest).values(email=None))
    entry = find_suppression(session, digest)
    if entry is None:
        session.add(Suppression(email_hash=digest, email=None, reason="erased",
                                created_by_id=meta.staff_user_id))
    else:
        entry.email = None
    for record in session.scalars(select(ConsentRecord).where(ConsentRecord.email_hash == digest)):
        record.ip_address = ""
        record.user_agent = ""
    session.delete(contact)
    session.flush()
    record_consent(session, None, "erase", RequestMeta(source=meta.source,
                   staff_user_id=meta.staff_user_id), email_hash=digest)
    session.flush()
    return digest
