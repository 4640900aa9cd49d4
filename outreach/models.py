"""Every domain's models, imported together so the metadata (and migrations) see all tables."""

from outreach.alerts.models import AlertRecord, AlertRule, DigestRecord
from outreach.api.models import ApiToken
from outreach.auth.models import User
from outreach.calendar.models import Cycle, KeyDate, Review, UPRSession
from outreach.campaigns.models import Campaign, CampaignVariant
from outreach.contacts.models import Contact, ContactCountry, ContactTopic, Organisation
from outreach.delivery.models import Bounce, OutboxMessage, SchedulerLock, WorkerHeartbeat
from outreach.feeds.models import FeedItem, FeedSource
from outreach.segments.models import Segment
from outreach.subscriptions.models import (
    ConsentRecord,
    Subscription,
    SubscriptionSession,
    SubscriptionTopic,
    Suppression,
)

__all__ = [
    "AlertRecord",
    "AlertRule",
    "ApiToken",
    "DigestRecord",
    "FeedItem",
    "FeedSource",
    "Bounce",
    "Campaign",
    "CampaignVariant",
    "OutboxMessage",
    "SchedulerLock",
    "WorkerHeartbeat",
    "ConsentRecord",
    "Contact",
    "ContactCountry",
    "ContactTopic",
    "Cycle",
    "KeyDate",
    "Organisation",
    "Review",
    "Segment",
    "Subscription",
    "SubscriptionSession",
    "SubscriptionTopic",
    "Suppression",
    "UPRSession",
    "User",
]
