"""Every registry page and action is refused to every account without the administrator
right: 403 for a page or an object in its scope, 404 for an object outside it (the sweep of
tests/portal/test_not_found_rule.py), whatever the method. The routes come from the URL map."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from fleet.models import Asset, Contract, Customer, Gateway, Site, StakeholderGroup, User
from portal.access import Scope
from portal.auth.service import create_user

NON_ADMINS = ["fm@demo.example", "hoa.tilleuls@demo.example", "tech@demo.example", "staff-no-admin"]
PASSWORD = "a long enough password 2"


def _client(app: Flask, login: Callable[[str], FlaskClient], who: str) -> tuple[FlaskClient, str]:
    if who != "staff-no-admin":
        return login(who), who
    email = f"staff.{uuid.uuid4().hex[:6]}@example.org"
    with app.extensions["fleet.db"].session() as s:
        create_user(s, email=email, name="Staff", password=PASSWORD, group=StakeholderGroup.VENDOR_STAFF)
        if s.scalar(select(Gateway.id).limit(1)) is None:
            s.add(Gateway(ident=f"gw-{uuid.uuid4().hex[:6]}", password_hash="$7$101$x$y"))
    client = app.test_client()
    assert client.post("/auth/login", data={"email": email, "password": PASSWORD}).status_code == 302
    return client, email


def _one_in_scope(app: Flask, email: str) -> dict[str, int]:
    """An object of each kind this account may see."""
    with app.extensions["fleet.db"].sessionmaker() as s:
        user = s.scalars(select(User).where(User.email == email)).one()
        scope = Scope.for_user(user)
        found = {
            "customer_id": s.scalar(scope.customers().with_only_columns(Customer.id).limit(1)),
            "site_id": s.scalar(scope.sites().with_only_columns(Site.id).limit(1)),
            "asset_id": s.scalar(select(Asset.id).where(scope.asset_filter()).limit(1)),
            "contract_id": s.scalar(
                select(Contract.id)
                .where(Contract.customer_id.in_(select(Customer.id).where(scope.customer_filter())))
                .limit(1)
            ),
            "gateway_id": s.scalar(select(Gateway.id).limit(1)) if scope.everything else None,
        }
    return {k: v for k, v in found.items() if v is not None}


@pytest.mark.parametrize("who", NON_ADMINS)
def test_non_administrators_are_refused_every_registry_page_and_action(
    app: Flask, login: Callable[[str], FlaskClient], who: str
) -> None:
    client, email = _client(app, login, who)
    visible = _one_in_scope(app, email)
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] != "registry":
            continue
        url = re.sub(r"<any\(([\w-]+)[^>]*>", r"\1", rule.rule)
        ids = re.findall(r"<int:(\w+)>", url)
        if ids and ids[0] not in visible:
            continue  # nothing of this kind in scope: the not-found sweep covers it
        if ids:
            url = url.replace(f"<int:{ids[0]}>", str(visible[ids[0]]))
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            status = client.open(url, method=method, data={} if method == "POST" else None).status_code
            assert status == 403, (who, method, url, status)
            checked += 1
    assert checked >= 12
    assert "/admin/registry" not in client.get("/portfolio").get_data(as_text=True)
