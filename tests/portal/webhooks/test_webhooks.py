"""Webhooks, delivered to a local receiver that verifies each signature with the
``standardwebhooks`` library, drops replays by ``webhook-id`` and records the order: events
of the customer reach its endpoints signed and in order; failures are retried with back-off
without letting later messages overtake; a delivery is given up after its last attempt; an
endpoint that keeps failing is paused and its owner told; the pages keep to the scope."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from devstack.servers import free_port
from fleet.db import utcnow
from fleet.models import Asset, Customer, Outage, OutboxEmail, Site, User, WebhookDelivery, WebhookEndpoint
from portal.feedback.service import new_submission_id
from portal.notifications.events import NotifierSettings, tell_due
from portal.webhooks.service import DeliveryRules, deliver_due, http_sender

EN = {"Accept-Language": "en"}
HOUR = timedelta(hours=1)


class Receiver:
    """A customer's system: verifies signatures, ignores replays, answers 500 while ``failing``."""

    def __init__(self) -> None:
        self.secret = ""
        self.failing = 0
        self.received: list[dict[str, Any]] = []
        self.seen: set[str] = set()
        self.refused = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.failing:
                    receiver.failing -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                try:
                    payload = Webhook(receiver.secret).verify(body, dict(self.headers.items()))
                except WebhookVerificationError:
                    receiver.refused += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                if self.headers["webhook-id"] not in receiver.seen:  # a replay is acknowledged, not applied
                    receiver.seen.add(self.headers["webhook-id"])
                    receiver.received.append(payload)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def _no_endpoints_of_earlier_tests(app: Flask) -> None:
    """Each test starts with no active endpoint (the app and its database live for the module)."""
    with app.extensions["fleet.db"].session() as s:
        s.execute(update(WebhookEndpoint).values(disabled_at=utcnow()))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _customer_of(app: Flask, email: str) -> int:
    with app.extensions["fleet.db"].sessionmaker() as s:
        return s.scalars(select(User.customer_id).where(User.email == email)).one()  # type: ignore[return-value]


def _register(client: FlaskClient, customer_id: int, url: str, events: list[str]) -> tuple[int, str]:
    page = client.post(
        "/webhooks", data={"customer_id": str(customer_id), "url": url, "events": events}, headers=EN
    )
    assert page.status_code == 200, page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    secret = re.search(r'id="webhook-secret">(whsec_[A-Za-z0-9+/=]+)<', html)
    endpoint = re.search(r"/webhooks/(\d+)", html)
    assert secret is not None
    assert endpoint is not None
    return int(endpoint.group(1)), secret.group(1)


def _deliver(app: Flask, at_offset: timedelta = timedelta(0), **rules: Any) -> tuple[int, int]:
    now = utcnow() + at_offset
    return deliver_due(
        app.extensions["fleet.db"].sessionmaker,
        now,
        DeliveryRules(allow_http=True, **rules),
        http_sender(),
        lambda: now,
    )


def test_events_reach_the_endpoint_signed_and_in_order(
    app: Flask, login: Callable[[str], FlaskClient], receiver: Receiver
) -> None:
    manager = login("fm@demo.example")
    customer_id = _customer_of(app, "fm@demo.example")
    _endpoint, receiver.secret = _register(
        manager, customer_id, receiver.url, ["outage.opened", "outage.closed", "feedback.received"]
    )
    with app.extensions["fleet.db"].session() as s:
        unit = s.scalars(
            select(Asset).join(Site).where(Site.customer_id == customer_id).order_by(Asset.id)
        ).first()
        assert unit is not None
        started = utcnow() - timedelta(minutes=5)
        # what the notifier already told before this test (the demo's history)
        s.execute(update(Outage).values(opened_notified_at=started, closed_notified_at=started))
        s.add(Outage(asset_id=unit.id, started_at=started, fault_code="door_lock"))
        s.flush()
        tell_due(s, utcnow(), NotifierSettings())  # the notifier sees the outage open: one webhook
        site_id, unit_id = unit.site_id, unit.id
    sent = manager.post(
        f"/sites/{site_id}/feedback",
        data={
            "category": "noise",
            "text": "The lift hums loudly.",
            "submission_id": new_submission_id(),
            "asset_id": str(unit_id),
        },
    )
    assert sent.status_code in (200, 302, 303), sent.get_data(as_text=True)
    assert _deliver(app) == (2, 0)
    assert receiver.refused == 0
    assert [m["type"] for m in receiver.received] == ["outage.opened", "feedback.received"]
    opened = receiver.received[0]
    assert opened["version"] == 1
    assert opened["data"]["asset"]["id"] == unit_id
    assert opened["data"]["fault"] == "door_lock"
    assert _deliver(app) == (0, 0)  # nothing twice


def test_a_failure_is_retried_later_and_later_messages_wait_their_turn(
    app: Flask, login: Callable[[str], FlaskClient], receiver: Receiver
) -> None:
    customer_id = _customer_of(app, "fm@demo.example")
    endpoint_id, receiver.secret = _register(
        login("fm@demo.example"), customer_id, receiver.url, ["visit.done"]
    )
    from portal.webhooks.service import enqueue

    with app.extensions["fleet.db"].session() as s:
        for n in range(3):
            enqueue(s, customer_id, "visit.done", {"n": n}, utcnow())
    receiver.failing = 1
    assert _deliver(app) == (0, 1)  # the first fails; the two after it must not overtake
    assert receiver.received == []
    assert _deliver(app) == (0, 0)  # not due again yet
    assert _deliver(app, timedelta(seconds=31)) == (3, 0)
    assert [m["data"]["n"] for m in receiver.received] == [0, 1, 2]
    with app.extensions["fleet.db"].sessionmaker() as s:
        first = s.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.id)
        ).first()
        assert first is not None
        assert first.attempts == 2
        assert first.delivered_at is not None


def test_an_endpoint_that_keeps_failing_is_paused_and_its_owner_told(
    app: Flask, login: Callable[[str], FlaskClient], receiver: Receiver
) -> None:
    manager = login("fm@demo.example")
    customer_id = _customer_of(app, "fm@demo.example")
    endpoint_id, receiver.secret = _register(manager, customer_id, receiver.url, ["visit.done"])
    from portal.webhooks.service import enqueue

    with app.extensions["fleet.db"].session() as s:
        enqueue(s, customer_id, "visit.done", {"n": 1}, utcnow())
    receiver.failing = 10
    for attempt in range(3):
        _deliver(app, timedelta(hours=7 * attempt), max_attempts=3, pause_after=5)
    with app.extensions["fleet.db"].sessionmaker() as s:
        delivery = s.scalars(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)).one()
        assert delivery.failed_at is not None  # given up after its third attempt
        assert delivery.last_error == "HTTP 500"
        enqueue_twice = [enqueue(s, customer_id, "visit.done", {"n": n}, utcnow()) for n in (2, 3)]
        s.commit()
    assert enqueue_twice == [1, 1]
    for attempt in range(2):
        _deliver(app, timedelta(hours=7 * attempt), max_attempts=3, pause_after=5)
    with app.extensions["fleet.db"].sessionmaker() as s:
        endpoint = s.get(WebhookEndpoint, endpoint_id)
        assert endpoint is not None
        assert endpoint.paused_at is not None
        told = s.scalars(
            select(OutboxEmail)
            .where(OutboxEmail.to_address == "fm@demo.example")
            .order_by(OutboxEmail.id.desc())
        ).first()
        assert told is not None
        assert receiver.url in told.body
    page = manager.get(f"/webhooks/{endpoint_id}", headers=EN).get_data(as_text=True)
    assert 'data-state="paused"' in page
    assert "HTTP 500" in page
    receiver.failing = 0
    assert manager.post(f"/webhooks/{endpoint_id}/resume").status_code == 302
    assert _deliver(app) == (2, 0)  # what waited, in order
    assert [m["data"]["n"] for m in receiver.received] == [2, 3]


