"""Rendering: Markdown with merge fields becomes a safe HTML email and a readable text part."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from outreach.calendar.models import KeyDate, Review, UPRSession
from outreach.campaigns.models import Campaign, CampaignVariant
from outreach.campaigns.rendering import PreparedCampaign, Recipient, recipient_for
from outreach.core.database import utcnow
from tests.factories import make_contact, make_organisation

LINKS = {
    "unsubscribe_url": "https://outreach.example.org/u/TOKEN?x=1&y=2",
    "preferences_url": "https://outreach.example.org/en/preferences/PTOKEN",
}


def make_campaign(db_session, *variants, default="en", upr_session=None) -> Campaign:
    campaign = Campaign(
        name="Test",
        sender_name="UPR Team",
        sender_email="news@example.org",
        default_language=default,
        session_id=upr_session.id if upr_session else None,
        variants=[
            CampaignVariant(language=language, subject=subject, body_markdown=body)
            for language, subject, body in variants
        ],
    )
    db_session.add(campaign)
    db_session.flush()
    return campaign


def render(db_session, body, recipient=None, subject="Hello", **kwargs):
    campaign = make_campaign(db_session, ("en", subject, body), **kwargs)
    prepared = PreparedCampaign.prepare(db_session, campaign)
    return prepared.render(recipient or Recipient(email="ana@example.org"), **LINKS)


def content(html: str) -> str:
    """The campaign body inside the layout."""
    return re.search(r'<div class="campaign".*?>(.*)</div>\s*</div>\s*<div class="footer"',
                     html, re.S).group(1)


def test_merge_fields_are_filled_per_recipient(db_session):
    body = "Dear {{ contact.first_name }} of {{ contact.organisation }} ({{ contact.country }})"
    campaign = make_campaign(db_session, ("en", "For {{ contact.full_name }}", body))
    prepared = PreparedCampaign.prepare(db_session, campaign)
    ana = prepared.render(
        Recipient(email="ana@example.org", first_name="Ana", last_name="Abad",
                  organisation="Rights Watch", country_code="AD"), **LINKS)
    bo = prepared.render(Recipient(email="bo@example.org", first_name="Bo", country_code="FR"),
                         **LINKS)
    assert ana.subject == "For Ana Abad"
    assert "<title>For Ana Abad</title>" in ana.html
    assert "Dear Ana of Rights Watch (Andorra)" in ana.html
    assert "Dear Ana of Rights Watch (Andorra)" in ana.text
    assert "Dear Bo of  (France)" in bo.text
    assert bo.subject == "For Bo"


def test_contact_names_are_escaped_in_html_but_not_in_text(db_session):
    evil = Recipient(email="x@example.org", first_name="<script>alert(1)</script>",
                     organisation="Smith & Sons")
    rendered = render(db_session, "Hi {{ contact.first_name }}, {{ contact.organisation }}",
                      evil, subject="For {{ contact.first_name }}")
    assert "<script>alert(1)</script>" not in rendered.html
    assert "Hi &lt;script&gt;alert(1)&lt;/script&gt;, Smith &amp; Sons" in rendered.html
    assert "Hi <script>alert(1)</script>, Smith & Sons" in rendered.text
    assert rendered.subject == "For <script>alert(1)</script>"


def test_a_merge_value_never_breaks_the_subject_line(db_session):
    rendered = render(db_session, "x", Recipient(email="x@example.org", first_name="A\r\nBcc: b"),
                      subject="Hi {{ contact.first_name }}")
    assert rendered.subject == "Hi A Bcc: b"


def test_scripts_event_handlers_and_javascript_links_are_removed(db_session):
    body = (
        "Hello <script>alert('x')</script>\n\n"
        '<img src="https://example.org/a.png" onerror="alert(1)" alt="logo">\n\n'
        "[bad](javascript:alert(1)) <a href=\"javascript:alert(2)\" onclick=\"x()\">worse</a>\n\n"
        '<iframe src="https://evil.example"></iframe><style>p{color:red}</style>'
        '<form action="https://evil.example"><input name="q"></form>'
    )
    html = content(render(db_session, body).html)
    lowered = html.lower()
    for bad in ("<script", "alert('x')", "onerror", "onclick", "javascript:", "<iframe",
                "<form", "<input", "color:red"):
        assert bad not in lowered, bad
    assert '<img src="https://example.org/a.png" alt="logo"' in html
    assert ">bad</a>" in html and ">worse</a>" in html


def test_a_merge_value_cannot_make_a_javascript_link(db_session):
    body = "[site]({{ contact.organisation }}) [mail](mailto:{{ contact.email }})"
    rendered = render(db_session, body,
                      Recipient(email="a@example.org", organisation="javascript:alert(1)"))
    html = content(rendered.html)
    assert "javascript:" not in html
    assert 'href="#"' in html
    assert 'href="mailto:a@example.org"' in html


def test_markdown_tables_lists_and_links(db_session):
    body = (
        "# Title\n\n"
        "Some **bold** and *emphasis* with a [link](https://example.org/page).\n\n"
        "| State | Date |\n|---|---|\n| Andorra | 12 May |\n| Panama | 13 May |\n\n"
        "1. first\n2. second\n"
    )
    rendered = render(db_session, body)
    html = content(rendered.html)
    assert "<table" in html and "<th" in html and ">Andorra</td>" in html
    assert "<ol" in html and ">second</li>" in html
    assert "<strong>bold</strong>" in html
    assert 'href="https://example.org/page"' in html
    text = rendered.text
    assert "Title\n=====" in text
    assert "State | Date\nAndorra | 12 May\nPanama | 13 May" in text
    assert "1. first\n2. second" in text
    assert "Some bold and emphasis with a link (https://example.org/page)." in text


def test_css_is_inlined_and_the_layout_has_the_footer(app, db_session):
    rendered = render(db_session, "Hello")
    assert "<style" not in rendered.html
    assert 'style="' in content(rendered.html) or "style=" in rendered.html
    assert app.config["ORGANISATION_NAME"] in rendered.html
    assert 'href="https://outreach.example.org/u/TOKEN?x=1&amp;y=2"' in rendered.html
    assert 'href="https://outreach.example.org/en/preferences/PTOKEN"' in rendered.html
    assert "Manage your preferences" in rendered.html
    assert "You receive this message because" in rendered.html
    assert "Unsubscribe: https://outreach.example.org/u/TOKEN?x=1&y=2" in rendered.text
    assert "Manage your preferences: https://outreach.example.org/en/preferences/PTOKEN" in (
        rendered.text
    )


def test_links_to_the_unsubscribe_url_in_the_body(db_session):
    rendered = render(db_session, "Enough? [Unsubscribe here]({{ unsubscribe_url }}).")
    assert 'href="https://outreach.example.org/u/TOKEN?x=1&amp;y=2"' in content(rendered.html)
    assert "Unsubscribe here (https://outreach.example.org/u/TOKEN?x=1&y=2)." in rendered.text


def test_the_footer_speaks_the_variant_language(db_session):
    campaign = make_campaign(db_session, ("en", "Hi", "Hello"), ("fr", "Salut", "Bonjour"),
                             ("es", "Hola", "Buenos días"))
    prepared = PreparedCampaign.prepare(db_session, campaign)
    french = prepared.render(Recipient(email="a@example.org", language="fr"), **LINKS)
    spanish = prepared.render(Recipient(email="a@example.org", language="es"), **LINKS)
    assert french.language == "fr" and "Bonjour" in french.html
    assert "Gérer vos préférences" in french.html and "Se désabonner" in french.text
    assert "Vous recevez ce message" in french.text
    assert "Recibe este mensaje" in spanish.text
    assert '<html lang="fr"' in french.html


def test_variant_falls_back_to_the_default_language(db_session):
    campaign = make_campaign(db_session, ("en", "Hi", "Hello"), ("fr", "Salut", "Bonjour"),
                             default="fr")
    prepared = PreparedCampaign.prepare(db_session, campaign)
    spanish_reader = prepared.render(Recipient(email="a@example.org", language="es"), **LINKS)
    english_reader = prepared.render(Recipient(email="b@example.org", language="en"), **LINKS)
    assert spanish_reader.language == "fr" and spanish_reader.subject == "Salut"
    assert english_reader.language == "en" and english_reader.subject == "Hi"


@pytest.fixture
def calendar(db_session):
    """Session 60 reviews Andorra and Panama; one deadline for both, one for Panama only, one far
    away, and one of session 61 for Chile."""
    now = utcnow()
    s60 = UPRSession(number=60, wg_start=(now + timedelta(days=120)).date(),
                     wg_end=(now + timedelta(days=131)).date())
    andorra, panama = Review(country_code="AD"), Review(country_code="PA")
    s60.reviews = [andorra, panama]
    s61 = UPRSession(number=61, reviews=[Review(country_code="CL")])
    db_session.add_all([s60, s61])
    db_session.flush()
    start = datetime(now.year, now.month, now.day, 11, 0, tzinfo=UTC)
    db_session.add_all([
        KeyDate(session=s60, kind="stakeholder_submission", starts_at=start + timedelta(days=10)),
        KeyDate(session=s60, review=panama, kind="pre_session_application",
                starts_at=start + timedelta(days=20), estimated=True,
                url="https://example.org/apply"),
        KeyDate(session=s60, kind="pre_session_statement", starts_at=start + timedelta(days=200)),
        KeyDate(session=s61, kind="stakeholder_submission", starts_at=start + timedelta(days=5)),
    ])
    db_session.flush()
    return s60


DEADLINES = """Your deadlines:

