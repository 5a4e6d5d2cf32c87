"""Notifications: who is told, preferences per event and channel, the quiet period, telling
once, and e-mail delivered to a real local SMTP server (aiosmtpd) with retries."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from devstack.mailcatcher import MailCatcher
from devstack.servers import free_port
from fleet.db import Database
from fleet.models import (
    Audience,
    Channel,
    EventType,
    Feedback,
    FeedbackReply,
    Notification,
    Outage,
    OutboxEmail,
    User,
    Visit,
    VisitKind,
    VisitStatus,
)
from portal.notifications import service
from portal.notifications.events import NotifierSettings, tell_due
from portal.notifications.outbox import SmtpSettings, backoff, send_due
from tests.portal.world import World, build_world

NOW = datetime(2026, 4, 2, 10, 0, tzinfo=UTC)
SETTINGS = NotifierSettings(public_url="https://portal.example")


@pytest.fixture
def world(db: Database) -> Iterator[tuple[Session, World]]:
    with db.session() as session:
        yield session, build_world(session)


def _notes(session: Session, user_id: int) -> list[Notification]:
    stmt = select(Notification).where(Notification.user_id == user_id).order_by(Notification.id)
    return list(session.scalars(stmt))


def _emails(session: Session, to: str | None = None) -> list[OutboxEmail]:
    stmt = select(OutboxEmail).order_by(OutboxEmail.id)
    if to:
        stmt = stmt.where(OutboxEmail.to_address == to)
    return list(session.scalars(stmt))


def _outage(session: Session, asset_id: int, start: datetime, end: datetime | None = None) -> Outage:
    outage = Outage(asset_id=asset_id, started_at=start, ended_at=end, fault_code="door_lock")
    session.add(outage)
    session.flush()
    return outage


def test_an_outage_tells_the_people_of_its_site_once(world: tuple[Session, World]) -> None:
    session, w = world
    outage = _outage(session, w.asset_a, NOW - timedelta(minutes=3))
    assert tell_due(session, NOW, SETTINGS) == 4  # fm A, hoa A, tech A, staff; nobody of customer B
    for user_id in (w.fm_a, w.hoa_a, w.tech_a, w.staff):
        (note,) = _notes(session, user_id)
        assert note.event is EventType.OUTAGE_OPENED
        assert note.title == "Elevator 1 at Site A is out of service"
        assert note.link == f"/outages/{outage.id}"
    assert _notes(session, w.fm_b) == []
    # e-mail per the groups' defaults: facility managers and HOA presidents, not staff or technicians
    assert {e.to_address for e in _emails(session)} == {"fm.a@test.example", "hoa.a@test.example"}
    assert all(e.body.endswith(f"\n\nhttps://portal.example/outages/{outage.id}") for e in _emails(session))
    assert tell_due(session, NOW + timedelta(minutes=1), SETTINGS) == 0  # told once
    outage.ended_at = NOW + timedelta(hours=2)
    assert tell_due(session, NOW + timedelta(hours=2, minutes=1), SETTINGS) == 4
    (_, closed) = _notes(session, w.hoa_a)
    assert (closed.event, closed.body) == (EventType.OUTAGE_CLOSED, "It was out of service for 2 h 03.")


def test_texts_are_in_the_recipients_language(world: tuple[Session, World]) -> None:
    session, w = world
    hoa = session.get(User, w.hoa_a)
    assert hoa is not None
    hoa.locale = "fr"
    _outage(session, w.asset_a, NOW - timedelta(minutes=3))
    tell_due(session, NOW, SETTINGS)
    (note,) = _notes(session, w.hoa_a)
    assert note.title == "Elevator 1 à Site A est hors service"
    assert "2 avr." in note.body


def test_preferences_per_event_and_channel_are_honoured(world: tuple[Session, World]) -> None:
    session, w = world
    hoa, fm = session.get(User, w.hoa_a), session.get(User, w.fm_a)
    assert hoa is not None
    assert fm is not None
    prefs = service.preferences(session, hoa)
    assert prefs[(EventType.OUTAGE_OPENED, Channel.EMAIL)] is True  # the group's default
    assert (EventType.MEET_REQUEST, Channel.PORTAL) not in prefs  # not an HOA president's event
    # HOA: portal only for outages; FM: nothing at all for outage openings
    service.save_preferences(session, hoa, {"outage_opened:portal": "1", "outage_closed:portal": "1"})
    service.save_preferences(session, fm, {"outage_closed:email": "1"})
    assert service.preferences(session, hoa)[(EventType.OUTAGE_OPENED, Channel.EMAIL)] is False
    outage = _outage(session, w.asset_a, NOW - timedelta(minutes=1))
    tell_due(session, NOW, SETTINGS)
    assert [n.event for n in _notes(session, w.hoa_a)] == [EventType.OUTAGE_OPENED]
    assert _notes(session, w.fm_a) == []
    assert _emails(session) == []
    outage.ended_at = NOW + timedelta(minutes=30)
    tell_due(session, NOW + timedelta(minutes=31), SETTINGS)
    (closed,) = _notes(session, w.fm_a)
    assert closed.in_portal is False  # e-mail only: not in the centre
    assert service.centre(session, fm) == []
    assert [e.subject for e in _emails(session)] == ["Elevator 1 at Site A is back in service"]


def test_a_flapping_elevator_is_grouped_in_the_quiet_period(world: tuple[Session, World]) -> None:
    session, w = world
    t = NOW
    for minutes in (0, 4, 8):  # down, up, down, up, down, up within 12 minutes
        _outage(session, w.asset_a, t + timedelta(minutes=minutes), t + timedelta(minutes=minutes + 2))
    for minutes in range(0, 13):
        tell_due(session, t + timedelta(minutes=minutes), SETTINGS)
    (note,) = _notes(session, w.hoa_a)
    assert note.count == 6
    assert note.title == "Elevator 1 at Site A: 6 changes of status"
    assert note.read_at is None
    (email,) = _emails(session, "hoa.a@test.example")
    assert email.subject == note.title  # not sent yet: it tells the latest
    # after the quiet period, a new story starts
    _outage(session, w.asset_a, t + timedelta(minutes=40))
    tell_due(session, t + timedelta(minutes=40), SETTINGS)
    assert [n.count for n in _notes(session, w.hoa_a)] == [6, 1]
    assert len(_emails(session, "hoa.a@test.example")) == 2


def test_a_sent_email_is_not_followed_by_repeats(world: tuple[Session, World]) -> None:
    session, w = world
    outage = _outage(session, w.asset_a, NOW)
    tell_due(session, NOW, SETTINGS)
    for email in _emails(session):
        email.sent_at = NOW
    outage.ended_at = NOW + timedelta(minutes=1)
    tell_due(session, NOW + timedelta(minutes=2), SETTINGS)  # the closing, within the quiet period
    assert [e.subject for e in _emails(session, "hoa.a@test.example")] == [
        "Elevator 1 at Site A is out of service"
    ]
    assert _notes(session, w.hoa_a)[0].count == 2


def test_stale_events_are_not_told(world: tuple[Session, World]) -> None:
    session, w = world
    old = _outage(session, w.asset_a, NOW - timedelta(days=3), NOW - timedelta(days=2))
    assert tell_due(session, NOW, SETTINGS) == 0
    assert (old.opened_notified_at, old.closed_notified_at) == (NOW, NOW)


def test_visits_reports_replies_and_meet_requests(world: tuple[Session, World]) -> None:
    session, w = world

    def visit(start: datetime, **kw: object) -> Visit:
        v = Visit(
            asset_id=w.asset_a,
            kind=VisitKind.PREVENTIVE,
            summary="Monthly check",
            scheduled_start=start,
            scheduled_end=start + timedelta(hours=2),
            technician_id=w.tech_a,
            **kw,
        )
        session.add(v)
        session.flush()
        return v

    far = visit(NOW + timedelta(days=20), status=VisitStatus.SCHEDULED)
    soon = visit(NOW + timedelta(days=3), status=VisitStatus.SCHEDULED)
    tell_due(session, NOW, SETTINGS)
    (planned,) = _notes(session, w.hoa_a)
    assert planned.event is EventType.VISIT_SCHEDULED
    assert "Elevator 1, Sunday 5 April between 12:00 and 14:00: Monthly check." in planned.body
    assert "ask to meet the technician" in planned.body
    assert far.scheduled_notified_at is None  # announced when it comes within two weeks
    assert soon.scheduled_notified_at == NOW
    # the HOA president asks to meet the technician: the technician is told, once
    soon.meet_requested_by, soon.meet_requested_at, soon.meet_note = w.hoa_a, NOW, "Code 1234"
    tell_due(session, NOW + timedelta(minutes=1), SETTINGS)
    tell_due(session, NOW + timedelta(minutes=2), SETTINGS)
    (meet,) = _notes(session, w.tech_a)
    assert (meet.event, meet.title) == (EventType.MEET_REQUEST, "hoa.a would like to meet you at Site A")
    assert "Code 1234" in meet.body
    # the report of a finished visit
    done = visit(
        NOW - timedelta(hours=3),
        status=VisitStatus.COMPLETED,
        checked_in_at=NOW - timedelta(hours=3),
        checked_out_at=NOW - timedelta(hours=1),
        report="Door rollers replaced",
    )
    tell_due(session, NOW + timedelta(minutes=3), SETTINGS)
    assert _notes(session, w.fm_a)[-1].title == "Visit report for Elevator 1 at Site A"
    assert done.report_notified_at is not None
    # a reply to my feedback, but not my own reply
    item = Feedback(
        site_id=w.site_a,
        asset_id=w.asset_a,
        author_id=w.hoa_a,
        author_group=Audience.HOA_PRESIDENT,
        text="Noisy doors",
        submission_id="n" * 32,
    )
    session.add(item)
    session.flush()
    session.add_all(
        [
            FeedbackReply(
                feedback_id=item.id,
                author_id=w.hoa_a,
                author_group=Audience.HOA_PRESIDENT,
                body="Any news?",
                created_at=NOW,
            ),
            FeedbackReply(
                feedback_id=item.id,
                author_id=w.staff,
                author_group=Audience.VENDOR_STAFF,
                body="A technician comes on Sunday.",
                created_at=NOW,
            ),
        ]
    )
    session.flush()
    tell_due(session, NOW + timedelta(minutes=4), SETTINGS)
    replies = [n for n in _notes(session, w.hoa_a) if n.event is EventType.FEEDBACK_REPLY]
    assert [(n.count, n.body) for n in replies] == [(1, "A technician comes on Sunday.")]


def test_centre_and_preferences_pages(login: Callable[[str], FlaskClient], app: Flask) -> None:
    client = login("hoa.montroyal@demo.example")
    page = client.get("/notifications/preferences")
    assert page.status_code == 200
    assert b'name="outage_opened:email"' in page.data
    assert b'name="meet_request:portal"' not in page.data
    assert client.post("/notifications/preferences", data={"visit_scheduled:portal": "1"}).status_code == 302
    assert client.post("/notifications/read").status_code == 302  # the demo told them of a report
    with app.app_context(), app.extensions["fleet.db"].session() as s:
        user = s.scalars(select(User).where(User.email == "hoa.montroyal@demo.example")).one()
        prefs = service.preferences(s, user)
        assert [k for k, on in prefs.items() if on] == [(EventType.VISIT_SCHEDULED, Channel.PORTAL)]
        s.add(
            Notification(
                user_id=user.id,
                event=EventType.VISIT_SCHEDULED,
                group_key="x",
                title="<b>Visit</b>",
                body="Tuesday",
                created_at=NOW,
                updated_at=NOW,
            )
        )
    centre = client.get("/notifications")
    assert b"&lt;b&gt;Visit&lt;/b&gt;" in centre.data
    # in the building's time zone (Montréal, UTC-4 in April), like every other time in the portal
    assert ">2 avr. 2026, 06:00</time>" in centre.get_data(as_text=True)  # a French-speaking account
    assert "10:00</time>" not in centre.get_data(as_text=True)
    assert b'<span class="badge">1</span>' in client.get("/").data
    assert client.post("/notifications/read").status_code == 302
    assert b'<span class="badge" hidden>0</span>' in client.get("/").data


# --- e-mail over SMTP ------------------------------------------------------------------------------
@pytest.fixture
def outbox_db(db: Database) -> Database:
    with db.session() as session:
        for n in range(3):
            session.add(
                OutboxEmail(
                    to_address=f"person{n}@test.example",
                    subject=f"Subject {n}",
                    body="Hello",
                    created_at=NOW,
                    next_attempt_at=NOW,
                )
            )
    return db


def test_emails_reach_a_real_smtp_server(outbox_db: Database) -> None:
    catcher = MailCatcher(free_port()).start()
    try:
        smtp = SmtpSettings(host="127.0.0.1", port=catcher.port, sender="Portal <portal@test.example>")
        assert send_due(outbox_db.sessionmaker, smtp, NOW) == (3, 0)
        assert send_due(outbox_db.sessionmaker, smtp, NOW + timedelta(minutes=1)) == (0, 0)  # nothing twice
    finally:
        catcher.stop()
    assert sorted(m["To"] for m in catcher.messages) == [f"person{n}@test.example" for n in range(3)]
    assert {m["From"] for m in catcher.messages} == {"Portal <portal@test.example>"}
    assert catcher.messages[0].get_payload().strip() == "Hello"  # type: ignore[union-attr]


def test_emails_are_retried_until_the_server_answers(outbox_db: Database) -> None:
    port = free_port()
    smtp = SmtpSettings(host="127.0.0.1", port=port, timeout_s=2, max_attempts=3)
    assert send_due(outbox_db.sessionmaker, smtp, NOW) == (0, 3)  # nobody listens
    with outbox_db.session() as s:
        first = s.scalars(select(OutboxEmail).order_by(OutboxEmail.id)).first()
        assert first is not None
        assert (first.attempts, first.next_attempt_at, first.sent_at) == (1, NOW + backoff(1), None)
        assert first.last_error
    catcher = MailCatcher(port).start()
    try:
        assert send_due(outbox_db.sessionmaker, smtp, NOW + timedelta(seconds=30)) == (0, 0)  # not due yet
        assert send_due(outbox_db.sessionmaker, smtp, NOW + timedelta(minutes=1)) == (3, 0)
    finally:
        catcher.stop()
    assert len(catcher.messages) == 3
    with outbox_db.session() as s:
        assert all(e.sent_at is not None and e.attempts == 2 for e in s.scalars(select(OutboxEmail)))


def test_an_email_is_given_up_after_the_last_attempt(outbox_db: Database) -> None:
    smtp = SmtpSettings(host="127.0.0.1", port=free_port(), timeout_s=2, max_attempts=2)
    send_due(outbox_db.sessionmaker, smtp, NOW)
    send_due(outbox_db.sessionmaker, smtp, NOW + timedelta(hours=1))
    with outbox_db.session() as s:
        emails = list(s.scalars(select(OutboxEmail)))
        assert all(e.failed_at == NOW + timedelta(hours=1) and e.sent_at is None for e in emails)
    assert send_due(outbox_db.sessionmaker, smtp, NOW + timedelta(days=1)) == (0, 0)  # kept, not retried
    assert [backoff(n).total_seconds() / 60 for n in (1, 2, 3, 7, 12)] == [1, 2, 4, 60, 60]
