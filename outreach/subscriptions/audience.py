"""Who may be mailed: the one rule every sender (campaigns, alerts, digests) applies.

A contact is mailable for a topic when it is active, its address is not suppressed, and either it
has no self-service subscription (staff added it) or its subscription is confirmed, not paused and
includes the topic. `is_suppressed` repeats the suppression check at send time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, not_, or_, select
from sqlalchemy.orm import Session

from outreach.contacts.models import Contact
from outreach.contacts.validation import email_key, hash_email_key
from outreach.core.database import utcnow
from outreach.subscriptions.models import Subscription, SubscriptionTopic, Suppression


def not_suppressed():
    return not_(exists().where(Suppression.email_hash == Contact.email_hash))


def mailable_conditions(topic: str | None, now: datetime | None = None) -> list:
    """SQL conditions on `Contact`; `topic=None` ignores topic choices (any live subscriber)."""
    now = now or utcnow()
    live = and_(
        Subscription.contact_id == Contact.id,
        Subscription.status == "confirmed",
        or_(Subscription.paused_until.is_(None), Subscription.paused_until <= now),
    )
    if topic is not None:
        # Correlated to the subscription (one level up): naming `Contact` here would make the
        # nested EXISTS select FROM contacts again, i.e. "anyone at all chose the topic".
        live = and_(
            live,
            exists().where(
                SubscriptionTopic.contact_id == Subscription.contact_id,
                SubscriptionTopic.topic == topic,
            ),
        )
    no_subscription = not_(exists().where(Subscription.contact_id == Contact.id))
    subscribed = or_(no_subscription, exists().where(live))
    return [Contact.status == "active", not_suppressed(), subscribed]


def is_suppressed(session: Session, email: str) -> bool:
    digest = hash_email_key(email_key(email))
    return session.scalar(select(exists().where(Suppression.email_hash == digest))) or False
