"""Staff pages to compose campaigns: new, edit, overview, preview, test send, duplicate, delete,
and the pre-session invitation starter. The list, audience and sending pages are `send_views`.
"""

from __future__ import annotations

from dataclasses import replace

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from outreach.auth.decorators import editor_required, require_login
from outreach.calendar.models import UPRSession
from outreach.campaigns import services, starter, validation
from outreach.campaigns.audience import audience_select
from outreach.campaigns.forms import CampaignForm, TestSendForm
from outreach.campaigns.merge import LANGUAGE_NAMES, MERGE_FIELD_EXAMPLES, MERGE_FIELD_HELP
from outreach.campaigns.models import CAMPAIGN_TOPIC_LABELS, Campaign
from outreach.campaigns.rendering import PreparedCampaign, recipient_for, sample_recipient
from outreach.contacts.models import LANGUAGES, Contact
from outreach.core.errors import ServiceError
from outreach.core.security import email_frame_response
from outreach.core.timezones import local_today
from outreach.extensions import db
from outreach.segments.models import Segment

bp = Blueprint("campaigns", __name__)
bp.before_request(require_login)

SEARCH_LIMIT = 20


@bp.context_processor
def shared():
    return {
        "language_names": LANGUAGE_NAMES,
        "topic_labels": CAMPAIGN_TOPIC_LABELS,
        "campaigns_url": url_for("campaign_send.index"),
    }


def get_campaign(campaign_id: int, for_update: bool = False) -> Campaign:
    """The campaign or 404; `for_update` locks its row (PostgreSQL) so that a change of status
    (scheduling, a worker starting it) cannot interleave with an edit."""
    campaign = db.session.get(
        Campaign,
        campaign_id,
        options=[selectinload(Campaign.variants), selectinload(Campaign.segments)],
        with_for_update=for_update or None,
    )
    return campaign or abort(404, "There is no such campaign.")


def make_form(formdata=None, **kwargs) -> CampaignForm:
    segments = db.session.scalars(select(Segment).order_by(Segment.name)).all()
    upr_sessions = db.session.scalars(
        select(UPRSession).order_by(UPRSession.number.desc())
    ).all()
    return CampaignForm(formdata, segments=segments, upr_sessions=upr_sessions, **kwargs)


def compose_page(form: CampaignForm, campaign: Campaign | None, problems=(), status=200):
    page = render_template(
        "campaigns/edit.html",
        form=form,
        campaign=campaign,
        problems=problems,
        languages=LANGUAGES,
        help=MERGE_FIELD_HELP,
        examples=MERGE_FIELD_EXAMPLES,
    )
    return page, status


def _save(form: CampaignForm, campaign: Campaign | None):
    """Validate and save; on refusal show the form again with every problem where it belongs."""
    if not form.validate():
        return compose_page(form, campaign, status=400)
    try:
        if campaign is None:
            campaign = services.create_campaign(db.session, form.to_data(), user=current_user)
        else:
            services.update_campaign(db.session, campaign, form.to_data())
    except validation.CampaignInvalid as exc:
        db.session.rollback()
        return compose_page(form, campaign, form.add_problems(exc.problems), status=400)
    db.session.commit()
    flash(f"Campaign “{campaign.name}” saved.", "success")
    return redirect(url_for("campaigns.detail", campaign_id=campaign.id))


@bp.route("/campaigns/new", methods=["GET", "POST"])
@editor_required
def new():
    if request.method == "POST":
        return _save(make_form(request.form), None)
    form = make_form()
    form.fill_defaults()
    return compose_page(form, None)


