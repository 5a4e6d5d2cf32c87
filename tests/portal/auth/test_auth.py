"""Login, logout, throttling, CSRF, sessions and the password policy."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from fleet.models import LoginAttempt, User
from portal.app import create_app
from portal.auth.passwords import PasswordPolicyError, check_policy
from portal.demo import DEMO_PASSWORD
from tests.conftest import make_settings


@pytest.fixture
def csrf_app(sqlite_demo_url: str) -> Flask:
    """The portal with CSRF protection on, as in production, and a tight throttle."""
    return create_app(make_settings(sqlite_demo_url, login_max_failures=3, login_max_failures_per_ip=1000))


def _csrf(html: bytes) -> str:
    match = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        rb'name="csrf_token" value="([^"]+)"', html
    )
    assert match, html[:500]
    return match.group(1).decode()


def _login(client, email: str, password: str, **kwargs):  # type: ignore[no-untyped-def]
    token = _csrf(client.get("/auth/login").data)
    return client.post(
        "/auth/login", data={"email": email, "password": password, "csrf_token": token}, **kwargs
    )


def _attempts(app: Flask, email: str) -> int:
    with app.extensions["fleet.db"].sessionmaker() as s:
        return s.scalar(select(func.count()).where(LoginAttempt.email == email)) or 0


def test_login_and_logout_with_csrf(csrf_app: Flask) -> None:
    client = csrf_app.test_client()
    resp = _login(client, "FM@demo.example ", DEMO_PASSWORD)  # e-mail is normalised
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert b"Claire Martin" in home.data
    # logout without the CSRF token is refused and the session stays
    assert client.post("/auth/logout").status_code == 400
    assert client.get("/").status_code == 200
    resp = client.post("/auth/logout", data={"csrf_token": _csrf(home.data)})
    assert resp.status_code == 302
    assert client.get("/").status_code == 302


def test_login_without_csrf_token_is_rejected_and_logged(
    csrf_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    client = csrf_app.test_client()
    before = _attempts(csrf_app, "fm@demo.example")
    with caplog.at_level(logging.WARNING):
        resp = client.post("/auth/login", data={"email": "fm@demo.example", "password": DEMO_PASSWORD})
    assert resp.status_code == 400
    assert b"did not come from this site" in resp.data
    assert "CSRF" in caplog.text
    assert _attempts(csrf_app, "fm@demo.example") == before  # nothing changed
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    ("email", "password", "reason"),
    [
        ("fm@demo.example", "wrong-password-1", "wrong password"),
        ("nobody@demo.example", "x" * 12, "unknown user"),
    ],
)
def test_bad_credentials_get_one_generic_message(
    csrf_app: Flask, caplog: pytest.LogCaptureFixture, email: str, password: str, reason: str
) -> None:
    client = csrf_app.test_client()
    with caplog.at_level(logging.WARNING):
        resp = _login(client, email, password)
    assert resp.status_code == 401
    assert b"Wrong e-mail or password." in resp.data
    assert b"Traceback" not in resp.data
    assert f"reason={reason}" in caplog.text
    assert client.get("/").status_code == 302


def test_login_is_throttled_after_repeated_failures(csrf_app: Flask) -> None:
    client = csrf_app.test_client()
    email = "hoa.lac@demo.example"
    for _ in range(3):
        assert _login(client, email, "not-the-password").status_code == 401
    # even the right password is refused while throttled
    resp = _login(client, email, DEMO_PASSWORD)
    assert resp.status_code == 429
    assert b"Too many failed attempts" in resp.data
    assert client.get("/").status_code == 302
    # another account from the same address is not affected
    assert _login(csrf_app.test_client(), "hoa.belvedere@demo.example", DEMO_PASSWORD).status_code == 302


def test_open_redirect_is_refused(csrf_app: Flask) -> None:
    client = csrf_app.test_client()
    resp = _login(client, "staff@demo.example", DEMO_PASSWORD, query_string={"next": "//evil.example/x"})
    assert resp.headers["Location"] == "/"
    client2 = csrf_app.test_client()
    resp = _login(client2, "staff@demo.example", DEMO_PASSWORD, query_string={"next": "/sites/1"})
    assert resp.headers["Location"] == "/sites/1"


def test_expired_session_sends_back_to_login(sqlite_demo_url: str) -> None:
    app = create_app(make_settings(sqlite_demo_url, session_lifetime_minutes=5))
    app.config["WTF_CSRF_ENABLED"] = False
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(seconds=-1)  # already expired
    client = app.test_client()
    client.post("/auth/login", data={"email": "staff@demo.example", "password": DEMO_PASSWORD})
    resp = client.get("/")
    assert resp.status_code == 302
    assert "/auth/login" in resp.headers["Location"]


def test_rotating_session_token_logs_out_everywhere(sqlite_demo_url: str) -> None:
    app = create_app(make_settings(sqlite_demo_url))
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    client.post("/auth/login", data={"email": "tech@demo.example", "password": DEMO_PASSWORD})
    assert client.get("/work").status_code == 200
    with app.extensions["fleet.db"].session() as s:
        user = s.scalar(select(User).where(User.email == "tech@demo.example"))
        assert user is not None
        user.session_token = "rotated-" + user.session_token
    resp = client.get("/work")
    assert resp.status_code == 302
    assert "/auth/login" in resp.headers["Location"]


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "at least 10"),
        ("password123", "too common"),
        ("aaaaaaaaaaaa", "distinct"),
        ("jean.dupont", "e-mail"),
        ("x" * 300, "at most 256"),
    ],
)
def test_password_policy(password: str, message: str) -> None:
    with pytest.raises(PasswordPolicyError, match=message):
        check_policy(password, email="jean.dupont@example.org", min_length=10)


def test_password_policy_accepts_a_passphrase() -> None:
    check_policy("correct horse battery staple", email="a@b.example")


def test_security_headers(csrf_app: Flask) -> None:
    resp = csrf_app.test_client().get("/auth/login")
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    cookie = resp.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie
