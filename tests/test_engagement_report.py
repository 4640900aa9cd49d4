"""The engagement report page, its CSV, and the subject test pages staff use."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from sqlalchemy import select, update

from outreach.core.database import utcnow
from outreach.delivery.models import Bounce, OutboxMessage
from outreach.delivery.outbox import enqueue_campaign
from outreach.engagement import subject_tests
from outreach.engagement.models import CampaignLink, Click, Open, SubjectTest
from outreach.subscriptions.models import ConsentRecord
from tests.factories import make_contact
from tests.test_delivery_support import make_campaign, outbox_rows


def sent_campaign(db_session):
    """Five recipients: four delivered, one bounced; clicks, opens, a complaint, an unsubscribe."""
    for email, kind, country, language in (
        ("ann@example.org", "ngo", "CH", "en"),
        ("bob@example.org", "ngo", "CH", "en"),
        ("cat@example.org", "ngo", "KE", "en"),
        ("dan@example.org", "government", "FR", "fr"),
        ("eve@example.org", "government", "FR", "fr"),
    ):
        make_contact(db_session, email, type=kind, country=country, language=language)
    campaign = make_campaign(
        db_session,
        variants={"en": ("News", "Hello"), "fr": ("Nouvelles", "Bonjour")},
        started_at=utcnow() - timedelta(hours=1),
    )
    db_session.commit()
    enqueue_campaign(db_session, campaign)
    db_session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.campaign_id == campaign.id)
        .values(status="sent", sent_at=utcnow())
    )
    rows = {row.email: row for row in outbox_rows(db_session, campaign.id)}
    rows["eve@example.org"].status = "failed"
    db_session.add_all(
        [
            Bounce(outbox_id=rows["eve@example.org"].id, kind="hard", email="eve@example.org"),
            Bounce(outbox_id=rows["cat@example.org"].id, kind="complaint", email="cat@example.org"),
        ]
    )
    report = CampaignLink(campaign_id=campaign.id, url="https://example.net/report")
    calendar = CampaignLink(campaign_id=campaign.id, url="https://example.net/=calendar")
    db_session.add_all([report, calendar])
    db_session.flush()
    now = utcnow()
    for email, link in (
        ("ann@example.org", report),
        ("ann@example.org", report),
        ("bob@example.org", report),
        ("dan@example.org", calendar),
    ):
        db_session.add(Click(outbox_id=rows[email].id, link_id=link.id, clicked_at=now))
    for email in ("ann@example.org", "cat@example.org", "cat@example.org"):
        db_session.add(Open(outbox_id=rows[email].id, opened_at=now))
    bob = rows["bob@example.org"]
    db_session.add(
        ConsentRecord(
            contact_id=bob.contact_id, email_hash="x" * 64, action="unsubscribe", source="link"
        )
    )
    db_session.commit()
    return campaign


def count(page: str, key: str) -> str:
    return re.search(rf'data-count="{key}">([\d,]+)<', page).group(1)


def test_report_numbers_breakdowns_and_charts(staff_client, db_session):
    campaign = sent_campaign(db_session)
    page = staff_client.get(f"/campaigns/{campaign.id}/engagement").get_data(as_text=True)
    expected = {
        "recipients": "5",
        "delivered": "4",
        "failed": "1",
        "bounced": "1",
        "complaints": "1",
        "unsubscribed": "1",
        "unique_opens": "2",
        "unique_clicks": "3",
    }
    assert {key: count(page, key) for key in expected} == expected
    assert page.count("<svg") == 4  # clicks per link, language, contact type, country
    assert "<title>Clicks per link</title>" in page
    assert "https://example.net/report" in page
    languages = page.split('data-breakdown="language"')[1].split("</table>")[0]
    rates = re.findall(r"<tr><td>(\w+)</td>.*?([\d.]+%)</td></tr>", languages)
    assert rates == [("en", "66.7%"), ("fr", "100.0%")]  # unique clicks of delivered
    assert 'data-breakdown="country"' in page and "<td>CH</td>" in page


def test_csv_export(staff_client, db_session):
    campaign = sent_campaign(db_session)
    response = staff_client.get(f"/campaigns/{campaign.id}/engagement.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == [
        "section",
        "key",
        "recipients",
        "delivered",
        "unique_opens",
        "unique_clicks",
        "clicks",
    ]
    assert rows[1] == ["total", "all", "5", "4", "2", "3", "4"]
    links = {row[1]: (row[5], row[6]) for row in rows if row[0] == "link"}
    assert links == {
        "https://example.net/report": ("2", "3"),
        "https://example.net/=calendar": ("1", "1"),
    }
    by_type = {row[1]: row[2:] for row in rows if row[0] == "contact_type"}
    assert by_type == {"ngo": ["3", "3", "2", "2", "3"], "government": ["2", "1", "0", "1", "1"]}


def test_viewers_read_the_report_but_cannot_pick_or_edit_tests(viewer_client, db_session):
    campaign = sent_campaign(db_session)
    assert viewer_client.get(f"/campaigns/{campaign.id}/engagement").status_code == 200
    assert viewer_client.get(f"/campaigns/{campaign.id}/subject-test").status_code == 403
    assert viewer_client.post(f"/campaigns/{campaign.id}/subject-test/winner").status_code == 403
    assert viewer_client.get("/campaigns/999/engagement").status_code == 404


def test_staff_set_up_a_subject_test_and_pick_the_winner(staff_client, db_session):
    make_contact(db_session, "ann@example.org")
    campaign = make_campaign(db_session, status="draft", variants={"en": ("News", "Hello")})
    db_session.commit()
    url = f"/campaigns/{campaign.id}/subject-test"
    page = staff_client.get(url).get_data(as_text=True)
    assert "English subjects, one per line" in page and "\nNews</textarea>" in page

    response = staff_client.post(
        url,
        data={
            "en_subjects": "Only one",
            "share_percent": "20",
            "wait_hours": "4",
            "metric": "clicks",
        },
    )
    assert response.status_code == 400
    assert "Give at least two subjects" in response.get_data(as_text=True)

    response = staff_client.post(
        url,
        data={
            "en_subjects": "News\nBig news",
            "share_percent": "50",
            "wait_hours": "2",
            "metric": "opens",
        },
    )
    assert response.status_code == 302
    test = db_session.scalar(select(SubjectTest))
    assert (test.subjects, test.share_percent, test.wait_hours, test.metric, test.auto_pick) == (
        {"en": ["News", "Big news"]},
        50,
        2,
        "opens",
        False,
    )

    campaign.status = "sending"
    db_session.commit()
    enqueue_campaign(db_session, campaign)
    subject_tests.run_subject_tests(db_session)
    report = staff_client.get(f"/campaigns/{campaign.id}/engagement").get_data(as_text=True)
    assert 'data-test-language="en"' in report and "Big news" in report
    assert 'name="winner_en"' in report

    response = staff_client.post(
        f"/campaigns/{campaign.id}/subject-test/winner", data={"winner_en": "1"}
    )
    assert response.status_code == 302
    db_session.expire_all()
    assert db_session.scalar(select(SubjectTest)).winners == {"en": 1}
    report = staff_client.get(f"/campaigns/{campaign.id}/engagement").get_data(as_text=True)
    assert "data-winner" in report
    assert staff_client.get(url).status_code == 200  # read-only once sending


def test_campaign_page_links_to_the_subject_test_before_and_the_report_after(
    staff_client, db_session
):
    campaign = make_campaign(db_session, status="draft")
    db_session.commit()
    page = staff_client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert f'href="/campaigns/{campaign.id}/subject-test"' in page
    assert f'href="/campaigns/{campaign.id}/engagement"' not in page
    campaign.status = "sent"
    db_session.commit()
    page = staff_client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert f'href="/campaigns/{campaign.id}/engagement"' in page
    assert f'href="/campaigns/{campaign.id}/subject-test"' not in page


def test_staff_pages_need_sign_in(client, db_session):
    campaign = make_campaign(db_session, status="sent")
    db_session.commit()
    for url in (f"/campaigns/{campaign.id}/engagement", "/webhooks/notices"):
        assert client.get(url).status_code == 302