@bp.route("/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
@editor_required
def edit(campaign_id: int):
    campaign = get_campaign(campaign_id, for_update=request.method == "POST")
    if campaign.status != "draft":
        return render_template("campaigns/locked.html", campaign=campaign), (
            400 if request.method == "POST" else 200
        )
    if request.method == "POST":
        return _save(make_form(request.form), campaign)
    form = make_form()
    form.fill_from(campaign)
    return compose_page(form, campaign)


@bp.get("/campaigns/<int:campaign_id>")
def detail(campaign_id: int):
    campaign = get_campaign(campaign_id)
    upr_session = db.session.get(UPRSession, campaign.session_id) if campaign.session_id else None
    return render_template("campaigns/detail.html", campaign=campaign, upr_session=upr_session)


# --- Preview and test -----------------------------------------------------------------------------


def _int_arg(source, name: str) -> int | None:
    raw = (source.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        abort(404, f"There is no contact {raw!r}.")
    return int(raw)


def _language_arg(source) -> str | None:
    language = (source.get("language") or "").strip() or None
    if language is not None and language not in LANGUAGES:
        abort(400, f"Unknown language “{language}”; choose one of {', '.join(LANGUAGES)}.")
    return language


def _contact(contact_id: int | None) -> Contact | None:
    if contact_id is None:
        return None
    return db.session.get(Contact, contact_id) or abort(404, "There is no such contact.")


def search_audience(campaign: Campaign, text: str) -> list[Contact]:
    stmt = audience_select(campaign, Contact)
    if stmt is None or not text:
        return []
    pattern = text.casefold()
    stmt = stmt.where(
        or_(
            Contact.email_key.contains(pattern, autoescape=True),
            Contact.last_name.icontains(text, autoescape=True),
        )
    ).limit(SEARCH_LIMIT)
    return list(db.session.scalars(stmt))


def first_audience_member(campaign: Campaign) -> Contact | None:
    stmt = audience_select(campaign, Contact)
    return db.session.scalar(stmt.limit(1)) if stmt is not None else None


def template_problems(campaign: Campaign) -> list[str]:
    upr_session = db.session.get(UPRSession, campaign.session_id) if campaign.session_id else None
    return [
        problem.message
        for variant in campaign.variants
        for problem in validation.variant_problems(
            variant.language, variant.subject, variant.body_markdown, upr_session
        )
    ]


def _links(contact: Contact | None, language: str) -> dict[str, str]:
    """The contact's own links (they open a page with a button), or inert ones for the sample."""
    if contact is None:
        base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
        return {
            "unsubscribe_url": f"{base}/u/preview",
            "preferences_url": f"{base}/{language}/preferences/preview",
        }
    from outreach.subscriptions.emails import preferences_url, unsubscribe_url

    return {
        "unsubscribe_url": unsubscribe_url(contact),
        "preferences_url": preferences_url(contact),
    }


def _preview(campaign: Campaign):
    """Who the preview shows the campaign to, and the message as they would get it."""
    language = _language_arg(request.args)
    if "contact_id" in request.args or request.args.get("sample"):
        contact = _contact(_int_arg(request.args, "contact_id"))
    else:
        contact = first_audience_member(campaign)
    recipient = recipient_for(contact) if contact else sample_recipient(
        language or campaign.default_language
    )
    if language:
        recipient = replace(recipient, language=language)
    rendered, error = None, None
    problems = template_problems(campaign)
    if campaign.variants and not problems:
        try:
            prepared = PreparedCampaign.prepare(db.session, campaign)
            rendered = prepared.render(recipient, **_links(contact, recipient.language))
        except Exception as exc:  # show what a recipient's data breaks, never a 500
            error = str(exc) or type(exc).__name__
    return contact, recipient, language, rendered, problems, error


@bp.get("/campaigns/<int:campaign_id>/preview/email")
def preview_email(campaign_id: int):
    """The HTML part alone, for the sandboxed frame of the preview page."""
    rendered = _preview(get_campaign(campaign_id))[3]
    if rendered is None:
        abort(404, "This campaign cannot be rendered yet.")
    return email_frame_response(rendered.html)


@bp.get("/campaigns/<int:campaign_id>/preview")
def preview(campaign_id: int):
    campaign = get_campaign(campaign_id)
    q = request.args.get("q", "").strip()
    contact, recipient, language, rendered, problems, error = _preview(campaign)
    return render_template(
        "campaigns/preview.html",
        campaign=campaign,
        contact=contact,
        recipient=recipient,
        language=language,
        rendered=rendered,
        problems=problems,
        error=error,
        q=q,
        matches=search_audience(campaign, q),
        has_audience=bool(campaign.segments),
        test_form=TestSendForm(
            contact_id=str(contact.id) if contact else "",
            language=language or recipient.language,
        ),
    )


def send_test(session, campaign, addresses, sample=None, language=None) -> int:
    """The delivery engine's test send (imported late: the engine imports this package too)."""
    from outreach.delivery.test_send import send_test as engine_send_test

    return engine_send_test(session, campaign, addresses, sample, language=language)


@bp.route("/campaigns/<int:campaign_id>/test", methods=["GET", "POST"])
@editor_required
def test_send(campaign_id: int):
    campaign = get_campaign(campaign_id)
    source = request.form if request.method == "POST" else request.args
    contact = _contact(_int_arg(source, "contact_id"))
    language = _language_arg(source)
    form = TestSendForm(
        request.form if request.method == "POST" else None,
        contact_id=str(contact.id) if contact else "",
        language=language or (contact.language if contact else campaign.default_language),
    )
    problems = template_problems(campaign)
    if request.method == "GET" or not campaign.variants:
        return _test_page(campaign, form, contact, problems)
    if problems:
        return _test_page(campaign, form, contact, problems, status=400)
    try:
        addresses = services.parse_test_addresses(form.addresses.data)
        sent = send_test(db.session, campaign, addresses, contact, language=language)
    except ServiceError as exc:
        db.session.rollback()
        form.addresses.errors = [exc.message]
        return _test_page(campaign, form, contact, status=400)
    flash(f"Test sent to {sent} address{'' if sent == 1 else 'es'}: "
          f"{', '.join(addresses)}. The campaign itself is unchanged.", "success")
    return redirect(url_for(
        "campaigns.preview",
        campaign_id=campaign.id,
        contact_id=contact.id if contact else None,
        sample=None if contact else 1,
        language=language,
    ))


def _test_page(campaign, form, contact, problems=(), status=200):
    page = render_template(
        "campaigns/test.html", campaign=campaign, form=form, contact=contact, problems=problems
    )
    return page, status


# --- Duplicate and delete -------------------------------------------------------------------------


@bp.post("/campaigns/<int:campaign_id>/duplicate")
@editor_required
def duplicate(campaign_id: int):
    copy = services.duplicate_campaign(db.session, get_campaign(campaign_id), user=current_user)
    db.session.commit()
    flash(f"“{copy.name}” is a new draft: review it, then choose when to send it.", "success")
    return redirect(url_for("campaigns.edit", campaign_id=copy.id))


@bp.route("/campaigns/<int:campaign_id>/delete", methods=["GET", "POST"])
@editor_required
def delete(campaign_id: int):
    campaign = get_campaign(campaign_id, for_update=request.method == "POST")
    if campaign.status != "draft":
        return render_template("campaigns/locked.html", campaign=campaign, action="delete"), (
            400 if request.method == "POST" else 200
        )
    if request.method == "GET":
        return render_template("campaigns/delete.html", campaign=campaign)
    name = campaign.name
    services.delete_campaign(db.session, campaign)
    db.session.commit()
    flash(f"Draft “{name}” deleted.", "success")
    return redirect(url_for("campaign_send.index"))


# --- Pre-session invitation -----------------------------------------------------------------------


@bp.route("/campaigns/new/pre-session", methods=["GET", "POST"])
@editor_required
def pre_session():
    sessions = db.session.scalars(select(UPRSession).order_by(UPRSession.number.desc())).all()
    source = request.form if request.method == "POST" else request.args
    raw = (source.get("session") or "").strip()
    if raw and not raw.isdigit():
        abort(404, f"There is no UPR session {raw!r}.")
    chosen = None
    if raw:
        chosen = next((s for s in sessions if s.number == int(raw)), None) or abort(
            404, f"There is no UPR session {raw} in the calendar."
        )
    if request.method == "POST":
        if chosen is None:
            return render_template(
                "campaigns/pre_session.html", sessions=sessions, chosen=None,
                error="Choose the session whose pre-sessions you are announcing.",
            ), 400
        try:
            campaign = starter.create_pre_session_campaign(db.session, chosen, user=current_user)
        except ServiceError as exc:
            db.session.rollback()
            return render_template(
                "campaigns/pre_session.html", sessions=sessions, chosen=chosen, error=exc.message
            ), 400
        db.session.commit()
        flash(
            f"Draft written from the calendar of session {chosen.number}, in English, French and "
            "Spanish. Check every version before sending.",
            "success",
        )
        return redirect(url_for("campaigns.edit", campaign_id=campaign.id))
    today = local_today()
    upcoming = [s for s in sessions if s.wg_start and s.wg_start >= today]
    return render_template(
        "campaigns/pre_session.html",
        sessions=sessions,
        chosen=chosen,
        suggested=chosen or (upcoming[-1] if upcoming else None),
        facts=starter.facts(chosen, "en") if chosen else None,
        missions_segment=starter.MISSIONS_SEGMENT,
        ngo_segment=starter.ngo_segment_name(chosen.number) if chosen else None,
    )
