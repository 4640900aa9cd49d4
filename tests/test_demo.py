"""`flask demo load`: fictional stakeholders, idempotent, with a demo admin; UN member States."""

from __future__ import annotations

import re
import stat

import pycountry
import pytest
from sqlalchemy import func, select

from outreach.auth.models import User
from outreach.calendar.models import UPRSession
from outreach.contacts.models import CONTACT_TYPES, Contact, ContactTopic
from outreach.core.countries import is_country_code
from outreach.core.un_members import UN_MEMBER_STATES
from outreach.demo.services import build_demo, state_name
from outreach.segments import services as segments
from outreach.segments.models import Segment
from tests.factories import make_user

ADMIN_LINE = re.compile(r"^Demo admin: admin@example\.org / (\S+)$", re.MULTILINE)


def test_un_member_states_are_193_valid_codes():
    assert len(UN_MEMBER_STATES) == 193
    assert len(set(UN_MEMBER_STATES)) == 193
    for code in UN_MEMBER_STATES:
        assert is_country_code(code), code
        assert pycountry.countries.get(alpha_2=code) is not None
    assert {"CH", "US", "SS", "TL", "KP", "PS"} & set(UN_MEMBER_STATES) == {
        "CH", "US", "SS", "TL", "KP"
    }  # Palestine is an observer State, not a member


def test_demo_generation_is_deterministic_and_fictional():
    states = ["AD", "BY", "HN", "PA", "US"]
    first, second = build_demo(states), build_demo(list(reversed(states)))
    assert first == second
    organisations, contacts = first
    assert len(contacts) == len({c.email for c in contacts}) == 300 + 193
    assert all(c.email.endswith("@example.org") for c in contacts)
    assert {c.type for c in contacts} == set(CONTACT_TYPES)
    assert {c.language for c in contacts} == {"en", "fr", "es"}
    assert state_name("KR") == "the Republic of Korea"
    assert "Permanent Mission of the Netherlands (fictional demo)" in organisations
    assert "Permanent Mission of Nigeria (fictional demo)" in organisations


@pytest.fixture
def demo_env(app, monkeypatch, tmp_path):
    """Keep the password file out of the real instance folder and the environment neutral."""
    monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    return tmp_path


def run_demo(app, *args):
    result = app.test_cli_runner().invoke(args=["demo", "load", *args])
    return result


def test_demo_load_is_idempotent_and_prints_the_admin_login(app, db_session, demo_env):
    result = run_demo(app)
    assert result.exit_code == 0, result.output
    assert re.search(r"contacts created=493 updated=0 unchanged=0", result.output)
    password = ADMIN_LINE.search(result.output).group(1)

    saved = demo_env / "demo-admin-password.txt"
    assert saved.read_text().strip() == password
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    admin = db_session.scalar(select(User).where(User.email == "admin@example.org"))
    assert admin.role == "admin" and admin.check_password(password)

    # The calendar was loaded for sessions 36 and 50; contacts cover their States.
    numbers = set(db_session.scalars(select(UPRSession.number)))
    assert {36, 50} <= numbers
    contacts = db_session.scalar(select(func.count(Contact.id)))
    assert contacts == 493
    emails = list(db_session.scalars(select(Contact.email)))
    assert all(email.endswith("@example.org") for email in emails)
    missions = db_session.scalars(
        select(Contact.country_code).where(Contact.email.like("mission.%"))
    ).all()
    assert sorted(missions) == sorted(UN_MEMBER_STATES)
    types = set(db_session.scalars(select(Contact.type).distinct()))
    assert types == set(CONTACT_TYPES)
    assert db_session.scalar(select(func.count(ContactTopic.topic))) > 300

    # The demo segments have members.
    names = {s.name: s for s in db_session.scalars(select(Segment))}
    assert set(names) == {"Session 50 States - NGOs and NHRIs", "Permanent missions",
                          "French speakers"}
    assert segments.count_members(db_session, names["Permanent missions"]) >= 193
    assert segments.count_members(db_session, names["Session 50 States - NGOs and NHRIs"]) > 20
    assert segments.count_members(db_session, names["French speakers"]) > 30

    # A second run changes nothing and prints the same login.
    db_session.rollback()
    again = run_demo(app)
    assert again.exit_code == 0, again.output
    assert "contacts created=0 updated=0 unchanged=493" in again.output
    assert "organisations created=0" in again.output
    assert "segments created=0" in again.output
    assert ADMIN_LINE.search(again.output).group(1) == password
    assert db_session.scalar(select(func.count(Contact.id))) == contacts
    assert db_session.scalar(select(func.count(User.id))) == 1


def test_demo_load_restores_a_changed_demo_contact(app, db_session, demo_env):
    assert run_demo(app).exit_code == 0
    contact = db_session.scalar(select(Contact).where(Contact.email == "mission.fr@example.org"))
    assert contact.language == "fr"
    contact.language = "en"
    contact.status = "inactive"
    db_session.commit()
    result = run_demo(app)
    assert "created=0 updated=1 unchanged=492" in result.output
    db_session.expire_all()
    contact = db_session.scalar(select(Contact).where(Contact.email == "mission.fr@example.org"))
    assert (contact.language, contact.status) == ("fr", "active")


def test_demo_admin_password_from_the_environment(app, db_session, demo_env, monkeypatch):
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "a-demo-password-from-env")
    result = run_demo(app)
    assert result.exit_code == 0, result.output
    assert "Demo admin: admin@example.org / a-demo-password-from-env" in result.output
    assert not (demo_env / "demo-admin-password.txt").exists()


def test_existing_admin_with_an_unknown_password_is_not_shown(app, db_session, demo_env):
    make_user(db_session, "admin@example.org", role="admin", password="someone-elses-secret")
    db_session.commit()
    result = run_demo(app)
    assert result.exit_code == 0, result.output
    assert "Demo admin: admin@example.org (password set elsewhere; not shown)" in result.output
    assert "someone-elses-secret" not in result.output
    assert not ADMIN_LINE.search(result.output)


def test_demo_load_refuses_a_production_config(app, db_session, demo_env, monkeypatch):
    monkeypatch.setitem(app.config, "CONFIG_NAME", "production")
    result = run_demo(app)
    assert result.exit_code == 1
    assert "Refusing to load demo data" in result.output
    assert db_session.scalar(select(func.count(Contact.id))) == 0
    assert db_session.scalar(select(func.count(User.id))) == 0
