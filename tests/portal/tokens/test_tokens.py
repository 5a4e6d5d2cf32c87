"""API tokens: created by their owner and shown once (only a hash is kept), used as a bearer
token with the owner's scope (the same 404 rule as the pages), last use recorded, revoked
or expired ones refused, and a per-token rate limit answering 429 with Retry-After."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from fleet.db import utcnow
from fleet.models import ApiToken, AuditEntry, Customer
from portal.app import create_app
from tests.conftest import logged_in_client, make_settings

EN = {"Accept-Language": "en"}


def _create(client: FlaskClient, name: str = "CMMS sync", days: str = "90") -> str:
    page = client.post("/account/tokens", data={"name": name, "days": days}, headers=EN)
    assert page.status_code == 200, page.get_data(as_text=True)
    found = re.search(r'id="token-secret">(ept_[A-Za-z0-9_-]+)<', page.get_data(as_text=True))
    assert found is not None
    return found.group(1)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_acts_with_its_owners_scope_and_is_stored_as_a_hash(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    secret = _create(login("fm@demo.example"))
    machine = app.test_client()
    me = machine.get("/api/v1/me", headers=_bearer(secret))
    assert me.status_code == 200
    assert me.get_json()["email"] == "fm@demo.example"
    with app.extensions["fleet.db"].sessionmaker() as s:
        stored = s.scalars(select(ApiToken).where(ApiToken.prefix == secret[:10])).one()
        assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert stored.last_used_at is not None
        other = s.scalar(select(Customer.id).where(Customer.name != "Lumière Immobilier"))
        audited = s.scalar(
            select(AuditEntry.id).where(
                AuditEntry.action == "token.created", AuditEntry.object_id == stored.id
            )
        )
    assert audited is not None
    assert machine.get(f"/api/v1/customers/{other}", headers=_bearer(secret)).status_code == 404
    assert machine.get("/api/v1/customers", headers=_bearer(secret)).status_code == 200
    assert machine.get("/portfolio", headers=_bearer(secret)).status_code == 302  # pages need a login
    assert secret not in login("fm@demo.example").get("/account/tokens").get_data(as_text=True)


def test_revoked_expired_and_unknown_tokens_are_refused(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    owner = login("staff@demo.example")
    secret = _create(owner, "to revoke")
    machine = app.test_client()
    assert machine.get("/api/v1/me", headers=_bearer(secret)).status_code == 200
    with app.extensions["fleet.db"].sessionmaker() as s:
        token_id = s.scalars(select(ApiToken.id).where(ApiToken.prefix == secret[:10])).one()
    assert (
        login("fm@demo.example").post(f"/account/tokens/{token_id}/revoke").status_code == 404
    )  # not theirs
    assert owner.post(f"/account/tokens/{token_id}/revoke").status_code == 302
    assert machine.get("/api/v1/me", headers=_bearer(secret)).status_code == 401
    expiring = _create(owner, "short-lived", "30")
    with app.extensions["fleet.db"].session() as s:
        token = s.scalars(select(ApiToken).where(ApiToken.prefix == expiring[:10])).one()
        token.expires_at = utcnow() - timedelta(seconds=1)
    assert machine.get("/api/v1/me", headers=_bearer(expiring)).status_code == 401
    assert machine.get("/api/v1/me", headers=_bearer("ept_" + "x" * 43)).status_code == 401
    assert machine.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_a_bad_name_or_lifetime_is_refused_with_the_reason(login: Callable[[str], FlaskClient]) -> None:
    client = login("hoa.tilleuls@demo.example")  # a French-speaking account
    no_name = client.post("/account/tokens", data={"name": "  ", "days": "90"}, headers=EN)
    assert no_name.status_code == 400
    assert "Donnez au jeton un nom" in no_name.get_data(as_text=True)
    forever = client.post("/account/tokens", data={"name": "x", "days": "100000"}, headers=EN)
    assert forever.status_code == 400
    assert "Choisissez la durée de validité du jeton." in forever.get_data(as_text=True)
    _create(client, "twice")
    again = client.post("/account/tokens", data={"name": "twice", "days": "30"}, headers=EN)
    assert again.status_code == 400


def test_the_rate_limit_answers_429_with_retry_after(sqlite_demo_url: str) -> None:
    app = create_app(make_settings(sqlite_demo_url, live_enabled=False, api_token_rate_per_minute=3))
    app.config["WTF_CSRF_ENABLED"] = False
    secret = _create(logged_in_client(app, "tech@demo.example"), "busy")
    machine = app.test_client()
    statuses = [machine.get("/api/v1/me", headers=_bearer(secret)).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    limited = machine.get("/api/v1/me", headers=_bearer(secret))
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 61
    assert "too many requests" in limited.get_json()["error"]
    app.extensions["fleet.db"].dispose()
