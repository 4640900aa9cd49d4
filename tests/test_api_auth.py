"""API authentication, roles, JSON errors, pagination, the OpenAPI document and API tokens."""
# ruff: noqa: F811  (the API fixtures are imported from tests.api_support)

from __future__ import annotations

from outreach.api.models import ApiToken
from outreach.api.openapi import document
from outreach.api.tokens import create_token, hash_token
from tests.api_support import (  # noqa: F401  (fixtures)
    ApiClient,
    anonymous_api,
    api,
    assert_error,
    token_for,
    viewer_api,
)
from tests.factories import make_contact, make_user


def test_no_token_is_a_401_json_error_with_a_bearer_challenge(anonymous_api):
    response = anonymous_api.get("/contacts")
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_wrong_scheme_and_unknown_token_are_refused(app, anonymous_api, api):
    assert_error(anonymous_api.get("/contacts", headers={"Authorization": "Basic abc"}), 401)
    assert_error(ApiClient(app.test_client(), "otk_not-a-token").get("/contacts"), 401)
    assert api.get("/contacts").status_code == 200


def test_revoked_token_and_disabled_user_are_refused(app, db_session):
    user = make_user(db_session, "ed@example.org", role="editor")
    token, secret = create_token(db_session, user, "script")
    db_session.commit()
    client = ApiClient(app.test_client(), secret)
    assert client.get("/contacts").status_code == 200
    user.active = False
    db_session.commit()
    assert_error(client.get("/contacts"), 401)
    user.active = True
    token.revoked_at = token.created_at
    db_session.commit()
    assert_error(client.get("/contacts"), 401)


def test_tokens_are_stored_hashed_and_note_their_last_use(app, db_session):
    secret = token_for(db_session, "editor")
    token = db_session.query(ApiToken).one()
    assert token.token_hash == hash_token(secret) and secret not in (token.token_hash, token.prefix)
    assert secret.startswith(token.prefix) and token.last_used_at is None
    ApiClient(app.test_client(), secret).get("/contacts")
    db_session.expire_all()
    assert db_session.get(ApiToken, token.id).last_used_at is not None


def test_viewer_reads_but_cannot_write(viewer_api, db_session):
    contact = make_contact(db_session, "ana@example.org")
    db_session.commit()
    assert viewer_api.get(f"/contacts/{contact.id}").status_code == 200
    assert_error(viewer_api.post("/contacts", json={"email": "x@example.org"}), 403, "forbidden")
    assert_error(viewer_api.patch(f"/contacts/{contact.id}", json={"first_name": "X"}), 403)
    assert_error(viewer_api.delete(f"/contacts/{contact.id}"), 403)
    assert_error(viewer_api.post("/segments", json={"name": "All"}), 403)


def test_unknown_paths_methods_and_ids_answer_json(api):
    assert_error(api.get("/nothing-here"), 404)
    assert_error(api.get("/contacts/999"), 404, "not_found")
    assert_error(api.get(f"/contacts/{2**63}"), 404)
    response = api.open("PUT", "/contacts")
    assert_error(response, 405)
    assert "POST" in response.headers["Allow"]


def test_malformed_bodies_and_unknown_fields_are_400_with_fields(api):
    assert_error(api.post("/contacts", data="{not json", content_type="application/json"), 400)
    assert_error(api.post("/contacts", json=["a list"]), 400)
    error = assert_error(
        api.post("/contacts", json={"email": 5, "nickname": "x", "topics": "a,b"}), 400
    )
    assert set(error["fields"]) == {"email", "nickname", "topics"}


def test_pagination_shape_and_bounds(api, db_session):
    for number in range(5):
        make_contact(db_session, f"c{number}@example.org", last_name=f"N{number}")
    db_session.commit()
    body = api.get("/contacts?per_page=2&page=2").get_json()
    assert (body["page"], body["per_page"], body["total"]) == (2, 2, 5)
    assert [item["email"] for item in body["items"]] == ["c2@example.org", "c3@example.org"]
    assert api.get("/contacts?per_page=100").status_code == 200
    assert set(assert_error(api.get("/contacts?per_page=101"), 400)["fields"]) == {"per_page"}
    assert_error(api.get("/contacts?page=zero"), 400)
    assert_error(api.get("/contacts?colour=red"), 400)


def test_openapi_document_and_docs_page_are_public(anonymous_api, client):
    spec = anonymous_api.get("/openapi.json").get_json()
    assert spec == document()  # the document the schemathesis run checks the API against
    assert spec["openapi"].startswith("3.")
    assert "/campaigns/{campaign_id}/schedule" in spec["paths"]
    assert spec["paths"]["/subscriptions"]["post"]["security"] == []
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "api_docs.js" in html and "<script>" not in html and "cdn" not in html.lower()
    assert client.get("/static/api_docs.js").status_code == 200


