"""Staff pages of the suppression list: list, search, filters, add, bulk add, removal, export."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from outreach.auth.permissions import PermissionDenied
from outreach.contacts.models import Contact
from outreach.subscriptions.audience import mailable_conditions
from outreach.subscriptions.models import ConsentRecord, Suppression
from outreach.subscriptions.services import unsuppress
from tests.conftest import login
from tests.factories import make_contact, make_suppression, make_user

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def text(response) -> str:
    return response.get_data(as_text=True)


def listed(response) -> list[str]:
    """The address cells of the list table, in display order."""
    return re.findall(
        r'<td><a href="/suppressions/\d+">(?:<span class="fst-italic">)?([^<]+)', text(response)
    )


@pytest.fixture
def editor(db_session):
    user = make_user(db_session, "editor@example.org", role="editor")
    db_session.commit()
    return user


@pytest.fixture
def editor_client(app, editor):
    return login(app.test_client(), editor)


@pytest.fixture
def entries(db_session):
    """Five entries, one per reason, the newest last."""
    specs = [
        ("gone@example.org", "unsubscribed"),
        ("bounce@example.net", "hard_bounce"),
        ("spam.report@example.org", "complaint"),
        ("blocked@example.org", "staff"),
        ("erased.person@example.org", "erased"),
    ]
    made = [
        make_suppression(db_session, email, reason, erased=reason == "erased",
                         created_at=T0 + timedelta(days=index))
        for index, (email, reason) in enumerate(specs)
    ]
    db_session.commit()
    return made


def consent_rows(session, action: str) -> list[ConsentRecord]:
    return list(session.scalars(select(ConsentRecord).where(ConsentRecord.action == action)))


# ---- list, search, filters, pagination ------------------------------------------------------

def test_list_needs_a_signed_in_user(client):
    response = client.get("/suppressions")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_empty_list_says_how_addresses_get_there(staff_client):
    page = text(staff_client.get("/suppressions"))
    assert "The suppression list is empty" in page
    assert 'href="/suppressions/new"' in page


def test_list_newest_first_with_counts_and_erased_entries(staff_client, entries):
    response = staff_client.get("/suppressions")
    assert response.status_code == 200
    assert listed(response) == [
        "(erased contact)",
        "blocked@example.org",
        "spam.report@example.org",
        "bounce@example.net",
        "gone@example.org",
    ]
    page = text(response)
    assert "erased.person@example.org" not in page
    assert 'data-count="all">5<' in page
    for reason in ("unsubscribed", "hard_bounce", "complaint", "staff", "erased"):
        assert f'data-count="{reason}">1<' in page
    # Geneva time: 09:00 UTC in March is 10:00 in Geneva.
    assert "02 Mar 2026 10:00" in page


def test_search_by_part_of_an_address(staff_client, entries):
    assert listed(staff_client.get("/suppressions?q=EXAMPLE.NET")) == ["bounce@example.net"]
    assert listed(staff_client.get("/suppressions?q=NE@")) == ["gone@example.org"]
    # LIKE wildcards typed by the user are literal characters.
    assert listed(staff_client.get("/suppressions?q=%25")) == []
    assert "No entries match" in text(staff_client.get("/suppressions?q=nobody"))


def test_a_whole_address_finds_an_erased_entry_by_its_hash(staff_client, entries):
    response = staff_client.get("/suppressions?q=Erased.Person@example.org")
    assert listed(response) == ["(erased contact)"]


def test_reason_filter(staff_client, entries):
    assert listed(staff_client.get("/suppressions?reason=hard_bounce")) == ["bounce@example.net"]
    assert listed(staff_client.get("/suppressions?reason=staff&q=spam")) == []
    response = staff_client.get("/suppressions?reason=bogus")
    assert response.status_code == 400
    assert "Unknown reason &#39;bogus&#39;" in text(response)


def test_pagination(staff_client, db_session):
    for n in range(5):
        make_suppression(db_session, f"p{n}@example.org", created_at=T0 + timedelta(hours=n))
    db_session.commit()
    first = staff_client.get("/suppressions?per_page=2")
    assert listed(first) == ["p4@example.org", "p3@example.org"]
    assert "Showing 1&ndash;2 of 5" in text(first)
    third = staff_client.get("/suppressions?per_page=2&page=3")
    assert listed(third) == ["p0@example.org"]


def test_list_links_to_the_contact_with_that_address(staff_client, db_session):
    contact = make_contact(db_session, "known@example.org")
    make_suppression(db_session, "Known@Example.org")
    db_session.commit()
    assert f'href="/contacts/{contact.id}">View contact' in text(staff_client.get("/suppressions"))


def test_viewer_reads_but_cannot_add_or_remove(viewer_client, entries, db_session):
    page = text(viewer_client.get("/suppressions"))
    assert 'href="/suppressions"' in page and ">Suppression</a>" in page  # nav link
    assert "Add addresses" not in page and "Remove" not in page
    assert viewer_client.get("/suppressions/new").status_code == 403
    response = viewer_client.post("/suppressions/new", data={"one-email": "x@example.org"})
    assert response.status_code == 403
    response = viewer_client.post("/suppressions/bulk", data={"bulk-addresses": "x@example.org"})
    assert response.status_code == 403
    assert db_session.scalar(select(func.count(Suppression.id))) == 5


# ---- adding ----------------------------------------------------------------------------------

def test_add_one_address_logs_a_consent_event_for_its_contact(
    editor_client, editor, db_session
):
    contact = make_contact(db_session, "someone@example.org")
    db_session.commit()
    response = editor_client.post(
        "/suppressions/new",
        data={"one-email": "  SomeOne@EXAMPLE.org ", "one-note": "Asked by phone"},
    )
    assert response.status_code == 302
    entry = db_session.scalar(select(Suppression))
    assert response.headers["Location"] == f"/suppressions/{entry.id}"
    assert (entry.email, entry.reason, entry.note) == ("SomeOne@example.org", "staff",
                                                       "Asked by phone")
    assert entry.created_by_id == editor.id
    [event] = consent_rows(db_session, "suppress")
    assert (event.contact_id, event.source, event.staff_user_id) == (contact.id, "staff", editor.id)
    assert event.email_hash == contact.email_hash
    page = text(editor_client.get(response.headers["Location"]))
    assert "is now on the suppression list" in page and "Asked by phone" in page
    assert "editor@example.org" in page  # added by, and the consent event's staff member
    mailable = select(Contact.id).where(*mailable_conditions("newsletter"))
    assert db_session.scalars(mailable).all() == []


def test_add_an_address_without_a_contact(editor_client, db_session):
    response = editor_client.post("/suppressions/new", data={"one-email": "stranger@example.org"})
    assert response.status_code == 302
    [event] = consent_rows(db_session, "suppress")
    assert event.contact_id is None
    assert event.email_hash == db_session.scalar(select(Suppression.email_hash))


def test_add_an_invalid_address_keeps_what_was_typed(editor_client, db_session):
    response = editor_client.post(
        "/suppressions/new", data={"one-email": "not an address", "one-note": "typo"}
    )
    assert response.status_code == 400
    page = text(response)
    assert "Enter a valid email address" in page
    assert 'value="not an address"' in page and 'value="typo"' in page
    assert db_session.scalar(select(func.count(Suppression.id))) == 0


def test_add_an_address_already_listed_changes_nothing(editor_client, db_session):
    make_suppression(db_session, "gone@example.org", "unsubscribed")
    db_session.commit()
    response = editor_client.post(
        "/suppressions/new", data={"one-email": "GONE@example.org"}, follow_redirects=True
    )
    assert "was already on the suppression list (unsubscribed)" in text(response)
    assert db_session.scalar(select(Suppression.reason)) == "unsubscribed"
    assert consent_rows(db_session, "suppress") == []


def test_add_from_a_contact_page_prefills_and_returns_there(editor_client, db_session):
    contact = make_contact(db_session, "from.page@example.org")
    db_session.commit()
    form = text(editor_client.get(f"/suppressions/new?contact_id={contact.id}"))
    assert 'value="from.page@example.org"' in form
    response = editor_client.post(
        f"/suppressions/new?contact_id={contact.id}", data={"one-email": "from.page@example.org"}
    )
    assert response.headers["Location"] == f"/contacts/{contact.id}"
    page = text(editor_client.get(f"/contacts/{contact.id}"))
    assert "Suppressed since" in page and "(added by staff)" in page


def test_bulk_add_reports_bad_lines_and_adds_the_good_ones(editor_client, editor, db_session):
    make_suppression(db_session, "already@example.org", "complaint")
    db_session.commit()
    pasted = "\n".join([
        "one@example.org",
        "",
        "two@example.org,",
        "not-an-address",
        "already@example.org",
        "ONE@example.org",
        "three@@example.org",
    ])
    response = editor_client.post(
        "/suppressions/bulk", data={"bulk-addresses": pasted, "bulk-note": "Old list"}
    )
    assert response.status_code == 400
    page = text(response)
    assert "2 address(es) added, 2 already on the list." in page
    assert "2 line(s) are not valid addresses" in page
    assert "<td>4</td><td>not-an-address</td>" in page
    assert "<td>7</td><td>three@@example.org</td>" in page
    assert re.search(r"<textarea[^>]*>\s*not-an-address\nthree@@example.org</textarea>", page)
    emails = set(db_session.scalars(select(Suppression.email).where(Suppression.reason == "staff")))
    assert emails == {"one@example.org", "two@example.org"}
    assert set(db_session.scalars(select(Suppression.note).where(Suppression.reason == "staff"))) \
        == {"Old list"}
    assert len(consent_rows(db_session, "suppress")) == 2


def test_bulk_add_of_good_lines_only_goes_back_to_the_list(editor_client, db_session):
    response = editor_client.post(
        "/suppressions/bulk", data={"bulk-addresses": "a@example.org\r\nb@example.org\r\n"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/suppressions"
    page = text(editor_client.get("/suppressions"))
    assert "2 address(es) added to the suppression list." in page


def test_bulk_add_of_nothing_is_a_form_error(editor_client):
    response = editor_client.post("/suppressions/bulk", data={"bulk-addresses": "  "})
    assert response.status_code == 400
    assert "Paste at least one address." in text(response)


# ---- removal (admins only) --------------------------------------------------------------------

def test_editor_and_viewer_cannot_remove(editor_client, viewer_client, db_session):
    entry = make_suppression(db_session, "gone@example.org", "unsubscribed")
    db_session.commit()
    for client in (editor_client, viewer_client):
        assert client.get(f"/suppressions/{entry.id}/remove").status_code == 403
        response = client.post(f"/suppressions/{entry.id}/remove", data={"confirmed": "1"})
        assert response.status_code == 403
    assert "Remove" not in text(editor_client.get("/suppressions"))
    assert db_session.scalar(select(func.count(Suppression.id))) == 1
    assert consent_rows(db_session, "unsuppress") == []


def test_admin_removes_after_a_warning_and_the_event_is_logged(
    staff_client, admin_user, db_session
):
    contact = make_contact(db_session, "gone@example.org")
    entry = make_suppression(db_session, "gone@example.org", "unsubscribed", note="form")
    db_session.commit()
    for response in (
        staff_client.get(f"/suppressions/{entry.id}/remove"),
        staff_client.post(f"/suppressions/{entry.id}/remove"),  # no-JS: not yet confirmed
    ):
        assert response.status_code == 200
        assert "This address will receive mail again" in text(response)
    assert db_session.scalar(select(func.count(Suppression.id))) == 1

    response = staff_client.post(f"/suppressions/{entry.id}/remove", data={"confirmed": "1"})
    assert response.status_code == 302
    assert db_session.scalar(select(func.count(Suppression.id))) == 0
    [event] = consent_rows(db_session, "unsuppress")
    assert (event.contact_id, event.source, event.staff_user_id) == (
        contact.id, "staff", admin_user.id
    )
    assert event.details == {"reason": "unsubscribed", "note": "form"}
    page = text(staff_client.get("/suppressions"))
    assert "gone@example.org was removed from the suppression list" in page
    assert staff_client.post(f"/suppressions/{entry.id}/remove").status_code == 404


def test_unsuppress_refuses_a_non_admin(app, db_session, editor):
    entry = make_suppression(db_session, "gone@example.org")
    with pytest.raises(PermissionDenied):
        unsuppress(db_session, entry, editor)
    with pytest.raises(PermissionDenied):
        unsuppress(db_session, entry, None)
    assert db_session.scalar(select(func.count(Suppression.id))) == 1


def test_unknown_entry_is_404(staff_client):
    assert staff_client.get("/suppressions/999").status_code == 404
    assert staff_client.get("/suppressions/999/remove").status_code == 404


# ---- export ------------------------------------------------------------------------------------

def test_csv_export_of_the_filtered_list(viewer_client, entries):
    response = viewer_client.get("/suppressions/export.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(text(response))))
    assert rows[0] == ["email", "reason", "date"]
    assert rows[1] == ["", "erased", "2026-03-06T10:00:00+01:00"]
    assert rows[-1] == ["gone@example.org", "unsubscribed", "2026-03-02T10:00:00+01:00"]
    assert len(rows) == 6
    only = list(csv.reader(io.StringIO(text(viewer_client.get(
        "/suppressions/export.csv?reason=complaint"
    )))))
    assert only[1:] == [["spam.report@example.org", "complaint", "2026-03-04T10:00:00+01:00"]]
    assert viewer_client.get("/suppressions/export.csv?reason=bogus").status_code == 400
