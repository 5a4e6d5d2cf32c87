"""The feedback box: topics, validation, residents, access, handling, unread counts."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from fleet.db import utcnow
from fleet.models import Asset, Feedback, FeedbackStatus, Outage
from portal.feedback import service
from portal.feedback.topics import topics
from portal.refusal import Refused

SUBMISSION = re.compile(r'name="submission_id" value="([0-9a-f]+)"')
ITEM_URL = re.compile(r"/feedback/(\d+)$")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The doors keep reopening on the 3rd floor, it's really annoying", ["doors"]),
        ("Les portes se rouvrent sans arrêt au 3e étage", ["doors"]),
        ("L'ascenseur est encore en panne depuis ce matin !", ["breakdown"]),
        ("Lift out of order again, we waited 20 minutes for nothing", ["breakdown", "waiting_time"]),
        ("Bruit de grincement très fort quand la cabine démarre", ["noise"]),
        ("Il y a une marche à la sortie au 2e, ma mère a trébuché", ["leveling"]),
        ("Cabine sale, ça sent l'urine", ["cleanliness"]),
        ("The technician was very polite and quick, thank you", ["staff"]),
        ("Mon voisin est resté coincé 40 minutes dans la cabine", ["entrapment"]),
        ("The car shakes and jerks between floors 4 and 5", ["vibration"]),
        ("Il fait très chaud dans la cabine, la ventilation est en panne", ["breakdown", "temperature"]),
        ("Nice hotel lobby, everything fine today", []),
    ],
)
def test_topics_in_english_and_french(text: str, expected: list[str]) -> None:
    assert topics(text) == expected


def _form(**overrides: str) -> dict[str, str]:
    form = {"text": "The doors keep reopening", "submission_id": service.new_submission_id()}
    form.update(overrides)
    return form


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"website": "http://spam.example"}, "could not be accepted"),
        ({"text": "  a "}, "at least 3"),
        ({"text": "x" * 2001}, "under 2000 characters (it has 2001)"),
        ({"category": "weather"}, "category from the list"),
        ({"rating": "6"}, "from 1 to 5"),
        ({"rating": "-1"}, "from 1 to 5"),
        ({"submission_id": "short"}, "reload the page"),
        ({"contact": "c" * 201}, "under 200"),
    ],
)
def test_bad_forms_are_refused_with_a_reason(app: Flask, overrides: dict[str, str], message: str) -> None:
    with (
        app.test_request_context(headers={"Accept-Language": "en"}),
        pytest.raises(Refused) as exc,
    ):
        service.parse_form(_form(**overrides), resident=True)
    assert message in str(exc.value.message)


def test_every_problem_of_a_form_is_named_at_once(app: Flask) -> None:
    with (
        app.test_request_context(headers={"Accept-Language": "en"}),
        pytest.raises(Refused) as exc,
    ):
        service.parse_form(_form(text="a", rating="9", category="weather"), resident=True)
    assert set(exc.value.errors) == {"text", "rating", "category"}
    for part in ("at least 3", "from 1 to 5", "category from the list"):
        assert part in str(exc.value.message)


def test_accounts_never_leave_a_contact(app: Flask) -> None:
    with app.test_request_context():
        data = service.parse_form(
            _form(contact="me@example.com", category="doors", rating="4"), resident=False
        )
    assert data.contact is None
    assert data.rating == 4


def _asset(app: Flask, mqtt_id: str) -> Asset:
    with app.extensions["fleet.db"].session() as s:
        asset = s.scalars(select(Asset).where(Asset.mqtt_id == mqtt_id)).one()
        s.expunge(asset)
        return asset


def _fresh_submission(client: FlaskClient, page: str) -> str:
    found = SUBMISSION.search(client.get(page).get_data(as_text=True))
    assert found, f"no feedback form on {page}"
    return found.group(1)


def _post(client: FlaskClient, asset: Asset, text: str, **extra: str) -> tuple[int, int | None]:
    sub = _fresh_submission(client, f"/assets/{asset.id}")
    resp = client.post(f"/assets/{asset.id}/feedback", data={"text": text, "submission_id": sub, **extra})
    found = ITEM_URL.search(resp.headers.get("Location", ""))
    return resp.status_code, int(found.group(1)) if found else None


def _count(app: Flask) -> int:
    with app.extensions["fleet.db"].session() as s:
        return s.scalar(select(func.count()).select_from(Feedback)) or 0


def test_feedback_is_seen_by_its_customer_and_staff_only(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    fm = login("fm.habitat@demo.example")
    tilleuls = _asset(app, "ELV-0301")
    status, item_id = _post(fm, tilleuls, "Les portes se rouvrent sans arrêt", category="doors", rating="2")
    assert status == 302
    assert item_id is not None
    page = fm.get(f"/feedback/{item_id}").get_data(as_text=True)
    assert "Les portes se rouvrent" in page
    assert 'data-topic="doors"' in page
    assert login("staff@demo.example").get(f"/feedback/{item_id}").status_code == 200
    assert login("hoa.tilleuls@demo.example").get(f"/feedback/{item_id}").status_code == 200
    assert login("hoa.belvedere@demo.example").get(f"/feedback/{item_id}").status_code == 404
    assert login("fm@demo.example").get(f"/feedback/{item_id}").status_code == 404  # another customer
    assert login("tech@demo.example").get(f"/feedback/{item_id}").status_code == 404  # not theirs
    other_fm = login("fm@demo.example")
    assert f"/feedback/{item_id}" not in other_fm.get("/feedback").get_data(as_text=True)
    assert item_id not in {i["id"] for i in other_fm.get("/api/v1/feedback").get_json()["items"]}
    assert item_id in {
        i["id"] for i in login("staff@demo.example").get("/api/v1/feedback").get_json()["items"]
    }
    assert other_fm.get(f"/api/v1/feedback/{item_id}").status_code == 404
    api_item = fm.get(f"/api/v1/feedback/{item_id}").get_json()
    assert api_item["tags"] == ["doors"]
    assert api_item["rating"] == 2


def test_same_form_twice_is_stored_once_and_text_is_escaped(
    app: Flask, login: Callable[[str], FlaskClient]
) -> None:
    fm = login("fm.habitat@demo.example")
    asset = _asset(app, "ELV-0301")
    sub = _fresh_submission(fm, f"/assets/{asset.id}")
    text = "<script>alert('x')</script> doors"
    before = _count(app)
    assert (
        fm.post(f"/assets/{asset.id}/feedback", data={"text": text, "submission_id": sub}).status_code == 302
    )
    again = fm.post(f"/assets/{asset.id}/feedback", data={"text": text, "submission_id": sub})
    assert again.status_code == 409
    assert "déjà été reçu" in again.get_data(as_text=True)  # this account reads French
    assert _count(app) == before + 1
    page = fm.get("/feedback").get_data(as_text=True)
    assert "<script>alert" not in page
    assert "&lt;script&gt;" in page


def test_refused_form_keeps_what_was_typed(app: Flask, login: Callable[[str], FlaskClient]) -> None:
    fm = login("fm.habitat@demo.example")
    asset = _asset(app, "ELV-0301")
    sub = _fresh_submission(fm, f"/assets/{asset.id}")
    before = _count(app)
    resp = fm.post(f"/assets/{asset.id}/feedback", data={"text": "Portes " * 400, "submission_id": sub})
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert "Portes Portes" in html  # the text is back in the form
    assert "2000" in html
    assert _count(app) == before
    # and a feedback form on someone else's asset is not found
    other = _asset(app, "ELV-0103")
    assert (
        fm.post(
            f"/assets/{other.id}/feedback", data={"text": "hello there", "submission_id": sub}
        ).status_code
        == 404
    )


def test_resident_sends_follows_and_is_rate_limited(app: Flask) -> None:
    asset = _asset(app, "ELV-0302")
    resident = app.test_client()
    page = f"/r/{asset.public_token}"
    before = _count(app)
    locations = []
    for n in range(3):
        sub = _fresh_submission(resident, page)
        resp = resident.post(f"{page}/feedback", data={"text": f"Bruit fort numéro {n}", "submission_id": sub,
                                                      "contact": "voisin@example.com"})  # fmt: skip
        assert resp.status_code == 302, resp.data
        locations.append(resp.headers["Location"])
    sub = _fresh_submission(resident, page)
    limited = resident.post(f"{page}/feedback", data={"text": "encore du bruit", "submission_id": sub})
    assert limited.status_code == 429
    assert "encore du bruit" in limited.get_data(as_text=True)  # nothing typed is lost
    assert _count(app) == before + 3
    # the reader link shows the item and its answers, and only on this asset
    reader_page = resident.get(locations[0])
    assert reader_page.status_code == 200
    assert "Bruit fort numéro 0" in reader_page.get_data(as_text=True)
    reader = locations[0].rsplit("/", 1)[1]
    other = _asset(app, "ELV-0301")
    assert resident.get(f"/r/{other.public_token}/feedback/{reader}").status_code == 404
    assert resident.get(f"{page}/feedback/{'x' * 32}").status_code == 404
    assert resident.post(locations[0], data={"body": "Merci de me rappeler"}).status_code == 302
    assert "Merci de me rappeler" in resident.get(locations[0]).get_data(as_text=True)
    for n in range(4):  # five replies an hour through the link, then a clear refusal
        assert resident.post(locations[0], data={"body": f"Relance {n}"}).status_code == 302
    refused = resident.post(locations[0], data={"body": "Encore une relance"})
    assert refused.status_code == 429
    assert "Encore une relance" in refused.get_data(as_text=True)  # what was typed is kept
    bot = {"text": "buy now", "website": "x", "submission_id": service.new_submission_id()}
    honeypot = resident.post(f"{page}/feedback", data=bot)
    assert honeypot.status_code == 400


def test_handling_status_owner_and_replies(app: Flask, login: Callable[[str], FlaskClient]) -> None:
    fm = login("fm.habitat@demo.example")
    asset = _asset(app, "ELV-0301")
    _, item_id = _post(fm, asset, "La cabine est sale depuis une semaine")
    staff = login("staff@demo.example")
    hoa = login("hoa.tilleuls@demo.example")
    assert hoa.post(f"/feedback/{item_id}/status", data={"status": "acknowledged"}).status_code == 403
    assert staff.post(f"/feedback/{item_id}/status", data={"status": "acknowledged"}).status_code == 302
    back = staff.post(f"/feedback/{item_id}/status", data={"status": "new"})
    assert back.status_code == 409
    assert fm.post(f"/feedback/{item_id}/status", data={"status": "bogus"}).status_code == 400
    assert fm.post(f"/feedback/{item_id}/owner", data={"owner_id": "1"}).status_code == 403
    with app.extensions["fleet.db"].session() as s:
        staff_id = next(u.id for u in service.staff_members(s))
        fm_id = s.scalar(select(Feedback.author_id).where(Feedback.id == item_id))
    assert staff.post(f"/feedback/{item_id}/owner", data={"owner_id": str(fm_id)}).status_code == 400
    assert staff.post(f"/feedback/{item_id}/owner", data={"owner_id": str(staff_id)}).status_code == 302
    assert (
        staff.post(f"/feedback/{item_id}/reply", data={"body": "Nettoyage prévu demain."}).status_code == 302
    )
    assert staff.post(f"/feedback/{item_id}/reply", data={"body": "   "}).status_code == 400
    assert staff.post(f"/feedback/{item_id}/status", data={"status": "resolved"}).status_code == 302
    assert (
        staff.post(f"/feedback/{item_id}/status", data={"status": "in_progress"}).status_code == 302
    )  # reopen
    with app.extensions["fleet.db"].session() as s:
        item = s.get(Feedback, item_id)
        assert item is not None
        assert item.status is FeedbackStatus.IN_PROGRESS
        assert item.owner_id == staff_id
        assert item.resolved_at is None
        assert [r.body for r in item.replies] == ["Nettoyage prévu demain."]
    mine = staff.get("/feedback?owner=me").get_data(as_text=True)
    assert f"/feedback/{item_id}" in mine
    assert staff.get("/feedback?status=bogus").status_code == 400


def test_unread_counts_follow_activity(app: Flask, login: Callable[[str], FlaskClient]) -> None:
    fm = login("fm.habitat@demo.example")
    asset = _asset(app, "ELV-0303")
    staff = login("staff@demo.example")
    _, item_id = _post(fm, asset, "Le voyant d'étage ne s'allume plus")
    hoa = login("hoa.tilleuls@demo.example")
    assert item_id in _unread(app, hoa)
    assert item_id in _unread(app, staff)
    portfolio = staff.get(f"/portfolio?site={asset.site_id}").get_data(as_text=True)
    row = re.search(rf'data-live-feedback="{asset.id}"[^>]*>(\d+)<', portfolio)
    assert row is not None
    assert int(row.group(1)) >= 1
    hoa.get(f"/feedback/{item_id}")
    assert item_id not in _unread(app, hoa)
    assert item_id not in _unread(app, fm)  # the author has seen their own item
    hoa.post(f"/feedback/{item_id}/reply", data={"body": "Un technicien passe jeudi."})
    assert item_id in _unread(app, fm)  # a reply makes it unread for the others
    assert item_id not in _unread(app, hoa)


def _unread(app: Flask, client: FlaskClient) -> set[int]:
    html = client.get("/feedback?unread=1").get_data(as_text=True)
    return {int(i) for i in re.findall(r'data-feedback-id="(\d+)"', html)}


def test_item_shows_outages_around_it(app: Flask, login: Callable[[str], FlaskClient]) -> None:
    asset = _asset(app, "ELV-0402")
    now = utcnow()
    with app.extensions["fleet.db"].session() as s:
        start = now - timedelta(hours=30)
        s.add(
            Outage(
                asset_id=asset.id,
                started_at=start,
                ended_at=start + timedelta(hours=3),
                fault_code="door_lock",
            )
        )
        s.commit()
    fm = login("fm.habitat@demo.example")
    _, item_id = _post(fm, asset, "The doors keep reopening since yesterday", category="doors")
    html = login("staff@demo.example").get(f"/feedback/{item_id}").get_data(as_text=True)
    assert "door lock" in html
    assert 'data-signal="door_reopenings"' in html


def test_demo_has_feedback_from_every_kind_of_author(login: Callable[[str], FlaskClient]) -> None:
    items = login("staff@demo.example").get("/api/v1/feedback").get_json()["items"]
    groups = {i["author_group"] for i in items}
    assert {"resident", "hoa_president", "facility_manager", "field_technician"} <= groups
    assert {"new", "acknowledged", "in_progress", "resolved"} <= {i["status"] for i in items}
    hoa_items = login("hoa.tilleuls@demo.example").get("/api/v1/feedback").get_json()["items"]
    assert hoa_items
    assert all(i["site_id"] == hoa_items[0]["site_id"] for i in hoa_items)  # their building only


def test_live_feedback_counters_only_for_those_who_read_others_feedback(
    login: Callable[[str], FlaskClient],
) -> None:
    assert "data-live-feedback=" not in login("tech@demo.example").get("/portfolio").get_data(as_text=True)
    assert 'data-live-count="feedback-unread"' not in login("tech@demo.example").get("/work").get_data(
        as_text=True
    )
    assert "data-live-feedback=" in login("fm@demo.example").get("/portfolio").get_data(as_text=True)
