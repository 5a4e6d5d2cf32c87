"""The optional second factor (TOTP): enrol with a code from the app, then each login asks for
a fresh code; a code is never accepted twice; five wrong codes send back to the password;
an administrator can turn it off; with REQUIRE_STAFF_MFA staff must enrol first."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from fleet.models import AuditEntry, Customer, StakeholderGroup, User
from portal.app import create_app
from portal.auth.service import create_user
from tests.conftest import make_settings

PASSWORD = "a long enough password 1"
T0 = datetime(2026, 3, 29, 0, 59, 40, tzinfo=UTC)  # a minute before Paris changes to summer time


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    """A fixed instant the test moves by hand."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def _account(app: Flask, group: StakeholderGroup = StakeholderGroup.VENDOR_STAFF) -> tuple[str, int]:
    email = f"mfa.{uuid.uuid4().hex[:8]}@example.org"
    with app.extensions["fleet.db"].session() as s:
        customer_id = (
            None if group is StakeholderGroup.VENDOR_STAFF else s.scalar(select(Customer.id).limit(1))
        )
        user = create_user(s, email=email, name="Two Step", password=PASSWORD, group=group,
                           customer_id=customer_id)  # fmt: skip
        s.flush()
        return email, user.id


def _password(client: FlaskClient, email: str) -> str:
    resp = client.post("/auth/login", data={"email": email, "password": PASSWORD})
    assert resp.status_code == 302
    return resp.headers["Location"]


def _enrol(client: FlaskClient) -> str:
    page = client.get("/auth/second-factor/setup").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page)
    assert secret is not None
    assert 'src="data:image/svg+xml' in page  # the QR code for the app
    assert client.post("/auth/second-factor/setup", data={"code": "000000"}).status_code == 400
    code = pyotp.TOTP(secret.group(1)).now()
    assert client.post("/auth/second-factor/setup", data={"code": code}).status_code == 302
    return secret.group(1)


def test_after_enrolment_each_login_asks_for_a_fresh_code(
    app: Flask, clock: time_machine.Coordinates
) -> None:
    email, user_id = _account(app)
    client = app.test_client()
    _password(client, email)
    secret = _enrol(client)
    client.post("/auth/logout")
    clock.shift(timedelta(seconds=60))  # across the DST change in Paris: codes are UTC-based
    assert _password(client, email).endswith("/auth/second-factor")
    assert client.get("/portfolio").status_code == 302  # not logged in yet
    code = pyotp.TOTP(secret).now()
    assert client.post("/auth/second-factor", data={"code": "123 456"}).status_code == 401
    assert client.post("/auth/second-factor", data={"code": f"{code[:3]} {code[3:]}"}).status_code == 302
    assert client.get("/portfolio").status_code == 200
    client.post("/auth/logout")
    _password(client, email)
    assert client.post("/auth/second-factor", data={"code": code}).status_code == 401  # no replay
    with app.extensions["fleet.db"].sessionmaker() as s:
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.object_id == user_id)).all()
    assert "person.second_factor_on" in actions


def test_five_wrong_codes_send_back_to_the_password(app: Flask, clock: time_machine.Coordinates) -> None:
    email, _ = _account(app)
    client = app.test_client()
    _password(client, email)
    _enrol(client)
    client.post("/auth/logout")
    _password(client, email)
    for _ in range(4):
        assert client.post("/auth/second-factor", data={"code": "999999"}).status_code == 401
    last = client.post("/auth/second-factor", data={"code": "999999"})
    assert last.status_code == 302
    assert last.headers["Location"].endswith("/auth/login")
    assert client.get("/auth/second-factor").status_code == 302


def test_an_administrator_turns_it_off_for_a_lost_phone(
    app: Flask, login: Callable[[str], FlaskClient], clock: time_machine.Coordinates
) -> None:
    email, user_id = _account(app, StakeholderGroup.FIELD_TECHNICIAN)
    client = app.test_client()
    _password(client, email)
    _enrol(client)
    admin = login("staff@demo.example")
    assert admin.post(f"/admin/people/{user_id}/second-factor-off").status_code == 302
    fresh = app.test_client()
    assert not _password(fresh, email).endswith("/auth/second-factor")
    with app.extensions["fleet.db"].sessionmaker() as s:
        assert s.get(User, user_id).totp_secret is None  # type: ignore[union-attr]


def test_required_for_staff_they_must_enrol_before_anything_else(
    sqlite_demo_url: str, clock: time_machine.Coordinates
) -> None:
    app = create_app(make_settings(sqlite_demo_url, require_staff_mfa=True, live_enabled=False))
    app.config["WTF_CSRF_ENABLED"] = False
    email, _ = _account(app)
    staff = app.test_client()
    _password(staff, email)
    blocked = staff.get("/portfolio")
    assert blocked.status_code == 302
    assert blocked.headers["Location"].endswith("/auth/second-factor/setup")
    assert staff.get("/api/v1/customers").status_code == 403
    _enrol(staff)
    assert staff.get("/portfolio").status_code == 200
    page = staff.get("/auth/second-factor/setup", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "required for vendor staff" in page
    email_fm, _ = _account(app, StakeholderGroup.FACILITY_MANAGER)
    manager_client = app.test_client()
    _password(manager_client, email_fm)
    assert manager_client.get("/portfolio").status_code == 200  # optional for everyone else
    app.extensions["fleet.db"].dispose()
