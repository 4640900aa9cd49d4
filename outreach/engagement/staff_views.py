"""Staff pages: a campaign's engagement report (and CSV), its subject test, webhook notices."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from outreach.auth.decorators import editor_required, require_login
from outreach.campaigns.merge import LANGUAGE_NAMES
from outreach.campaigns.models import Campaign
from outreach.core.errors import ServiceError
from outreach.engagement import report, subject_tests
from outreach.engagement.charts import bar_chart
from outreach.engagement.forms import SubjectTestForm
from outreach.engagement.models import WebhookNotice
from outreach.extensions import db

bp = Blueprint("engagement_staff", __name__)
bp.before_request(require_login)

NOTICE_LIMIT = 100


def get_campaign(campaign_id: int) -> Campaign:
    return db.session.get(Campaign, campaign_id) or abort(404, "There is no such campaign.")


@bp.route("/campaigns/<int:campaign_id>/engagement")
def engagement(campaign_id: int):
    campaign = get_campaign(campaign_id)
    built = report.build(db.session, campaign)
    charts = {
        name: bar_chart(
            f"Unique clicks by {label.lower()}",
            [(row.key, row.clicks) for row in built.breakdowns[name]],
        )
        for name, (label, _column) in report.BREAKDOWNS.items()
    }
    charts["links"] = bar_chart("Clicks per link", [(url, n) for url, n, _u in built.links])
    test = subject_tests.find_test(db.session, campaign.id)
    results = subject_tests.group_results(db.session, test) if test is not None else {}
    return render_template(
        "engagement/report.html",
        campaign=campaign,
        report=built,
        charts=charts,
        labels={name: label for name, (label, _c) in report.BREAKDOWNS.items()},
        test=test,
        results=results,
        language_names=LANGUAGE_NAMES,
    )


@bp.route("/campaigns/<int:campaign_id>/engagement.csv")
def engagement_csv(campaign_id: int):
    campaign = get_campaign(campaign_id)
    lines = list(report.csv_lines(report.build(db.session, campaign)))
    filename = f"campaign-{campaign.id}-engagement.csv"
    return Response(
        "".join(lines),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.route("/campaigns/<int:campaign_id>/subject-test", methods=["GET", "POST"])
@editor_required
def subject_test(campaign_id: int):
    campaign = get_campaign(campaign_id)
    test = subject_tests.find_test(db.session, campaign.id)
    languages = [variant.language for variant in campaign.variants]
    form = SubjectTestForm(request.form if request.method == "POST" else None)
    if request.method == "GET":
        if test is not None:
            form.fill_from(test)
        else:
            for variant in campaign.variants:
                form[f"{variant.language}_subjects"].data = variant.subject
    status = 200
    if request.method == "POST":
        try:
            subject_tests.save_test(db.session, campaign, form.to_data(languages))
        except ServiceError as exc:
            db.session.rollback()
            form.add_problems(exc.fields or {})
            flash(exc.message, "danger")
            status = 400
        else:
            db.session.commit()
            flash(
                "Subject test saved: its groups are sent first when the campaign starts.", "success"
            )
            return redirect(url_for("campaigns.detail", campaign_id=campaign.id))
    return render_template(
        "engagement/subject_test.html",
        campaign=campaign,
        form=form,
        test=test,
        languages=languages,
        language_names=LANGUAGE_NAMES,
    ), status


@bp.post("/campaigns/<int:campaign_id>/subject-test/delete")
@editor_required
def delete_subject_test(campaign_id: int):
    campaign = get_campaign(campaign_id)
    try:
        subject_tests.remove_test(db.session, campaign)
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
        return redirect(url_for("engagement_staff.subject_test", campaign_id=campaign.id)), 303
    db.session.commit()
    flash("Subject test removed: every recipient gets the campaign's subject.", "success")
    return redirect(url_for("campaigns.detail", campaign_id=campaign.id))


@bp.post("/campaigns/<int:campaign_id>/subject-test/winner")
@editor_required
def pick_winner(campaign_id: int):
    campaign = get_campaign(campaign_id)
    test = subject_tests.find_test(db.session, campaign.id) or abort(404, "No subject test.")
    winners = {}
    for language in test.subjects or {}:
        value = request.form.get(f"winner_{language}", "")
        if not value.isdigit():
            flash(
                f"Choose the {LANGUAGE_NAMES.get(language, language)} subject that wins.", "danger"
            )
            return redirect(url_for("engagement_staff.engagement", campaign_id=campaign.id))
        winners[language] = int(value)
    try:
        subject_tests.decide(db.session, test, winners, by="staff")
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
    else:
        db.session.commit()
        flash("Winner chosen: the other recipients get it now.", "success")
    return redirect(url_for("engagement_staff.engagement", campaign_id=campaign.id))


@bp.route("/webhooks/notices")
def notices():
    rows = db.session.scalars(
        select(WebhookNotice).order_by(WebhookNotice.id.desc()).limit(NOTICE_LIMIT)
    ).all()
    return render_template("engagement/notices.html", notices=rows)
