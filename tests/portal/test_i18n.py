"""English and French: catalogue completeness, the language choice, localised formats."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from config import ROOT
from fleet.models import Age
from portal.i18n import fmt_datetime, fmt_number
from portal.web.filters import age, duration, percent, status_sentence

PLACEHOLDER = re.compile(r"%\((\w+)\)[sd0-9]*|\{(\w+)\}")


def _placeholders(text: str) -> set[str]:
    return {a or b for a, b in PLACEHOLDER.findall(text)}


def test_french_catalogue_is_complete_and_keeps_placeholders() -> None:
    with (ROOT / "translations/fr/LC_MESSAGES/messages.po").open("rb") as f:
        catalogue = read_po(f, locale="fr")
    assert len(catalogue) > 150
    for msg in catalogue:
        if not msg.id:
            continue
        ids = [msg.id] if isinstance(msg.id, str) else list(msg.id)
        strings = [msg.string] if isinstance(msg.string, str) else list(msg.string)
        assert all(strings), f"untranslated: {ids[0]!r}"
        assert "fuzzy" not in msg.flags, ids[0]
        for s in strings:
            assert _placeholders(s) == _placeholders(ids[0]), ids[0]


def test_every_template_string_is_in_the_catalogue() -> None:
    """Strings marked in templates and code after the last extraction would show in English."""
    from babel.messages.extract import extract_from_dir

    with (ROOT / "translations/fr/LC_MESSAGES/messages.po").open("rb") as f:
        known = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}
    method_map = [("portal/**.py", "python"), ("templates/**.html", "jinja2")]
    found = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(ROOT), method_map, keywords={"_": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2)}
    ):
        found.add(message if isinstance(message, str) else message[0])
    assert found - known == set()


@pytest.mark.parametrize(
    ("header", "lang", "title"),
    [("fr-FR,fr;q=0.9,en;q=0.5", "fr", "Se connecter"), ("en-GB,en;q=0.9", "en", "Log in"),
     ("de-DE", "en", "Log in"), ("", "en", "Log in")],
)  # fmt: skip
def test_language_comes_from_the_browser(app: Flask, header: str, lang: str, title: str) -> None:
    page = app.test_client().get("/auth/login", headers={"Accept-Language": header}).get_data(as_text=True)
    assert f'<html lang="{lang}">' in page
    assert f"<h1>{title}</h1>" in page


def test_switching_language_is_remembered_and_validated(app: Flask) -> None:
    client = app.test_client()
    resp = client.post("/language", data={"lang": "fr", "next": "/auth/login"})
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/auth/login"
    page = client.get("/auth/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "<h1>Se connecter</h1>" in page  # the explicit choice beats the browser
    bad = client.post("/language", data={"lang": "xx"})
    assert bad.status_code == 400
    assert "choose en or fr" in bad.get_json()["error"]
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        resp = client.post("/language", data={"lang": "en", "next": target})
        assert resp.headers["Location"] == "/"  # never redirected off site


def test_account_locale_is_used_after_login(login: Callable[[str], FlaskClient]) -> None:
    client = login("hoa.tilleuls@demo.example")  # a French-speaking account in the demo
    page = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="fr">' in page
    assert "du temps en service sur les 90 derniers jours" in page


def test_formats_follow_the_language(app: Flask) -> None:
    when = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 01:30 in Paris before the DST change, 02:30 after
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        assert duration(timedelta(days=2, hours=3)) == "2 j 3 h"
        assert percent(99.8234) == "99,82\u202f%"
        assert age(Age(12, 1)) == "12 ans 1 mois"
        assert fmt_number(1234.5, 1) == "1\u202f234,5"
        assert fmt_datetime(when, "Europe/Paris") == "29 mars 2026, 01:30"
        assert fmt_datetime(when + timedelta(hours=1), "Europe/Paris") == "29 mars 2026, 03:30"
        assert (
            status_sentence("out_of_service", "Ascenseur B", "14:05")
            == "Ascenseur B est à l'arrêt depuis le 14:05."
        )
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert duration(timedelta(hours=3, minutes=5)) == "3 h 05 min"
        assert percent(None) == "n/a"
        assert age(Age(1, 0)) == "1 year"
        assert fmt_datetime(when, "America/Montreal") == "28 Mar 2026, 20:30"