def test_rate_limit_per_token_answers_429_json(database_url, tmp_path):
    from outreach import create_app
    from outreach.extensions import db, limiter

    limited = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=database_url,
        DEV_MAIL_DIR=str(tmp_path),
        RATELIMIT_ENABLED=True,
        API_RATE_LIMIT="2 per minute",
    )
    try:
        limiter.reset()
        with limited.app_context():
            secret = token_for(db.session, "editor", "limited@example.org")
            other = token_for(db.session, "viewer", "other@example.org")
        client = ApiClient(limited.test_client(), secret)
        statuses = [client.get("/contacts").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert_error(client.get("/contacts"), 429)
        assert ApiClient(limited.test_client(), other).get("/contacts").status_code == 200
    finally:
        limiter.reset()
        limiter.enabled = False
        with limited.app_context():
            db.session.remove()
            from tests.conftest import _empty_tables

            _empty_tables(db)
            db.engine.dispose()


def test_cli_prints_a_new_token_once(app, db_session):
    make_user(db_session, "cli@example.org", role="viewer")
    db_session.commit()
    result = app.test_cli_runner().invoke(
        args=["users", "token", "cli@example.org", "--name", "sync"]
    )
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    token = db_session.query(ApiToken).one()
    assert token.name == "sync" and token.token_hash == hash_token(secret)
    assert ApiClient(app.test_client(), secret).get("/contacts").status_code == 200
    missing = app.test_cli_runner().invoke(args=["users", "token", "nobody@example.org"])
    assert missing.exit_code != 0 and "no account" in missing.output


def test_tokens_page_creates_shows_once_and_revokes(staff_client, db_session, admin_user):
    response = staff_client.post("/api-tokens", data={"name": "partner sync"})
    assert response.status_code == 200
    token = db_session.query(ApiToken).one()
    html = response.get_data(as_text=True)
    secret = html.split('class="api-token-secret">')[1].split("<")[0]
    assert hash_token(secret) == token.token_hash and token.user_id == admin_user.id
    listing = staff_client.get("/api-tokens").get_data(as_text=True)
    assert "partner sync" in listing and secret not in listing
    confirm = staff_client.post(f"/api-tokens/{token.id}/revoke")
    assert "Revoke API token" in confirm.get_data(as_text=True)
    assert db_session.get(ApiToken, token.id).revoked_at is None
    done = staff_client.post(f"/api-tokens/{token.id}/revoke", data={"confirmed": "1"})
    assert done.status_code == 302
    db_session.expire_all()
    assert db_session.get(ApiToken, token.id).revoked_at is not None


def test_staff_see_only_their_tokens_and_admins_see_all(app, db_session, viewer_client, admin_user):
    from outreach.auth.models import User

    viewer = db_session.query(User).filter_by(email="viewer@example.org").one()
    create_token(db_session, viewer, "mine")
    admins, _ = create_token(db_session, admin_user, "admin's")
    db_session.commit()
    page = viewer_client.get("/api-tokens").get_data(as_text=True)
    assert "mine" in page and "admin&#39;s" not in page
    assert (
        viewer_client.post(f"/api-tokens/{admins.id}/revoke", data={"confirmed": "1"}).status_code
        == 404
    )
    from tests.conftest import login

    admin = login(app.test_client(), admin_user)
    page = admin.get("/api-tokens").get_data(as_text=True)
    assert "mine" in page and "admin&#39;s" in page and "viewer@example.org" in page


def test_tokens_page_needs_a_login(client):
    assert client.get("/api-tokens").status_code == 302


def test_json_numbers_and_flags_must_have_json_types(api):
    error = assert_error(api.post("/sessions", json={"number": "12"}), 400)
    assert error["fields"] == {"number": "Must be an integer."}
    error = assert_error(api.post("/campaigns", json={"name": "N", "public": "true"}), 400)
    assert error["fields"] == {"public": "Must be true or false."}


def test_token_names_are_bounded_and_disabled_accounts_get_none(app, staff_client, db_session):
    response = staff_client.post("/api-tokens", data={"name": "x" * 101})
    assert response.status_code == 400
    assert "too long" in response.get_data(as_text=True)
    assert db_session.query(ApiToken).count() == 0
    user = make_user(db_session, "gone@example.org", role="editor")
    user.active = False
    db_session.commit()
    result = app.test_cli_runner().invoke(args=["users", "token", "gone@example.org"])
    assert result.exit_code != 0 and "disabled" in result.output
