"""Forgot password: the same answer for every address, a one-time link that expires, a new
password that meets the policy, and every open session of the account ended."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from fleet.db import utcnow
from fleet.models import OutboxEmail, StakeholderGroup
from portal.auth.service import create_user

OLD = "an old but long password 1"
NEW = "a brand new long password 2"
LINK = re.compile(r"http://[^/\s]+(/auth/reset/[A-Za-z0-9_-]+)")


def _account(app: Flask, *, active: bool = True, locale: str = "en") -> str:
    email = f"reset.{uuid.uuid4().hex[:10]}@example.org"
    with app.extensions["fleet.db"].session() as s:
        user = create_user(s, email=email, name="Reset Test", password=OLD,
                           group=StakeholderGroup.VENDOR_STAFF, locale=locale)  # fmt: skip
        user.is_active = active
    return email


def _log_in(app: Flask, email: str, password: str) -> tuple[FlaskClient, int]:
    client = app.test_client()
    resp = client.post("/auth/login", data={"email": email, "password": password})
    return client, resp.status_code


def _emails_to(app: Flask, email: str) -> list[OutboxEmail]:
    with app.extensions["fleet.db"].sessionmaker() as s:
        return list(
            s.scalars(select(OutboxEmail).where(OutboxEmail.to_address == email).order_by(OutboxEmail.id))
        )


def _ask(app: Flask, email: str) -> str:
    resp = app.test_client().post("/auth/forgot", data={"email": email}, headers={"Accept-Language": "en"})
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    return page[page.index("<main") : page.index("</main>")]  # the answer (the head has per-request nonces)


def _link_in(mail: OutboxEmail) -> str:
    match = LINK.search(mail.body)
    assert match is not None, mail.body
    return match.group(1)


def test_the_answer_never_says_whether_an_address_has_an_account(app: Flask) -> None:
    known, inactive = _account(app), _account(app, active=False)
    answers = {_ask(app, address) for address in (known, inactive, "nobody.at.all@example.org")}
    assert len(answers) == 1  # the same page, word for word
    assert "If an account uses this address" in answers.pop()
    assert len(_emails_to(app, known)) == 1
    assert _emails_to(app, inactive) == []


def test_a_link_sets_a_new_password_once_and_ends_every_session(app: Flask) -> None:
    email = _account(app)
    elsewhere, status = _log_in(app, email, OLD)  # a session open on another device
    assert status == 302
    assert elsewhere.get("/portfolio").status_code == 200
    _ask(app, email)
    (mail,) = _emails_to(app, email)
    path = _link_in(mail)
    assert "works once" in mail.body
    client = app.test_client()
    assert client.get(path).status_code == 200
    done = client.post(path, data={"password": NEW, "confirm": NEW})
    assert done.status_code == 302
    assert done.headers["Location"] == "/auth/login"
    assert _log_in(app, email, OLD)[1] == 401
    assert _log_in(app, email, NEW)[1] == 302
    assert elsewhere.get("/portfolio").status_code == 302  # the other session ended
    again = app.test_client().post(path, data={"password": NEW + "x", "confirm": NEW + "x"})
    assert again.status_code == 400
    assert "expired or was already used" in again.get_data(as_text=True)


def test_a_weak_or_mistyped_password_is_refused_and_the_link_still_works(app: Flask) -> None:
    email = _account(app)
    _ask(app, email)
    path = _link_in(_emails_to(app, email)[-1])
    client = app.test_client()
    weak = client.post(
        path, data={"password": "short", "confirm": "short"}, headers={"Accept-Language": "en"}
    )
    assert weak.status_code == 400
    assert "at least 10 characters" in weak.get_data(as_text=True)
    french = client.post(
        path, data={"password": "short", "confirm": "short"}, headers={"Accept-Language": "fr"}
    )
    assert "au moins 10 caractères" in french.get_data(
        as_text=True
    )  # the policy speaks the reader's language
    differ = client.post(
        path, data={"password": NEW, "confirm": NEW + "?"}, headers={"Accept-Language": "en"}
    )
    assert differ.status_code == 400
    assert "The two passwords differ." in differ.get_data(as_text=True)
    assert client.post(path, data={"password": NEW, "confirm": NEW}).status_code == 302


def test_links_expire_and_asking_again_retires_the_older_one(app: Flask) -> None:
    email = _account(app)
    _ask(app, email)
    first = _link_in(_emails_to(app, email)[-1])
    _ask(app, email)
    second = _link_in(_emails_to(app, email)[-1])
    assert app.test_client().get(first).status_code == 400  # retired by the newer one
    assert app.test_client().get(second).status_code == 200
    with time_machine.travel(utcnow() + timedelta(minutes=61), tick=False):
        expired = app.test_client().get(second, headers={"Accept-Language": "en"})
    assert expired.status_code == 400
    assert "Ask for a new link" in expired.get_data(as_text=True)


def test_at_most_three_emails_an_hour_per_account(app: Flask) -> None:
    email = _account(app)
    for _ in range(5):
        _ask(app, email)
    assert len(_emails_to(app, email)) == 3


def test_the_email_is_in_the_account_language(app: Flask) -> None:
    email = _account(app, locale="fr")
    _ask(app, email)
    (mail,) = _emails_to(app, email)
    assert mail.subject == "Choisissez un nouveau mot de passe pour le portail des équipements"
    assert "ne fonctionne qu’une fois" in mail.body


@pytest.mark.parametrize("token", ["short", "x" * 43, "../../etc/passwd"])
def test_unknown_links_are_refused(app: Flask, token: str) -> None:
    assert app.test_client().get(f"/auth/reset/{token}").status_code in (400, 404)


def test_the_login_page_offers_the_way_back(app: Flask) -> None:
    page = app.test_client().get("/auth/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'href="/auth/forgot"' in page
