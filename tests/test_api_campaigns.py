"""/segments and /campaigns through the API: the same services and state machine as the UI."""
# ruff: noqa: F811  (the API fixtures are imported from tests.api_support)

from __future__ import annotations

from datetime import timedelta

import pytest

from outreach.calendar.models import Review, UPRSession
from outreach.campaigns.models import Campaign
from outreach.core.database import utcnow
from outreach.delivery.models import OutboxMessage
from tests.api_support import api, assert_error, viewer_api  # noqa: F401  (fixtures)
from tests.factories import make_contact


@pytest.fixture
def registry(db_session):
    make_contact(db_session, "ana@example.org", type="ngo", country="FR", language="fr")
    make_contact(db_session, "ben@example.org", type="ngo", country="KE")
    make_contact(db_session, "cy@example.org", type="nhri", country="KE")
    upr = UPRSession(number=36)
    upr.reviews = [Review(country_code="KE")]
    db_session.add(upr)
    db_session.commit()


def test_segment_create_get_and_members(api, registry):
    created = api.post(
        "/segments",
        json={"name": "NGOs on 36", "filters": {"types": ["ngo"], "session_under_review": 36}},
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    assert body["count"] == 1 and body["filters"]["session_under_review"] == 36
    segment_id = body["id"]
    assert api.get(f"/segments/{segment_id}").get_json()["count"] == 1
    members = api.get(f"/segments/{segment_id}/members").get_json()
    assert [item["email"] for item in members["items"]] == ["ben@example.org"]
    assert members["total"] == 1
    assert api.get("/segments").get_json()["items"][0]["name"] == "NGOs on 36"
    assert_error(api.get("/segments/999/members"), 404)


def test_segment_refusals(api, registry):
    api.post("/segments", json={"name": "All", "filters": {}})
    assert_error(api.post("/segments", json={"name": "all"}), 422)
    error = assert_error(
        api.post("/segments", json={"name": "X", "filters": {"types": ["robot"], "colour": 1}}),
        422,
    )
    assert set(error["fields"]) == {"types", "colour"}
    assert_error(
        api.post("/segments", json={"name": "Y", "filters": {"session_under_review": 99}}), 422
    )
    assert_error(api.post("/segments", json={"name": "Z", "filters": ["ngo"]}), 400)


def new_campaign(api, segment_ids, **extra):
    body = {
        "name": "March newsletter",
        "topic": "newsletter",
        "sender_name": "UPR Info",
        "sender_email": "news@example.org",
        "default_language": "en",
        "variants": [
            {"language": "en", "subject": "UPR news", "body_markdown": "Dear all,\n\nNews."},
            {"language": "fr", "subject": "Actualités", "body_markdown": "Bonjour,"},
        ],
        "segment_ids": segment_ids,
        **extra,
    }
    return api.post("/campaigns", json=body)


@pytest.fixture
def segment_id(api, registry):
    return api.post("/segments", json={"name": "NGOs", "filters": {"types": ["ngo"]}}).get_json()[
        "id"
    ]


def test_campaign_create_patch_and_get(api, segment_id):
    created = new_campaign(api, [segment_id])
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    assert body["status"] == "draft" and body["segment_ids"] == [segment_id]
    assert body["counts"] == {"queued": 0, "sent": 0, "failed": 0, "skipped": 0}
    assert [v["language"] for v in body["variants"]] == ["en", "fr"]
    patched = api.patch(f"/campaigns/{body['id']}", json={"name": "April newsletter"})
    assert patched.get_json()["name"] == "April newsletter"
    assert patched.get_json()["variants"] == body["variants"]
    listing = api.get("/campaigns?status=draft").get_json()
    assert [item["id"] for item in listing["items"]] == [body["id"]]


def test_a_patch_keeps_what_it_does_not_name(api, segment_id, db_session):
    from outreach.campaigns.models import Campaign

    campaign_id = new_campaign(api, [segment_id]).get_json()["id"]
    campaign = db_session.get(Campaign, campaign_id)
    campaign.track_clicks, campaign.track_opens = False, True  # set in the staff UI
    db_session.commit()
    assert api.patch(f"/campaigns/{campaign_id}", json={"name": "Renamed"}).status_code == 200
    db_session.expire_all()
    campaign = db_session.get(Campaign, campaign_id)
    assert (campaign.name, campaign.track_clicks, campaign.track_opens) == ("Renamed", False, True)


def test_campaign_refusals(api, segment_id):
    error = assert_error(new_campaign(api, [segment_id], topic="gossip", sender_email="x"), 422)
    assert {"topic", "sender_email"} <= set(error["fields"])
    error = assert_error(new_campaign(api, [segment_id], variants=[{"language": "en"}]), 400)
    assert "variants[0].subject" in error["fields"]
    assert_error(new_campaign(api, ["one"]), 400)
    assert_error(
        new_campaign(
            api,
            [segment_id],
            variants=[{"language": "en", "subject": "Hi", "body_markdown": "{{ nonsense( }}"}],
        ),
        422,
    )


def test_schedule_pause_resume_cancel_and_recipients(api, db_session, segment_id):
    campaign_id = new_campaign(api, [segment_id]).get_json()["id"]
    when = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    scheduled = api.post(f"/campaigns/{campaign_id}/schedule", json={"send_at": when.isoformat()})
    assert scheduled.status_code == 200, scheduled.get_data(as_text=True)
    assert scheduled.get_json()["status"] == "scheduled"
    assert scheduled.get_json()["scheduled_at"] == when.isoformat()
    assert_error(api.patch(f"/campaigns/{campaign_id}", json={"name": "Late"}), 409, "locked")

    now = api.post(f"/campaigns/{campaign_id}/schedule", json={"now": True})
    assert now.get_json()["status"] == "scheduled"
    assert_error(api.post(f"/campaigns/{campaign_id}/resume"), 409, "illegal_transition")

    campaign = db_session.get(Campaign, campaign_id)
    campaign.status = "sending"
    for number, status in enumerate(["queued", "sent", "sent", "failed"]):
        db_session.add(
            OutboxMessage(campaign_id=campaign_id, email=f"r{number}@example.org", status=status)
        )
    db_session.commit()
    assert api.get(f"/campaigns/{campaign_id}").get_json()["counts"] == {
        "queued": 1,
        "sent": 2,
        "failed": 1,
        "skipped": 0,
    }
    assert api.post(f"/campaigns/{campaign_id}/pause").get_json()["status"] == "paused"
    assert api.post(f"/campaigns/{campaign_id}/resume").get_json()["status"] == "sending"
    api.post(f"/campaigns/{campaign_id}/pause")
    cancelled = api.post(f"/campaigns/{campaign_id}/cancel").get_json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["counts"] == {"queued": 0, "sent": 2, "failed": 1, "skipped": 1}

    recipients = api.get(f"/campaigns/{campaign_id}/recipients?status=sent").get_json()
    assert sorted(item["email"] for item in recipients["items"]) == [
        "r1@example.org",
        "r2@example.org",
    ]
    assert api.get(f"/campaigns/{campaign_id}/recipients?q=r3").get_json()["total"] == 1
    assert_error(api.get(f"/campaigns/{campaign_id}/recipients?status=lost"), 400)


def test_schedule_refusals(api, segment_id):
    campaign_id = new_campaign(api, [segment_id]).get_json()["id"]
    path = f"/campaigns/{campaign_id}/schedule"
    assert_error(api.post(path, json={}), 400)
    assert_error(api.post(path, json={"send_at": "tomorrow"}), 400)
    assert_error(api.post(path, json={"send_at": "2030-01-01T09:00:00"}), 400)  # no offset
    error = assert_error(api.post(path, json={"send_at": "2001-01-01T09:00:00Z"}), 422)
    assert "send_at" in error["fields"]
    empty = new_campaign(api, [], name="Nobody").get_json()["id"]
    assert_error(api.post(f"/campaigns/{empty}/schedule", json={"now": True}), 422)
    assert_error(api.post("/campaigns/999/pause"), 404)


def test_viewer_reads_campaigns_but_cannot_change_them(api, viewer_api, segment_id):
    campaign_id = new_campaign(api, [segment_id]).get_json()["id"]
    assert viewer_api.get(f"/campaigns/{campaign_id}").status_code == 200
    assert viewer_api.get(f"/campaigns/{campaign_id}/recipients").status_code == 200
    assert_error(viewer_api.post(f"/campaigns/{campaign_id}/schedule", json={"now": True}), 403)
    assert_error(viewer_api.post(f"/campaigns/{campaign_id}/cancel"), 403)
