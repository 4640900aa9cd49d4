"""Composing campaigns: the services and the staff pages (new, edit, overview, preview, test send,
duplicate, delete)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from outreach.campaigns import services
from outreach.campaigns import views as campaign_views
from outreach.campaigns.models import Campaign, CampaignVariant
from outreach.campaigns.services import CampaignData
from outreach.core.errors import ServiceError
from outreach.segments.services import create_segment
from tests.factories import make_contact


def data(**changes) -> CampaignData:
    values = {
        "name": "Autumn newsletter",
        "sender_name": "UPR Team",
        "sender_email": "news@example.org",
        "variants": [
            ("en", "News for {{ contact.first_name }}", "Hello **{{ contact.first_name }}**"),
        ],
    }
    values.update(changes)
    return CampaignData(**values)


def form(**changes) -> dict:
    values = {
        "name": "Autumn newsletter",
        "topic": "newsletter",
        "sender_name": "UPR Team",
        "sender_email": "news@example.org",
        "reply_to": "",
        "default_language": "en",
        "session_id": "",
        "en_include": "y",
        "en_subject": "News for {{ contact.first_name }}",
        "en_body": "Hello {{ contact.first_name }}",
    }
    values.update(changes)
    return {key: value for key, value in values.items() if value is not None}


def count(db_session, model) -> int:
    return db_session.scalar(select(func.count()).select_from(model))


def text_of(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def segment(db_session):
    make_contact(db_session, "ana@example.org", type="ngo", country="AD", first_name="Ana",
                 last_name="Abad", language="es")
    make_contact(db_session, "bob@example.org", type="ngo", first_name="Bob", last_name="Brown")
    segment = create_segment(db_session, "NGOs", {"types": ["ngo"]})
    db_session.commit()
    return segment


@pytest.fixture
def campaign(db_session, segment):
    campaign = services.create_campaign(
        db_session,
        data(segment_ids=[segment.id], variants=[
            ("en", "News for {{ contact.first_name }}", "Hello **{{ contact.first_name }}**"),
            ("fr", "Nouvelles pour {{ contact.first_name }}", "Bonjour {{ contact.first_name }}"),
        ]),
    )
    db_session.commit()
    return campaign


# --- Services -------------------------------------------------------------------------------------


def test_create_campaign_stores_settings_variants_and_segments(db_session, segment, admin_user):
    campaign = services.create_campaign(
        db_session,
        data(name="  Autumn   newsletter ", reply_to=" replies@example.org ", public=True,
             segment_ids=[segment.id],
             variants=[("fr", " Salut ", "Bonjour"), ("en", "Hi", "Hey")]),
        user=admin_user,
    )
    db_session.commit()
    assert campaign.name == "Autumn newsletter"
    assert campaign.status == "draft" and campaign.public is True
    assert campaign.reply_to == "replies@example.org"
    assert [(v.language, v.subject) for v in campaign.variants] == [("en", "Hi"), ("fr", "Salut")]
    assert campaign.segments == [segment]
    assert campaign.created_by_id == admin_user.id


def test_update_replaces_variants_by_language(db_session, campaign):
    french_id = campaign.variant("fr").id
    services.update_campaign(
        db_session, campaign,
        data(variants=[("fr", "Nouveau", "Texte"), ("es", "Hola", "Texto")], default_language="fr"),
    )
    db_session.commit()
    assert sorted(v.language for v in campaign.variants) == ["es", "fr"]
    assert campaign.variant("fr").id == french_id and campaign.variant("fr").subject == "Nouveau"
    assert campaign.variant("en").language == "fr"  # falls back to the default language
    assert count(db_session, CampaignVariant) == 2
    assert campaign.segments == []


@pytest.mark.parametrize("status, message", [
    ("scheduled", "unschedule it first"),
    ("sending", "can no longer change"),
    ("sent", "can no longer change"),
])
def test_only_drafts_can_change(db_session, campaign, status, message):
    campaign.status = status
    db_session.commit()
    with pytest.raises(ServiceError, match=message):
        services.update_campaign(db_session, campaign, data(name="Changed"))
    with pytest.raises(ServiceError, match="Only drafts can be deleted"):
        services.delete_campaign(db_session, campaign)
    db_session.rollback()
    assert db_session.get(Campaign, campaign.id).name == "Autumn newsletter"


def test_duplicate_makes_a_new_draft(db_session, campaign):
    campaign.status = "sent"
    campaign.public = True
    copy = services.duplicate_campaign(db_session, campaign)
    db_session.commit()
    assert copy.id != campaign.id and copy.status == "draft"
    assert copy.name == "Copy of Autumn newsletter" and copy.public is True
    assert [(v.language, v.subject) for v in copy.variants] == [
        (v.language, v.subject) for v in campaign.variants
    ]
    assert copy.segments == campaign.segments
    assert copy.scheduled_at is None and copy.started_at is None


def test_delete_a_draft(db_session, campaign):
    services.delete_campaign(db_session, campaign)
    db_session.commit()
    assert count(db_session, Campaign) == 0 and count(db_session, CampaignVariant) == 0


def test_parse_test_addresses(app):
    assert services.parse_test_addresses("a@example.org, b@example.org\nc@example.org") == [
        "a@example.org", "b@example.org", "c@example.org",
    ]
    with pytest.raises(ServiceError, match="at least one"):
        services.parse_test_addresses("  ")
    with pytest.raises(ServiceError, match="at most 5"):
        services.parse_test_addresses(",".join(f"u{i}@example.org" for i in range(6)))
    with pytest.raises(ServiceError, match="not a valid email"):
        services.parse_test_addresses("ok@example.org, nope@")


# --- New and edit pages ---------------------------------------------------------------------------


def test_new_campaign_page_has_defaults_and_merge_field_help(staff_client, segment):
    page = text_of(staff_client.get("/campaigns/new"))
    assert "New campaign" in page
    assert 'value="outreach@localhost"' in page  # from MAIL_DEFAULT_SENDER
    assert "Merge fields" in page and "{{ contact.first_name }}" in page
    assert "upcoming_deadlines" in page
    assert ">NGOs</option>" in page
    for language in ("English", "French", "Spanish"):
        assert f"Include the {language} version" in page


def test_create_through_the_form(staff_client, db_session, segment):
    response = staff_client.post("/campaigns/new", data=form(
        segment_ids=str(segment.id), fr_include="y", fr_subject="Salut", fr_body="Bonjour",
        es_subject="ignored", es_body="not included",
    ))
    assert response.status_code == 302
    campaign = db_session.scalar(select(Campaign))
    assert response.headers["Location"].endswith(f"/campaigns/{campaign.id}")
    assert sorted(v.language for v in campaign.variants) == ["en", "fr"]
    assert campaign.segments[0].name == "NGOs"
    page = text_of(staff_client.get(f"/campaigns/{campaign.id}"))
    assert "Autumn newsletter" in page and "Salut" in page and "NGOs" in page
    assert "Audience and sending" in page  # the sending panel is included


def test_bad_input_shows_every_problem_per_variant_and_keeps_the_text(staff_client, db_session):
    english = "Dear colleague,\n\n{{ contact.first_name }}\n{{ contact.firstname }}"
    response = staff_client.post("/campaigns/new", data=form(
        name="", sender_name="Team\r\nBcc: all@example.org", en_body=english,
        fr_include="y", fr_subject="", fr_body="Un\nDeux\n{% for d in upcoming_deadlines %}",
    ))
    assert response.status_code == 400
    page = text_of(response)
    assert "The campaign was not saved" in page
    assert "Give the campaign a name." in page
    assert "line break" in page
    assert "English body, line 4: &#39;contact&#39; has no attribute &#39;firstname&#39;" in page
    assert "The French subject is empty." in page
    assert "French body, line 3:" in page
    assert "{{ contact.firstname }}</textarea>" in page  # what was typed is kept
    assert count(db_session, Campaign) == 0


@pytest.mark.parametrize("field, value", [
    ("segment_ids", "abc"),
    ("segment_ids", "999"),
    ("session_id", "999"),
    ("topic", "spam"),
    ("default_language", "de"),
])
def test_bad_choices_are_form_errors_not_crashes(staff_client, db_session, segment, field, value):
    response = staff_client.post("/campaigns/new", data=form(**{field: value}))
    assert response.status_code == 400
    assert f'<a href="#{field}" class="alert-link">' in text_of(response)
    assert count(db_session, Campaign) == 0


def test_edit_a_draft(staff_client, db_session, campaign):
    page = text_of(staff_client.get(f"/campaigns/{campaign.id}/edit"))
    assert "Nouvelles pour {{ contact.first_name }}" in page
    response = staff_client.post(f"/campaigns/{campaign.id}/edit", data=form(name="Renamed"))
    assert response.status_code == 302
    db_session.expire_all()
    campaign = db_session.get(Campaign, campaign.id)
    assert campaign.name == "Renamed"
    assert [v.language for v in campaign.variants] == ["en"]  # French was unticked


def test_content_is_locked_once_sending_started(staff_client, db_session, campaign):
    campaign.status = "sending"
    db_session.commit()
    page = staff_client.get(f"/campaigns/{campaign.id}/edit")
    assert page.status_code == 200
    assert "content was locked when sending started" in text_of(page)
    assert "Bonjour {{ contact.first_name }}" in text_of(page)
    assert "<textarea" not in text_of(page)
    response = staff_client.post(f"/campaigns/{campaign.id}/edit", data=form(name="Changed"))
    assert response.status_code == 400
    db_session.expire_all()
    assert db_session.get(Campaign, campaign.id).name == "Autumn newsletter"


def test_a_scheduled_campaign_must_be_unscheduled_first(staff_client, db_session, campaign):
    campaign.status = "scheduled"
    db_session.commit()
    assert "unschedule it first" in text_of(staff_client.get(f"/campaigns/{campaign.id}/edit"))
    assert "unschedule it first" in text_of(staff_client.get(f"/campaigns/{campaign.id}"))


def test_unknown_campaign_is_404(staff_client):
    assert staff_client.get("/campaigns/999").status_code == 404
    assert staff_client.get("/campaigns/999/edit").status_code == 404
    assert staff_client.get("/campaigns/999/preview").status_code == 404


# --- Preview --------------------------------------------------------------------------------------


def test_preview_defaults_to_the_first_audience_member(staff_client, campaign):
    page = text_of(staff_client.get(f"/campaigns/{campaign.id}/preview"))
    assert "ana@example.org" in page  # first contact of the audience
    # Ana reads Spanish: there is none, so she gets the default English version
    assert "there is no Spanish version" in page
    assert "News for Ana" in page
    assert 'sandbox title="HTML version of the message" src="' in page
    frame = staff_client.get(f"/campaigns/{campaign.id}/preview/email")
    assert frame.status_code == 200
    assert "style-src 'unsafe-inline'" in frame.headers["Content-Security-Policy"]
    assert "sandbox" in frame.headers["Content-Security-Policy"]
    assert "Hello <strong>Ana</strong>" in frame.get_data(as_text=True)
    assert "Hello Ana" in page  # the text part


def test_preview_a_chosen_contact_and_language(staff_client, db_session, campaign):
    bob = db_session.scalar(select(campaign_views.Contact).where(
        campaign_views.Contact.email == "bob@example.org"))
    page = text_of(staff_client.get(
        f"/campaigns/{campaign.id}/preview?contact_id={bob.id}&language=fr"))
    assert "Nouvelles pour Bob" in page and "Bonjour Bob" in page
    sample = text_of(staff_client.get(f"/campaigns/{campaign.id}/preview?sample=1"))
    assert "News for Amina" in sample and "fictional sample contact" in sample


def test_preview_search_finds_audience_members(staff_client, campaign):
    page = text_of(staff_client.get(f"/campaigns/{campaign.id}/preview?q=bob"))
    assert "Recipients matching" in page and "bob@example.org" in page
    assert "ana@example.org</a>" not in page
    none = text_of(staff_client.get(f"/campaigns/{campaign.id}/preview?q=zzz"))
    assert "Nobody in this campaign" in none


def test_preview_rejects_bad_arguments(staff_client, campaign):
    base = f"/campaigns/{campaign.id}/preview"
    assert staff_client.get(f"{base}?contact_id=abc").status_code == 404
    assert staff_client.get(f"{base}?contact_id=99999").status_code == 404
    assert staff_client.get(f"{base}?language=de").status_code == 400


def test_preview_shows_template_problems_instead_of_failing(staff_client, db_session, campaign):
    campaign.variant("fr").body_markdown = "Bonjour\n{{ contact.nom }}"
    db_session.commit()
    response = staff_client.get(f"/campaigns/{campaign.id}/preview")
    assert response.status_code == 200
    assert "French body, line 2: &#39;contact&#39; has no attribute &#39;nom&#39;" in text_of(
        response)


# --- Test send ------------------------------------------------------------------------------------


def test_test_send_calls_the_engine_and_leaves_the_campaign_alone(
    staff_client, db_session, campaign, monkeypatch
):
    calls = []

    def fake_send_test(session, sent_campaign, addresses, sample=None, language=None):
        calls.append((sent_campaign.id, addresses, sample.email if sample else None, language))
        return len(addresses)

    monkeypatch.setattr(campaign_views, "send_test", fake_send_test)
    response = staff_client.post(f"/campaigns/{campaign.id}/test", data={
        "addresses": "me@example.org,\nyou@example.org", "language": "fr", "contact_id": "",
    })
    assert response.status_code == 302
    assert calls == [(campaign.id, ["me@example.org", "you@example.org"], None, "fr")]
    page = text_of(staff_client.get(response.headers["Location"]))
    assert "Test sent to 2 addresses" in page
    db_session.expire_all()
    assert db_session.get(Campaign, campaign.id).status == "draft"


def test_test_send_refuses_bad_addresses(staff_client, campaign, monkeypatch):
    monkeypatch.setattr(campaign_views, "send_test", lambda *a, **k: pytest.fail("sent"))
    response = staff_client.post(f"/campaigns/{campaign.id}/test",
                                 data={"addresses": "a@example.org b@", "language": "en"})
    assert response.status_code == 400
    assert "not a valid email address" in text_of(response)
    too_many = ", ".join(f"u{i}@example.org" for i in range(6))
    response = staff_client.post(f"/campaigns/{campaign.id}/test",
                                 data={"addresses": too_many, "language": "en"})
    assert response.status_code == 400 and "at most 5" in text_of(response)


def test_test_send_over_smtp(staff_client, campaign, mail_server):
    response = staff_client.post(f"/campaigns/{campaign.id}/test",
                                 data={"addresses": "tester@example.org", "language": "fr"})
    assert response.status_code == 302, text_of(response)
    message = mail_server.wait_for(1)[0]
    assert message["Subject"] == "[TEST] Nouvelles pour Amina"
    assert message["To"] == "tester@example.org"
    assert "List-Unsubscribe" not in message
    assert "Bonjour Amina" in message.get_body(("plain",)).get_content()


# --- Duplicate, delete, permissions ---------------------------------------------------------------


def test_duplicate_and_delete_pages(staff_client, db_session, campaign):
    response = staff_client.post(f"/campaigns/{campaign.id}/duplicate")
    copy = db_session.scalar(select(Campaign).where(Campaign.id != campaign.id))
    assert response.headers["Location"].endswith(f"/campaigns/{copy.id}/edit")
    confirm = text_of(staff_client.get(f"/campaigns/{copy.id}/delete"))
    assert "Delete the draft “Copy of Autumn newsletter”?" in confirm
    assert staff_client.post(f"/campaigns/{copy.id}/delete").status_code == 302
    assert count(db_session, Campaign) == 1


def test_a_sent_campaign_cannot_be_deleted(staff_client, db_session, campaign):
    campaign.status = "sent"
    db_session.commit()
    page = text_of(staff_client.get(f"/campaigns/{campaign.id}/delete"))
    assert "Only drafts can be deleted" in page
    assert staff_client.post(f"/campaigns/{campaign.id}/delete").status_code == 400
    assert count(db_session, Campaign) == 1


def test_viewers_may_look_but_not_change(viewer_client, db_session, campaign):
    assert viewer_client.get(f"/campaigns/{campaign.id}").status_code == 200
    assert viewer_client.get(f"/campaigns/{campaign.id}/preview").status_code == 200
    for method, url in [
        ("get", "/campaigns/new"),
        ("post", "/campaigns/new"),
        ("get", f"/campaigns/{campaign.id}/edit"),
        ("post", f"/campaigns/{campaign.id}/edit"),
        ("post", f"/campaigns/{campaign.id}/duplicate"),
        ("get", f"/campaigns/{campaign.id}/delete"),
        ("post", f"/campaigns/{campaign.id}/delete"),
        ("get", f"/campaigns/{campaign.id}/test"),
        ("post", f"/campaigns/{campaign.id}/test"),
        ("get", "/campaigns/new/pre-session"),
    ]:
        assert getattr(viewer_client, method)(url).status_code == 403, url
    page = text_of(viewer_client.get(f"/campaigns/{campaign.id}"))
    assert "Duplicate" not in page and ">Edit<" not in page
    assert count(db_session, Campaign) == 1


def test_anonymous_users_are_sent_to_the_login_page(client, campaign):
    response = client.get(f"/campaigns/{campaign.id}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
