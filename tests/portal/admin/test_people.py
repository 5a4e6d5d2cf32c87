"""People administration: invite by e-mail, the invitee chooses a password and sees exactly
their scope, resend, deactivate (open sessions end at once), reactivate; refused forms name
every problem; only administrators reach any of it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from fleet.models import Customer, OutboxEmail, Site, User

LINK = re.compile(r"http://[^/\s]+(/auth/invite/[A-Za-z0-9_-]+)")
PASSWORD = "the invitee's own password 7"


def _ids(app: Flask) -> tuple[int, int]:
    with app.extensions["fleet.db"].sessionmaker() as s:
        customer = s.scalars(select(Customer).where(Customer.name == "Lumière Immobilier")).one()
        site = s.scalars(select(Site).where(Site.name == "Résidence Les Tilleuls")).one()
        return customer.id, site.id


def _invitation_link(app: Flask, email: str) -> str:
    with app.extensions["fleet.db"].sessionmaker() as s:
        mails = list(
            s.scalars(select(OutboxEmail).where(OutboxEmail.to_address == email).order_by(OutboxEmail.id))
        )
    assert mails, "no invitation e-mail"
    match = LINK.search(mails[-1].body)
    assert match is not None, mails[-1].body
    return match.group(1)


def _manager_who_accepted(app: Flask, admin: FlaskClient, customer_id: int, name: str) -> str:
    """Invite a facility manager of ``customer_id`` who then chooses a password; their e-mail."""
    email = f"fm.{uuid.uuid4().hex[:8]}@example.org"
    invitation = {"email": email, "name": name, "group": "facility_manager", "customer_id": str(customer_id)}
    assert admin.post("/admin/people/invite", data=invitation).status_code == 302
    accepted = app.test_client().post(
        _invitation_link(app, email), data={"password": PASSWORD, "confirm": PASSWORD}
    )
    assert accepted.status_code == 302
    return email


def _user_id(app: Flask, email: str) -> int:
    with app.extensions["fleet.db"].sessionmaker() as s:
        return s.scalars(select(User.id).where(User.email == email)).one()


def test_an_invited_facility_manager_chooses_a_password_and_sees_their_customer(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    customer_id, _site = _ids(app)
    admin = login("staff@demo.example")
    email = f"fm.{uuid.uuid4().hex[:8]}@example.org"
    sent = admin.post(
        "/admin/people/invite",
        data={
            "email": email,
            "name": "New Manager",
            "group": "facility_manager",
            "customer_id": str(customer_id),
        },
    )
    assert sent.status_code == 302
    assert _user_id(app, email) in {
        int(x) for x in re.findall(r"/admin/people/(\d+)", sent.headers["Location"])
    }
    listing = admin.get("/admin/people", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert email in listing
    assert 'data-state="invited"' in listing
    invitee = app.test_client()
    assert invitee.post("/auth/login", data={"email": email, "password": PASSWORD}).status_code == 401
    path = _invitation_link(app, email)
    assert invitee.get(path, headers={"Accept-Language": "en"}).status_code == 200
    assert invitee.post(path, data={"password": PASSWORD, "confirm": PASSWORD}).status_code == 302
    assert invitee.post("/auth/login", data={"email": email, "password": PASSWORD}).status_code == 302
    portfolio = invitee.get("/portfolio").get_data(as_text=True)
    assert portfolio.count('data-asset-id="') == 16  # exactly Lumière Immobilier's assets
    assert invitee.get(path).status_code == 400  # the link worked once


def test_deactivating_ends_open_sessions_at_once_and_reactivating_restores_access(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    customer_id, _site = _ids(app)
    admin = login("staff@demo.example")
    email = _manager_who_accepted(app, admin, customer_id, "Short Stay")
    person = app.test_client()
    assert person.post("/auth/login", data={"email": email, "password": PASSWORD}).status_code == 302
    assert person.get("/portfolio").status_code == 200
    uid = _user_id(app, email)
    assert admin.post(f"/admin/people/{uid}/deactivate").status_code == 302
    assert person.get("/portfolio").status_code == 302  # the open page's next request is refused
    assert person.post("/auth/login", data={"email": email, "password": PASSWORD}).status_code == 401
    assert admin.post(f"/admin/people/{uid}/reactivate").status_code == 302
    assert person.post("/auth/login", data={"email": email, "password": PASSWORD}).status_code == 302


def test_resending_an_invitation_retires_the_first_link(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    _customer, site_id = _ids(app)
    admin = login("staff@demo.example")
    email = f"hoa.{uuid.uuid4().hex[:8]}@example.org"
    admin.post(
        "/admin/people/invite",
        data={
            "email": email,
            "name": "New President",
            "group": "hoa_president",
            "site_ids": [str(site_id)],
            "locale": "fr",
        },
    )
    first = _invitation_link(app, email)
    assert admin.post(f"/admin/people/{_user_id(app, email)}/resend").status_code == 302
    second = _invitation_link(app, email)
    assert first != second
    assert app.test_client().get(first).status_code == 400
    assert app.test_client().get(second).status_code == 200


def test_a_refused_invitation_names_every_problem_and_keeps_what_was_typed(
    login: Callable[[str], FlaskClient],
) -> None:
    admin = login("staff@demo.example")
    resp = admin.post(
        "/admin/people/invite",
        data={"email": "not-an-address", "name": "X", "group": "hoa_president"},
        headers={"Accept-Language": "en"},
    )
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    for message in ("valid e-mail address", "person&#39;s name", "customer or the sites"):
        assert message in page, message
    assert 'value="not-an-address"' in page
    duplicate = admin.post(
        "/admin/people/invite", data={"email": "fm@demo.example", "name": "Again", "group": "vendor_staff"}
    )
    assert duplicate.status_code == 400
    assert "already uses this address" in duplicate.get_data(as_text=True)


def test_a_persons_group_and_scope_change_from_their_next_request(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    customer_id, site_id = _ids(app)
    admin = login("staff@demo.example")
    email = _manager_who_accepted(app, admin, customer_id, "Moving Person")
    person = app.test_client()
    person.post("/auth/login", data={"email": email, "password": PASSWORD})
    assert person.get("/portfolio").get_data(as_text=True).count('data-asset-id="') == 16
    uid = _user_id(app, email)
    form = admin.get(f"/admin/people/{uid}/edit").get_data(as_text=True)
    assert 'value="Moving Person"' in form
    bad = admin.post(
        f"/admin/people/{uid}/edit",
        data={
            "name": "Moving Person",
            "group": "hoa_president",
            "customer_id": str(customer_id),
            "site_ids": [str(site_id)],
        },
    )
    assert bad.status_code == 400  # Les Tilleuls is not Lumière Immobilier's
    assert "belong to the user" in bad.get_data(as_text=True)
    ok = admin.post(
        f"/admin/people/{uid}/edit",
        data={"name": "Moving Person", "group": "hoa_president", "site_ids": [str(site_id)], "locale": "fr"},
    )
    assert ok.status_code == 302
    assert person.get("/portfolio").get_data(as_text=True).count('data-asset-id="') == 3  # Les Tilleuls now
    assert person.get("/kpis").status_code == 403  # HOA presidents see no KPI page


def test_administrators_cannot_lock_themselves_out(app: Flask, login: Callable[[str], FlaskClient]) -> None:
    admin = login("staff@demo.example")
    resp = admin.post(f"/admin/people/{_user_id(app, 'staff@demo.example')}/deactivate")
    assert resp.status_code == 409


@pytest.mark.parametrize("email", ["fm@demo.example", "hoa.tilleuls@demo.example", "tech@demo.example"])
def test_only_administrators_reach_people(
    app: Flask, login: Callable[[str], FlaskClient], email: str
) -> None:
    client = login(email)
    assert client.get("/admin/people").status_code == 403
    assert client.get("/admin/people/invite").status_code == 403
    assert client.post("/admin/people/invite", data={"email": "x@example.org"}).status_code == 403
    someone = _user_id(app, "fm.habitat@demo.example")
    assert client.get(f"/admin/people/{someone}").status_code == 404  # no account exists for them
    assert client.post(f"/admin/people/{someone}/deactivate").status_code == 404
    assert "/admin/people" not in client.get("/portfolio").get_data(as_text=True)


def test_withdrawing_an_invitation_retires_its_link_and_the_account(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    customer_id, _site = _ids(app)
    admin = login("staff@demo.example")
    email = f"fm.{uuid.uuid4().hex[:8]}@example.org"
    invitation = {
        "email": email,
        "name": "Not Coming",
        "group": "facility_manager",
        "customer_id": str(customer_id),
    }
    assert admin.post("/admin/people/invite", data=invitation).status_code == 302
    link = _invitation_link(app, email)
    uid = _user_id(app, email)
    assert admin.post(f"/admin/people/{uid}/revoke").status_code == 302
    assert app.test_client().get(link).status_code == 400
    with app.extensions["fleet.db"].sessionmaker() as s:
        assert s.get(User, uid).is_active is False  # type: ignore[union-attr]
    accepted = _manager_who_accepted(app, admin, customer_id, "Already Here")
    assert admin.post(f"/admin/people/{_user_id(app, accepted)}/revoke").status_code == 409
