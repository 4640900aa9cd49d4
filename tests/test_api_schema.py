"""Schemathesis against /api/v1/openapi.json, in-process: no 5xx, every response matches the
document. Bounded examples per operation; runs on SQLite only (it is about the API, not the DB)."""

from __future__ import annotations

from datetime import date

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from outreach.api.openapi import document
from outreach.calendar.services import SessionData, add_review, create_session
from outreach.campaigns.services import CampaignData, VariantData, create_campaign
from outreach.segments.services import create_segment
from tests.api_support import token_for
from tests.factories import make_contact, make_organisation

pytestmark = pytest.mark.slow


def token_accepted(ctx, response, case):
    """Every request carries a valid editor token: a 401 or 403 would mean nothing was tested."""
    assert response.status_code not in (401, 403), response.text


CHECKS = [
    token_accepted,
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def editor_token(app, db_session, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("the schemathesis run uses SQLite only")
    org = make_organisation(db_session, "Rights Watch", country="FR")
    make_contact(
        db_session,
        "ana@example.org",
        country="FR",
        topics=("children",),
        organisation=org,
        first_name="Ana",
    )
    upr_session = create_session(
        db_session, SessionData(number=1, wg_start=date(2030, 1, 7), wg_end=date(2030, 1, 18))
    )
    add_review(db_session, upr_session, "FR")
    segment = create_segment(db_session, "France", {"countries": ["FR"]})
    create_campaign(
        db_session,
        CampaignData(
            name="Newsletter",
            sender_email="news@example.org",
            segment_ids=[segment.id],
            variants=[VariantData("en", "Hello", "Hello from Geneva.")],
        ),
    )
    db_session.commit()
    return token_for(db_session, "editor")


# Loaded from the module that serves /api/v1/openapi.json; requests go to the app in-process.
schema = schemathesis.openapi.from_dict(document())


@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_api_conforms_to_its_openapi_document(case, app, editor_token):
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {editor_token}"}
    case.call_and_validate(checks=CHECKS, app=app)
