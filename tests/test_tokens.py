"""Signed link tokens: the direct HMAC signer writes exactly what itsdangerous reads."""

import time

import pytest
from itsdangerous import URLSafeTimedSerializer

from outreach.core import tokens

NOW = 1_790_000_000.4


@pytest.fixture
def frozen(monkeypatch):
    monkeypatch.setattr(time, "time", lambda: NOW)


def reference(app, purpose, payload):
    serializer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=f"outreach.{purpose}")
    return serializer.dumps(payload)


@pytest.mark.parametrize(
    "payload",
    [
        {"c": 42, "h": "0123456789abcdef"},
        {"c": 7, "name": "Zoë Ngọc", "note": "x" * 300},  # compressed, non-ASCII
        [1, 2, 3],
        "plain",
    ],
)
def test_sign_writes_the_itsdangerous_format(app, frozen, payload):
    assert tokens.sign("unsubscribe", payload) == reference(app, "unsubscribe", payload)


def test_sign_many_signs_each_payload_verifiably(app):
    payloads = [{"c": n, "h": f"{n:016x}"} for n in range(1, 6)]
    signed = tokens.sign_many("preferences", payloads)
    assert len(set(signed)) == 5
    assert [tokens.verify("preferences", token) for token in signed] == payloads


def test_sign_many_of_nothing(app):
    assert tokens.sign_many("preferences", []) == []


def test_a_token_is_bound_to_its_purpose_and_secret(app, monkeypatch):
    token = tokens.sign("unsubscribe", {"c": 1})
    with pytest.raises(tokens.TokenInvalid):
        tokens.verify("preferences", token)
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(tokens.TokenInvalid):
        tokens.verify("unsubscribe", tampered)
    monkeypatch.setitem(app.config, "SECRET_KEY", "another-secret-key")
    with pytest.raises(tokens.TokenInvalid):
        tokens.verify("unsubscribe", token)
    assert tokens.verify("unsubscribe", tokens.sign("unsubscribe", {"c": 1})) == {"c": 1}


def test_an_expired_token_still_tells_its_payload(app, monkeypatch):
    monkeypatch.setattr(time, "time", lambda: NOW - 3600)
    token = tokens.sign("confirm", {"c": 3})
    monkeypatch.setattr(time, "time", lambda: NOW)
    with pytest.raises(tokens.TokenExpired) as expired:
        tokens.verify("confirm", token, max_age=60)
    assert expired.value.payload == {"c": 3}
    assert tokens.verify("confirm", token, max_age=7200) == {"c": 3}
