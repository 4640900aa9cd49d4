"""Campaign drafts: create, update, duplicate, delete. Sending is `lifecycle`'s business.

Content can change only while a campaign is a draft (a scheduled one must be unscheduled first);
every save is validated, templates included, so a broken merge field never reaches the sender.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import NamedTuple

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.audit.services import record
from outreach.auth.permissions import require_role
from outreach.campaigns.models import Campaign, CampaignVariant
from outreach.campaigns.validation import NAME_MAX, email_problem, validate_data
from outreach.core.errors import ServiceError
from outreach.segments.models import Segment


class VariantData(NamedTuple):
    language: str
    subject: str
    body_markdown: str


@dataclass
class CampaignData:
    name: str
    topic: str = "newsletter"
    sender_name: str = ""
    sender_email: str = ""
    reply_to: str = ""
    default_language: str = "en"
    session_id: int | None = None
    public: bool = False
    track_clicks: bool = True
    track_opens: bool = False
    segment_ids: list[int] = field(default_factory=list)
    variants: list[VariantData] = field(default_factory=list)

    def cleaned(self) -> CampaignData:
        """Surrounding spaces trimmed; variants as `VariantData` (tuples are accepted)."""
        return CampaignData(
            name=" ".join((self.name or "").split()),
            topic=self.topic,
            sender_name=(self.sender_name or "").strip(),
            sender_email=(self.sender_email or "").strip(),
            reply_to=(self.reply_to or "").strip(),
            default_language=self.default_language,
            session_id=self.session_id,
            public=bool(self.public),
            track_clicks=bool(self.track_clicks),
            track_opens=bool(self.track_opens),
            segment_ids=list(dict.fromkeys(int(i) for i in self.segment_ids or ())),
            variants=[
                VariantData(language, (subject or "").strip(), body or "")
                for language, subject, body in self.variants
            ],
        )


def default_sender() -> tuple[str, str]:
    """Name and address from MAIL_DEFAULT_SENDER (the name defaults to ORGANISATION_NAME)."""
    name, address = parseaddr(current_app.config.get("MAIL_DEFAULT_SENDER", ""))
    return name or current_app.config.get("ORGANISATION_NAME", ""), address


MAX_TEST_ADDRESSES = 5


def parse_test_addresses(text: str) -> list[str]:
    """1 to 5 addresses separated by commas, semicolons, spaces or lines; ServiceError if not."""
    addresses = list(dict.fromkeys(part for part in re.split(r"[\s,;]+", text or "") if part))
    if not addresses:
        message = "Enter at least one address to send the test to."
    elif len(addresses) > MAX_TEST_ADDRESSES:
        message = f"Send a test to at most {MAX_TEST_ADDRESSES} addresses at a time."
    else:
        problems = [email_problem(address, "address") for address in addresses]
        message = " ".join(problem for problem in problems if problem)
    if message:
        raise ServiceError(message, {"addresses": message})
    return addresses


def data_from_campaign(campaign: Campaign) -> CampaignData:
    return CampaignData(
        name=campaign.name,
        topic=campaign.topic,
        sender_name=campaign.sender_name,
        sender_email=campaign.sender_email,
        reply_to=campaign.reply_to,
        default_language=campaign.default_language,
        session_id=campaign.session_id,
        public=campaign.public,
        track_clicks=campaign.track_clicks,
        track_opens=campaign.track_opens,
        segment_ids=[segment.id for segment in campaign.segments],
        variants=[VariantData(v.language, v.subject, v.body_markdown) for v in campaign.variants],
    )


def _apply(session: Session, campaign: Campaign, data: CampaignData) -> None:
    campaign.name = data.name
    campaign.topic = data.topic
    campaign.sender_name = data.sender_name
    campaign.sender_email = data.sender_email
    campaign.reply_to = data.reply_to
    campaign.default_language = data.default_language
    campaign.session_id = data.session_id
    campaign.public = data.public
    campaign.track_clicks = data.track_clicks
    campaign.track_opens = data.track_opens
    segments = session.scalars(select(Segment).where(Segment.id.in_(data.segment_ids))).all()
    by_id = {segment.id: segment for segment in segments}
    campaign.segments = [by_id[i] for i in data.segment_ids if i in by_id]
    # Keep variant rows by language (the unique constraint forbids delete-then-insert in a flush).
    existing = {variant.language: variant for variant in campaign.variants}
    wanted = {variant.language for variant in data.variants}
    for variant in list(campaign.variants):
        if variant.language not in wanted:
            campaign.variants.remove(variant)
    for language, subject, body in data.variants:
        variant = existing.get(language)
        if variant is None:
            variant = CampaignVariant(language=language)
            campaign.variants.append(variant)
        variant.subject = subject
        variant.body_markdown = body


def create_campaign(session: Session, data: CampaignData, user=None) -> Campaign:
    require_role("editor")
    data = data.cleaned()
    validate_data(session, data)
    campaign = Campaign(status="draft", created_by_id=user.id if user is not None else None)
    session.add(campaign)
    _apply(session, campaign, data)
    session.flush()
    record(session, "campaign.create", "campaign", campaign.id, f"Created “{campaign.name}”")
    return campaign


def ensure_editable(campaign: Campaign) -> None:
    if campaign.status == "draft":
        return
    if campaign.status == "scheduled":
        message = "This campaign is scheduled: unschedule it first to change it."
    else:
        message = f"This campaign is {campaign.status}: its content can no longer change."
    raise ServiceError(message, {"status": campaign.status}, code="locked")


def update_campaign(session: Session, campaign: Campaign, data: CampaignData) -> Campaign:
    require_role("editor")
    ensure_editable(campaign)
    data = data.cleaned()
    validate_data(session, data)
    _apply(session, campaign, data)
    session.flush()
    record(session, "campaign.update", "campaign", campaign.id, f"Edited “{campaign.name}”")
    return campaign


def copy_name(name: str) -> str:
    return f"Copy of {name}"[:NAME_MAX]


def duplicate_campaign(session: Session, campaign: Campaign, user=None) -> Campaign:
    """A new draft with the same settings, content and segments (any status can be copied)."""
    require_role("editor")
    copy = Campaign(
        name=copy_name(campaign.name),
        topic=campaign.topic,
        sender_name=campaign.sender_name,
        sender_email=campaign.sender_email,
        reply_to=campaign.reply_to,
        default_language=campaign.default_language,
        session_id=campaign.session_id,
        public=campaign.public,
        track_clicks=campaign.track_clicks,
        track_opens=campaign.track_opens,
        status="draft",
        created_by_id=user.id if user is not None else None,
        segments=list(campaign.segments),
        variants=[
            CampaignVariant(language=v.language, subject=v.subject, body_markdown=v.body_markdown)
            for v in campaign.variants
        ],
    )
    session.add(copy)
    session.flush()
    _copy_subject_test(session, campaign, copy)
    record(session, "campaign.duplicate", "campaign", copy.id,
           f"Copied campaign #{campaign.id} as “{copy.name}”")
    return copy


def _copy_subject_test(session: Session, campaign: Campaign, copy: Campaign) -> None:
    """The copy gets the same subject test settings, not yet started and without a winner."""
    from outreach.engagement.models import SubjectTest

    test = session.scalar(select(SubjectTest).where(SubjectTest.campaign_id == campaign.id))
    if test is not None:
        session.add(
            SubjectTest(
                campaign_id=copy.id,
                subjects={language: list(subjects) for language, subjects in test.subjects.items()},
                share_percent=test.share_percent,
                wait_hours=test.wait_hours,
                metric=test.metric,
                auto_pick=test.auto_pick,
            )
        )
        session.flush()


def delete_campaign(session: Session, campaign: Campaign) -> None:
    require_role("editor")
    if campaign.status != "draft":
        raise ServiceError(
            f"Only drafts can be deleted; this campaign is {campaign.status}."
            + (" Unschedule it first." if campaign.status == "scheduled" else ""),
            {"status": campaign.status},
            code="locked",
        )
    record(session, "campaign.delete", "campaign", campaign.id, f"Deleted “{campaign.name}”")
    session.delete(campaign)
    session.flush()