{% for d in upcoming_deadlines %}
- **{{ d.label }}** ({{ d.states|join(', ') }}): {{ d.date }}\
{% if d.estimated %} (estimated){% endif %}
{% endfor %}

| Deadline | Date |
|---|---|
{% for d in upcoming_deadlines %}
| {{ d.label }} | {{ d.date }} |
{% endfor %}

The end.
"""


def test_upcoming_deadlines_loop_in_a_list_and_a_table(db_session, calendar):
    panama = Recipient(email="p@example.org", country_code="FR", countries=("PA",))
    rendered = render(db_session, DEADLINES, panama)
    html = content(rendered.html)
    assert html.count("<ul") == 1 and html.count("<li") == 2
    assert html.count("<table") == 1 and html.count("<tr") == 3
    assert "<strong>Stakeholder submissions deadline</strong> (Panama)" in html
    assert "Pre-session applications deadline</strong> (Panama)" in html
    assert "(estimated)" in html
    text = rendered.text
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert len(lines) == 2, text
    assert lines[0].startswith("- Stakeholder submissions deadline (Panama): ")
    assert "12:00 (Geneva time)" in lines[0]
    assert lines[1].endswith("(estimated)")
    assert "Deadline | Date\nStakeholder submissions deadline | " in text
    assert "\n\n\n" not in text
    assert "{%" not in rendered.html and "{{" not in rendered.html


def test_deadlines_concern_only_the_recipient_countries(db_session, calendar):
    andorra = Recipient(email="a@example.org", country_code="AD")
    chile = Recipient(email="c@example.org", country_code="CL")
    nobody = Recipient(email="n@example.org")
    campaign = make_campaign(db_session, ("en", "Hi", DEADLINES), ("fr", "Salut", DEADLINES))
    prepared = PreparedCampaign.prepare(db_session, campaign)
    text = prepared.render(andorra, **LINKS).text
    assert "Stakeholder submissions deadline (Andorra)" in text
    assert "Pre-session applications" not in text  # Panama's own date
    assert "Stakeholder submissions deadline (Chile)" in prepared.render(chile, **LINKS).text
    empty = prepared.render(nobody, **LINKS)
    assert "- " not in empty.text.split("Your deadlines:")[1].split("The end.")[0]
    assert "<li" not in content(empty.html)
    french = prepared.render(replace_language(andorra, "fr"), **LINKS).text
    assert "Date limite des contributions des parties prenantes (Andorre)" in french
    assert "(heure de Genève)" in french


def replace_language(recipient: Recipient, language: str) -> Recipient:
    from dataclasses import replace

    return replace(recipient, language=language)


def test_session_merge_fields(db_session, calendar):
    body = "Session {{ session.number }}: {{ session.states|join(', ') }} ({{ session.dates }})"
    campaign = make_campaign(db_session, ("en", "S{{ session.number }}", body),
                             ("fr", "S", body), upr_session=calendar)
    prepared = PreparedCampaign.prepare(db_session, campaign)
    english = prepared.render(Recipient(email="a@example.org"), **LINKS)
    french = prepared.render(Recipient(email="a@example.org", language="fr"), **LINKS)
    assert english.subject == "S60"
    assert "Session 60: Andorra, Panama (" in english.text
    assert "Session 60: Andorre, Panama (" in french.text


def test_block_tags_in_paragraphs(db_session):
    body = "Intro\n\n{% if contact.type == 'ngo' %}\nFor NGOs only.\n{% endif %}\n\nOutro"
    campaign = make_campaign(db_session, ("en", "Hi", body))
    prepared = PreparedCampaign.prepare(db_session, campaign)
    ngo = prepared.render(Recipient(email="a@example.org", contact_type="ngo"), **LINKS)
    other = prepared.render(Recipient(email="b@example.org", contact_type="media"), **LINKS)
    assert "<p>For NGOs only.</p>" in re.sub(r' style="[^"]*"', "", ngo.html)
    assert "For NGOs only." not in other.html
    assert ngo.text.startswith("Intro\n\nFor NGOs only.\n\nOutro")
    assert other.text.startswith("Intro\n\nOutro")


def test_recipient_for_a_contact(db_session):
    org = make_organisation(db_session, "Rights Watch")
    contact = make_contact(db_session, "ana@example.org", country="AD", countries=("PA",),
                           language="es", organisation=org, first_name="Ana", last_name="Abad")
    recipient = recipient_for(contact)
    assert recipient == Recipient(
        email="ana@example.org", language="es", contact_id=contact.id, first_name="Ana",
        last_name="Abad", organisation="Rights Watch", contact_type="ngo", country_code="AD",
        countries=("AD", "PA"),
    )