def test_bad_addresses_scope_and_roles_are_refused(app: Flask, login: Callable[[str], FlaskClient]) -> None:
    manager = login("fm@demo.example")
    mine = _customer_of(app, "fm@demo.example")
    with app.extensions["fleet.db"].sessionmaker() as s:
        other = s.scalar(select(Customer.id).where(Customer.id != mine))
    for url in (
        "ftp://x.example/hook",
        "https://user:pw@x.example/hook",
        "http://cmms.example.com/hook",
        "nothing",
    ):
        refused = manager.post(
            "/webhooks", data={"customer_id": str(mine), "url": url, "events": ["visit.done"]}, headers=EN
        )
        assert refused.status_code == 400, url
        assert "Une adresse https://" in refused.get_data(as_text=True)  # a French-speaking manager
    outside = manager.post(
        "/webhooks",
        data={"customer_id": str(other), "url": "https://x.example/h", "events": ["visit.done"]},
        headers=EN,
    )
    assert outside.status_code == 400
    no_events = manager.post(
        "/webhooks", data={"customer_id": str(mine), "url": "https://x.example/h"}, headers=EN
    )
    assert no_events.status_code == 400
    staff_endpoint, _secret = _register(
        login("staff@demo.example"), other, "https://other.example/h", ["visit.done"]
    )
    assert manager.get(f"/webhooks/{staff_endpoint}").status_code == 404  # another customer's: not found
    assert manager.post(f"/webhooks/{staff_endpoint}/remove").status_code == 404
    assert login("hoa.tilleuls@demo.example").get("/webhooks").status_code == 403
    assert login("tech@demo.example").get("/webhooks").status_code == 403


def test_a_sensor_warning_reaches_only_customers_whose_contract_shares_them(
    app: Flask, login: Callable[[str], FlaskClient], receiver: Receiver
) -> None:
    from fleet.models import Signal, WatchItem, WatchSeverity, WatchStatus

    sharing = _customer_of(app, "fm@demo.example")  # Lumière Immobilier: its contract says so
    silent = _customer_of(app, "fm.habitat@demo.example")  # Habitat Rhône-Léman: it does not
    _shared, receiver.secret = _register(
        login("fm@demo.example"), sharing, receiver.url, ["sensor_warning.opened"]
    )
    not_shared, _ = _register(
        login("fm.habitat@demo.example"), silent, receiver.url, ["sensor_warning.opened"]
    )
    now = utcnow()
    with app.extensions["fleet.db"].session() as s:
        s.execute(update(WatchItem).values(notified_at=now))  # what the demo's notifier already told
        for customer_id in (sharing, silent):
            unit = s.scalars(
                select(Asset).join(Site).where(Site.customer_id == customer_id).order_by(Asset.id)
            ).first()
            assert unit is not None
            s.add(WatchItem(
                asset_id=unit.id, signal=Signal.MOTOR_TEMPERATURE, severity=WatchSeverity.MEDIUM,
                status=WatchStatus.OPEN, opened_at=now - timedelta(minutes=2), since=now - 20 * HOUR,
                updated_at=now, baseline=41.0, scale=1.2, level=49.5, peak_level=49.5,
            ))  # fmt: skip
        s.flush()
        tell_due(s, now, NotifierSettings())
    with app.extensions["fleet.db"].session() as s:
        assert s.scalars(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == not_shared)).all() == []
    assert _deliver(app) == (1, 0)
    (message,) = receiver.received
    assert message["type"] == "sensor_warning.opened"
    assert (message["data"]["signal"], message["data"]["severity"]) == ("motor_temperature", "medium")
    assert (message["data"]["usual_level"], message["data"]["level"]) == (41.0, 49.5)
