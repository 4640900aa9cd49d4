"""/campaigns: drafts, scheduling, pause/resume/cancel, progress counts and recipients."""

from __future__ import annotations

from dataclasses import replace

from flask import jsonify
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from outreach.api import serialise
from outreach.api.blueprint import bp, current_api_user
from outreach.api.inputs import (
    Fields,
    bad_request,
    find,
    json_object,
    page_args,
    page_json,
    query,
)
from outreach.campaigns import lifecycle, reports, services
from outreach.campaigns.models import CAMPAIGN_STATUSES, Campaign
from outreach.core.pagination import paginate
from outreach.delivery.models import OUTBOX_STATUSES
from outreach.extensions import db

CAMPAIGN_FIELDS = (
    "name",
    "topic",
    "sender_name",
    "sender_email",
    "reply_to",
    "default_language",
    "session_id",
    "public",
    "variants",
    "segment_ids",
)
VARIANT_FIELDS = ("language", "subject", "body_markdown")


def _counts(campaign: Campaign) -> dict[str, int]:
    counts, _ = reports.outbox_counts(db.session, campaign.id)
    counts["queued"] += counts.pop("sending", 0)  # claimed by a worker, not sent yet
    return counts


def _answer(campaign: Campaign, status: int = 200):
    return jsonify(serialise.campaign(campaign, _counts(campaign))), status


def _variants(fields: Fields, base: list) -> list[services.VariantData]:
    if not fields.has("variants"):
        return base
    items = fields.mappings("variants")
    if not isinstance(items, list):
        return base
    variants = []
    for index, item in enumerate(items):
        sub = Fields(item, VARIANT_FIELDS)
        variant = services.VariantData(
            sub.text("language", required=True),
            sub.text("subject", required=True, max_length=500),
            sub.text("body_markdown", required=True, max_length=200_000),
        )
        for name, message in sub.errors.items():
            fields.errors.setdefault(f"variants[{index}].{name}", message)
        variants.append(variant)
    return variants


def _campaign_data(body: dict, current: Campaign | None) -> services.CampaignData:
    fields = Fields(body, CAMPAIGN_FIELDS)
    base = services.data_from_campaign(current) if current else services.CampaignData(name="")
    if current is None:
        base.sender_name, base.sender_email = services.default_sender()
    data = replace(
        base,
        name=fields.text("name", base.name, required=current is None, max_length=200),
        topic=fields.text("topic", base.topic),
        sender_name=fields.text("sender_name", base.sender_name, max_length=200),
        sender_email=fields.text("sender_email", base.sender_email, max_length=320),
        reply_to=fields.text("reply_to", base.reply_to, max_length=320),
        default_language=fields.text("default_language", base.default_language),
        session_id=fields.integer("session_id", base.session_id, nullable=True),
        public=fields.flag("public", base.public),
        segment_ids=fields.integers("segment_ids", base.segment_ids),
        variants=_variants(fields, base.variants),
    )
    fields.done()
    return data


@bp.get("/campaigns")
def list_campaigns():
    fields = query(("status",))
    page, per_page = page_args(fields)
    status = fields.text("status", "")
    if status and status not in CAMPAIGN_STATUSES:
        fields.errors["status"] = f"One of {', '.join(CAMPAIGN_STATUSES)}."
    fields.done()
    stmt = (
        select(Campaign)
        .options(selectinload(Campaign.segments), selectinload(Campaign.variants))
        .order_by(Campaign.id.desc())
    )
    if status:
        stmt = stmt.where(Campaign.status == status)
    result = paginate(db.session, stmt, page, per_page)
    counts = reports.counts_by_campaign(db.session, [c.id for c in result.items])

    def one(campaign: Campaign) -> dict:
        row = counts.get(campaign.id, reports.zero_counts())
        row["queued"] += row.pop("sending", 0)
        return serialise.campaign(campaign, row)

    return jsonify(page_json(result, one))


@bp.post("/campaigns")
def create_campaign():
    data = _campaign_data(json_object(), None)
    campaign = services.create_campaign(db.session, data, user=current_api_user())
    db.session.commit()
    return _answer(campaign, 201)


@bp.get("/campaigns/<int:campaign_id>")
def get_campaign(campaign_id: int):
    return _answer(find(Campaign, campaign_id, "campaign"))


@bp.patch("/campaigns/<int:campaign_id>")
def update_campaign(campaign_id: int):
    campaign = find(Campaign, campaign_id, "campaign")
    services.ensure_editable(campaign)
    services.update_campaign(db.session, campaign, _campaign_data(json_object(), campaign))
    db.session.commit()
    return _answer(campaign)


@bp.post("/campaigns/<int:campaign_id>/schedule")
def schedule_campaign(campaign_id: int):
    """`{"send_at": "<ISO 8601>"}` or `{"now": true}`; a scheduled campaign is rescheduled."""
    campaign = find(Campaign, campaign_id, "campaign")
    fields = Fields(json_object(), ("send_at", "now"))
    send_at = fields.moment("send_at")
    now = fields.flag("now")
    if not fields.errors and (send_at is None) == (not now):
        raise bad_request('Give either `send_at` or `"now": true`.')
    fields.done()
    if campaign.status == "scheduled":
        lifecycle.unschedule(db.session, campaign)
    if now:
        lifecycle.send_now(db.session, campaign)
    else:
        lifecycle.schedule(db.session, campaign, send_at)
    db.session.commit()
    return _answer(campaign)


def _move(campaign_id: int, action) -> tuple:
    campaign = find(Campaign, campaign_id, "campaign")
    action(db.session, campaign)
    db.session.commit()
    return _answer(campaign)


@bp.post("/campaigns/<int:campaign_id>/pause")
def pause_campaign(campaign_id: int):
    return _move(campaign_id, lifecycle.pause)


@bp.post("/campaigns/<int:campaign_id>/resume")
def resume_campaign(campaign_id: int):
    return _move(campaign_id, lifecycle.resume)


@bp.post("/campaigns/<int:campaign_id>/cancel")
def cancel_campaign(campaign_id: int):
    return _move(campaign_id, lifecycle.cancel)


@bp.get("/campaigns/<int:campaign_id>/recipients")
def campaign_recipients(campaign_id: int):
    campaign = find(Campaign, campaign_id, "campaign")
    fields = query(("status", "q"))
    page, per_page = page_args(fields)
    status = fields.text("status", "")
    q = fields.text("q", "")
    if status and status not in OUTBOX_STATUSES:
        fields.errors["status"] = f"One of {', '.join(OUTBOX_STATUSES)}."
    fields.done()
    stmt = reports.outcomes_select(campaign.id, q=q, status=status)
    return jsonify(page_json(paginate(db.session, stmt, page, per_page), serialise.recipient))
