"""Helpers for API tests: a test client that sends a bearer token for a user of some role."""

from __future__ import annotations

import pytest

from outreach.api.tokens import create_token
from tests.factories import make_user


class ApiClient:
    """`get/post/patch/delete` on /api/v1 paths with `Authorization: Bearer <token>`."""

    def __init__(self, client, token: str | None):
        self.client = client
        self.token = token

    def _headers(self, headers: dict | None) -> dict:
        out = dict(headers or {})
        if self.token is not None:
            out.setdefault("Authorization", f"Bearer {self.token}")
        return out

    def open(self, method: str, path: str, *, headers: dict | None = None, **kwargs):
        return self.client.open(
            "/api/v1" + path, method=method, headers=self._headers(headers), **kwargs
        )

    def get(self, path: str, **kwargs):
        return self.open("GET", path, **kwargs)

    def post(self, path: str, **kwargs):
        return self.open("POST", path, **kwargs)

    def patch(self, path: str, **kwargs):
        return self.open("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs):
        return self.open("DELETE", path, **kwargs)


def token_for(db_session, role: str, email: str | None = None) -> str:
    user = make_user(db_session, email or f"{role}-api@example.org", role=role)
    _token, secret = create_token(db_session, user, f"{role} script")
    db_session.commit()
    return secret


@pytest.fixture
def api(app, db_session):
    """An API client acting as an editor."""
    return ApiClient(app.test_client(), token_for(db_session, "editor"))


@pytest.fixture
def viewer_api(app, db_session):
    return ApiClient(app.test_client(), token_for(db_session, "viewer"))


@pytest.fixture
def anonymous_api(app):
    return ApiClient(app.test_client(), None)


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The response is a JSON error with this status (and code); returns its `error` object."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "fields"}
    if code is not None:
        assert error["code"] == code
    return error
