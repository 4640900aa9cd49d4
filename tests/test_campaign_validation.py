"""Campaign validation: every bad input is refused with a message that says what and where."""

from __future__ import annotations

from datetime import timedelta

import pytest

from outreach.calendar.models import Review, UPRSession
from outreach.campaigns import lifecycle
from outreach.campaigns.services import CampaignData, create_campaign, data_from_campaign
from outreach.campaigns.validation import (
    CampaignInvalid,
    check_data,
    template_problems,
    validate_campaign,
    validate_data,
)
from outreach.core.database import utcnow
from outreach.segments.services import create_segment
from outreach.subscriptions.models import Suppression
from tests.factories import make_contact


def data(**changes) -> CampaignData:
    values = {
        "name": "Autumn newsletter",
        "topic": "newsletter",
        "sender_name": "UPR Team",
        "sender_email": "news@example.org",
        "default_language": "en",
        "variants": [("en", "News for {{ contact.first_name }}", "Hello {{ contact.first_name }}")],
    }
    values.update(changes)
    return CampaignData(**values)


def messages(db_session, campaign_data) -> list[str]:
    return [problem.message for problem in check_data(db_session, campaign_data)]


def problems_by_field(db_session, campaign_data) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for problem in check_data(db_session, campaign_data):
        found.setdefault(problem.field, []).append(problem.message)
    return found


def test_a_good_campaign_has_no_problem(db_session):
    assert messages(db_session, data()) == []


def test_settings_problems_name_their_field(db_session):
    found = problems_by_field(
        db_session,
        data(name="  ", topic="spam", sender_email="not-an-address", reply_to="also bad",
             default_language="de"),
    )
    assert found["name"] == ["Give the campaign a name."]
    assert "Choose a topic" in found["topic"][0]
    assert "not a valid email address" in found["sender_email"][0]
    assert "reply-to address" in found["reply_to"][0]
    assert "default language" in found["default_language"][0]


def test_sender_address_is_required_but_the_own_mail_domain_is_accepted(app, db_session):
    assert "Give the sender's email address." in messages(db_session, data(sender_email=""))
    own = f"outreach@{app.config['MAIL_DOMAIN']}"  # "localhost" in tests: not a public domain
    assert messages(db_session, data(sender_email=own)) == []


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"sender_name": "UPR Team\r\nBcc: everyone@example.org"}, "sender_name"),
        ({"sender_email": "news@example.org\nBcc: x@example.org"}, "sender_email"),
        ({"reply_to": "a@example.org\r\nBcc: x@example.org"}, "reply_to"),
        ({"variants": [("en", "Hello\r\nBcc: x@example.org", "Body")]}, "en_subject"),
        ({"variants": [("en", "Hello\nBcc: x@example.org", "Body")]}, "en_subject"),
    ],
)
def test_header_injection_is_refused_with_a_clear_message(db_session, changes, field):
    found = problems_by_field(db_session, data(**changes))
    assert field in found
    assert "line break" in found[field][0]


def test_variants_are_required_and_the_default_language_needs_one(db_session):
    assert "Write at least one language version." in messages(db_session, data(variants=[]))
    found = messages(db_session, data(default_language="fr"))
    assert any("default language is French but there is no French version" in m for m in found)


def test_empty_subject_and_body_are_refused_per_language(db_session):
    found = problems_by_field(
        db_session, data(variants=[("en", "Hi", "Body"), ("fr", "  ", ""), ("es", "", "Texto")])
    )
    assert found["fr_subject"] == ["The French subject is empty."]
    assert found["fr_body"] == ["The French body is empty."]
    assert found["es_subject"] == ["The Spanish subject is empty."]
    assert "en_subject" not in found and "en_body" not in found


def test_broken_merge_fields_are_reported_in_every_variant_with_their_line(db_session):
    english = "Dear colleague,\n\n{{ contact.first_name }}\n{{ contact.firstname }}\n"
    french = "Bonjour,\n\nLigne trois\n{{ contact.firstname }}\n"
    spanish = "Hola\n{% for d in upcoming_deadlines %}\n- {{ d.lable }}\n{% endfor %}\n"
    found = messages(
        db_session,
        data(variants=[("en", "Hi", english), ("fr", "Salut {{ contatc.first_name }}", french),
                       ("es", "Hola", spanish)]),
    )
    assert "English body, line 4: 'contact' has no attribute 'firstname'" in found
    assert "French body, line 4: 'contact' has no attribute 'firstname'" in found
    assert "French subject: 'contatc' is undefined" in found
    assert "Spanish body, line 3: 'd' has no attribute 'lable'" in found


def test_syntax_errors_are_reported_with_their_line(db_session):
    body = "One\nTwo\n{% if contact.type == 'ngo' %}\nThree {{ contact.first_name }\n"
    found = messages(db_session, data(variants=[("en", "Hi {{ }}", body)]))
    assert any(m.startswith("English body, line 4: ") for m in found), found
    assert any(m.startswith("English subject: ") for m in found), found


