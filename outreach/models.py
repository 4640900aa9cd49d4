"""Every domain's models, imported together so the metadata (and migrations) see all tables."""

from outreach.alerts.models import AlertRecord, AlertRule, DigestRecord
from outreach.api.models import ApiToken
from outreach.audit.models import AuditEntry
from outreach.auth.models import User
from outreach.calendar.models import Cycle, KeyDate, Review, UPRSession
from outreach.campaigns.models import Campaign, CampaignVariant
from outreach.contacts.models import (
    Contact,
    ContactCountry,
    ContactTopic,
    ImportJob,
    Organisation,
)
from outreach.delivery.models import (
    Bounce,
    BounceRun,
    OutboxMessage,
    SchedulerLock,
    WorkerHeartbeat,
)
from outreach.engagement.models import CampaignLink, Click, Open, SubjectTest, WebhookNotice
from outreach.feeds.models import FeedItem, FeedSource
from outreach.segments.models import Segment
from outreach.series.models import Series, SeriesEdition
from outreach.subscriptions.models import (
    ConsentRecord,
    Subscription,
    SubscriptionSession,
    SubscriptionTopic,
    Suppression,
)

__all__ = [
    "AlertRecord",
    "AuditEntry",
    "AlertRule",
    "ApiToken",
    "DigestRecord",
    "FeedItem",
    "FeedSource",
    "Bounce",
    "BounceRun",
    "CampaignLink",
    "Click",
    "Open",
    "SubjectTest",
    "WebhookNotice",
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
    "ImportJob",
    "KeyDate",
    "Organisation",
    "Review",
    "Segment",
    "Series",
    "SeriesEdition",
    "Subscription",
    "SubscriptionSession",
    "SubscriptionTopic",
    "Suppression",
    "UPRSession",
    "User",
]