def test_problems_in_branches_not_taken_are_still_found(db_session):
    body = "{% if contact.type == 'permanent_mission' %}\n{{ contact.mission_name }}\n{% endif %}"
    found = messages(db_session, data(variants=[("en", "Hi", body)]))
    assert found == ["English body, line 2: 'contact' has no attribute 'mission_name'"]


def test_unknown_names_and_filters_are_refused(db_session):
    body = "{{ recipient.name }}\n{{ contact.first_name|shout }}"
    found = messages(db_session, data(variants=[("en", "Hi", body)]))
    assert "English body, line 1: 'recipient' is undefined" in found
    assert any("line 2" in m and "shout" in m for m in found), found


def test_session_fields_need_a_session(db_session):
    body = "Session {{ session.number }}"
    found = messages(db_session, data(variants=[("en", "Hi", body)]))
    assert found == [
        "English body, line 1: 'session' is undefined: choose the campaign's UPR session in its "
        "settings"
    ]
    upr_session = UPRSession(number=50, reviews=[Review(country_code="AD")])
    db_session.add(upr_session)
    db_session.flush()
    ok = data(variants=[("en", "Hi", body + " {{ session.states|join(', ') }}")],
              session_id=upr_session.id)
    assert messages(db_session, ok) == []
    bad = data(variants=[("en", "Hi", "{{ session.name }}")], session_id=upr_session.id)
    assert messages(db_session, bad) == ["English body, line 1: 'session' has no attribute 'name'"]


def test_the_sandbox_refuses_unsafe_attributes(app):
    from outreach.campaigns.validation import sample_context

    source = "Hi\n{{ organisation_name.__class__.__mro__ }}"
    found = template_problems(source, "en", "body", sample_context("en", None))
    assert found == [
        "English body, line 2: access to attribute '__class__' of 'str' object is unsafe."
    ]


def test_runtime_errors_are_reported_not_raised(app):
    from outreach.campaigns.validation import sample_context

    found = template_problems("a\nb\n{{ contact.first_name + 1 }}", "en", "body",
                              sample_context("en", None))
    assert len(found) == 1 and found[0].startswith("English body, line 3: ")


def test_validate_data_raises_one_error_listing_everything(db_session):
    with pytest.raises(CampaignInvalid) as caught:
        validate_data(db_session, data(name="", variants=[("fr", "", "{{ nope }}")]))
    error = caught.value
    assert error.message.startswith("The campaign was not saved:")
    assert "Give the campaign a name." in error.message
    assert "The French subject is empty." in error.message
    assert "French body, line 1: 'nope' is undefined" in error.message
    assert error.fields["fr_body"] == "French body, line 1: 'nope' is undefined"


# --- Before scheduling ----------------------------------------------------------------------------


@pytest.fixture
def campaign(db_session):
    campaign = create_campaign(db_session, data())
    db_session.commit()
    return campaign


def test_validate_campaign_needs_a_segment(db_session, campaign):
    with pytest.raises(CampaignInvalid) as caught:
        validate_campaign(db_session, campaign)
    assert "Choose at least one segment to send to." in caught.value.message
    assert caught.value.message.startswith("This campaign cannot be sent yet:")


def test_validate_campaign_refuses_an_empty_audience(db_session, campaign):
    contact = make_contact(db_session, "gone@example.org", type="ngo")
    db_session.add(Suppression(email_hash=contact.email_hash, reason="unsubscribed"))
    campaign.segments = [create_segment(db_session, "NGOs", {"types": ["ngo"]})]
    db_session.flush()
    with pytest.raises(CampaignInvalid) as caught:
        validate_campaign(db_session, campaign)
    assert "The audience is empty" in caught.value.message


def test_validate_campaign_passes_a_sendable_campaign(db_session, campaign):
    make_contact(db_session, "ana@example.org", type="ngo", first_name="Ana")
    campaign.segments = [create_segment(db_session, "NGOs", {"types": ["ngo"]})]
    db_session.flush()
    validate_campaign(db_session, campaign)  # no exception


def test_scheduling_refuses_a_campaign_broken_after_it_was_saved(db_session, campaign):
    make_contact(db_session, "ana@example.org", type="ngo")
    campaign.segments = [create_segment(db_session, "NGOs", {"types": ["ngo"]})]
    campaign.variants[0].body_markdown = "line\n{{ contact.nickname }}"
    db_session.flush()
    with pytest.raises(CampaignInvalid) as caught:
        lifecycle.schedule(db_session, campaign, utcnow() + timedelta(days=1))
    assert "English body, line 2: 'contact' has no attribute 'nickname'" in caught.value.message
    assert campaign.status == "draft"
    assert data_from_campaign(campaign).name == "Autumn newsletter"
