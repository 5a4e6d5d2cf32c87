"""Who is told what, on which channel: preferences, the quiet period, the notification centre.

No Flask here: the worker process (``python -m portal.worker``) calls these functions
with a session. Texts are written in each recipient's language with the portal's
message catalogues (:func:`translator`).

Preferences: each user chooses, per event type and channel (portal, e-mail), whether it
reaches them; without a choice, the defaults of their stakeholder group apply
(:data:`DEFAULTS`). A channel switched off for an event is never used for it.

Quiet period: repeats of the same story (an elevator that goes down and up again, three
visits planned the same day in one building) within ``quiet`` of the last update are
grouped into one entry whose count and text are updated; no second e-mail is sent for
them. If the first e-mail has not left yet, it is rewritten to tell the latest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from babel.support import NullTranslations, Translations
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from config import ROOT
from fleet.models import (
    Channel,
    EventType,
    Notification,
    NotificationPreference,
    OutboxEmail,
    Site,
    StakeholderGroup,
    User,
)
from portal.access import Scope

logger = logging.getLogger(__name__)

_F, _H, _T, _S = (
    StakeholderGroup.FACILITY_MANAGER,
    StakeholderGroup.HOA_PRESIDENT,
    StakeholderGroup.FIELD_TECHNICIAN,
    StakeholderGroup.VENDOR_STAFF,
)
P, E = Channel.PORTAL, Channel.EMAIL
# (event, group) -> channels on by default
DEFAULTS: dict[tuple[EventType, StakeholderGroup], frozenset[Channel]] = {
    (EventType.OUTAGE_OPENED, _F): frozenset({P, E}),
    (EventType.OUTAGE_OPENED, _H): frozenset({P, E}),
    (EventType.OUTAGE_OPENED, _T): frozenset({P}),
    (EventType.OUTAGE_OPENED, _S): frozenset({P}),
    (EventType.OUTAGE_CLOSED, _F): frozenset({P, E}),
    (EventType.OUTAGE_CLOSED, _H): frozenset({P, E}),
    (EventType.OUTAGE_CLOSED, _T): frozenset({P}),
    (EventType.OUTAGE_CLOSED, _S): frozenset({P}),
    (EventType.VISIT_SCHEDULED, _F): frozenset({P}),
    (EventType.VISIT_SCHEDULED, _H): frozenset({P, E}),
    (EventType.REPORT_AVAILABLE, _F): frozenset({P, E}),
    (EventType.REPORT_AVAILABLE, _H): frozenset({P, E}),
    (EventType.FEEDBACK_REPLY, _F): frozenset({P, E}),
    (EventType.FEEDBACK_REPLY, _H): frozenset({P, E}),
    (EventType.FEEDBACK_REPLY, _T): frozenset({P}),
    (EventType.FEEDBACK_REPLY, _S): frozenset({P}),
    (EventType.MEET_REQUEST, _T): frozenset({P, E}),
    # e-mail with the PDF only for those who choose it
    (EventType.MONTHLY_REPORT, _F): frozenset({P}),
    (EventType.MONTHLY_REPORT, _H): frozenset({P}),
    (EventType.SENSOR_WARNING, _T): frozenset({P}),
    (EventType.SENSOR_WARNING, _S): frozenset({P}),
}
# the events each group can be told about (the preferences page shows these)
EVENTS_FOR: dict[StakeholderGroup, tuple[EventType, ...]] = {
    g: tuple(e for e in EventType if (e, g) in DEFAULTS) for g in StakeholderGroup
}


def N_(message: str) -> str:  # noqa: N802 - the extraction keyword pybabel knows
    """Mark a message for translation; it is translated when a notification is written."""
    return message


@lru_cache(maxsize=8)
def _translations(locale: str) -> NullTranslations:
    return Translations.load(str(ROOT / "translations"), [locale])


def translator(locale: str) -> Callable[..., str]:
    """``t(message, **values)`` in ``locale``, from the portal's catalogues."""
    catalogue = _translations(locale if locale in ("en", "fr") else "en")

    def t(message: str, **values: object) -> str:
        text = catalogue.gettext(message)
        return text % values if values else text

    return t


# --- preferences ------------------------------------------------------------------------------
def preferences(session: Session, user: User) -> dict[tuple[EventType, Channel], bool]:
    """The user's effective choices: their own where set, else their group's defaults."""
    out = {
        (event, channel): channel in DEFAULTS.get((event, user.group), frozenset())
        for event in EVENTS_FOR[user.group]
        for channel in Channel
    }
    for pref in session.scalars(
        select(NotificationPreference).where(NotificationPreference.user_id == user.id)
    ):
        if (pref.event, pref.channel) in out:
            out[(pref.event, pref.channel)] = pref.enabled
    return out


def save_preferences(session: Session, user: User, form: Mapping[str, str]) -> None:
    """Store the preferences form: a checkbox ``<event>:<channel>`` per choice (absent = off)."""
    existing = {
        (p.event, p.channel): p
        for p in session.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id == user.id)
        )
    }
    for event in EVENTS_FOR[user.group]:
        for channel in Channel:
            enabled = form.get(f"{event.value}:{channel.value}") == "1"
            row = existing.get((event, channel))
            if row is None:
                session.add(
                    NotificationPreference(user_id=user.id, event=event, channel=channel, enabled=enabled)
                )
            else:
                row.enabled = enabled
    session.flush()


# --- writing notifications -------------------------------------------------------------------------
@dataclass(frozen=True)
class Message:
    """One event told to one user, in their language."""

    event: EventType
    group_key: str
    title: str
    body: str
    link: str | None


def notify(
    session: Session,
    user: User,
    message: Message,
    now: datetime,
    *,
    quiet: timedelta,
    grouped_title: Callable[[int], str] | None = None,
    prefs: Mapping[tuple[EventType, Channel], bool] | None = None,
    base_url: str = "",
) -> Notification | None:
    """Tell ``user`` (portal and/or e-mail per their preferences); group repeats within ``quiet``.

    ``grouped_title(count)`` words an entry that stands for several events. Links are
    stored as paths; e-mails get them absolute, on ``base_url``."""
    if not user.is_active:
        return None
    prefs = prefs if prefs is not None else preferences(session, user)
    portal = prefs.get((message.event, Channel.PORTAL), False)
    email = prefs.get((message.event, Channel.EMAIL), False)
    if not portal and not email:
        return None
    recent = session.scalar(
        select(Notification)
        .where(
            Notification.user_id == user.id,
            Notification.group_key == message.group_key,
            Notification.updated_at >= now - quiet,
        )
        .order_by(Notification.updated_at.desc())
        .limit(1)
    )
    if recent is not None:
        recent.count += 1
        recent.event = message.event
        recent.title = grouped_title(recent.count) if grouped_title else message.title
        recent.body = message.body
        recent.link = message.link or recent.link
        recent.updated_at = now
        recent.read_at = None
        recent.in_portal = recent.in_portal or portal
        session.execute(  # not yet sent: tell the latest; already sent: stay quiet
            update(OutboxEmail)
            .where(OutboxEmail.notification_id == recent.id, OutboxEmail.sent_at.is_(None))
            .values(subject=recent.title, body=_email_body(recent.body, recent.link, base_url))
        )
        session.flush()
        return recent
    item = Notification(
        user_id=user.id, event=message.event, group_key=message.group_key, title=message.title,
        body=message.body, link=message.link, created_at=now, updated_at=now, in_portal=portal,
    )  # fmt: skip
    session.add(item)
    session.flush()
    if email and user.email:
        session.add(
            OutboxEmail(
                notification_id=item.id, to_address=user.email, subject=message.title,
                body=_email_body(message.body, message.link, base_url), created_at=now, next_attempt_at=now,
            )
        )  # fmt: skip
        session.flush()
    return item


def _email_body(body: str, link: str | None, base_url: str) -> str:
    return body + (f"\n\n{base_url}{link}" if link else "")


def notify_many(
    session: Session,
    users: Iterable[User],
    build: Callable[[User], Message],
    now: datetime,
    *,
    quiet: timedelta,
    grouped_title: Callable[[User, int], str] | None = None,
    base_url: str = "",
) -> int:
    """:func:`notify` each user with a message built in their language; returns how many were told."""
    told = 0
    for user in users:
        titled = (lambda n, u=user: grouped_title(u, n)) if grouped_title else None
        if (
            notify(session, user, build(user), now, quiet=quiet, grouped_title=titled, base_url=base_url)
            is not None
        ):
            told += 1
    return told


# --- the notification centre --------------------------------------------------------------------------
def centre(session: Session, user: User, limit: int = 100) -> list[Notification]:
    """The user's notifications, latest activity first."""
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.user_id == user.id, Notification.in_portal.is_(True))
            .order_by(Notification.updated_at.desc())
            .limit(limit)
        )
    )


def home_timezone(session: Session, scope: Scope) -> str:
    """The time zone the user's notifications are shown in: the one most of the sites in
    their scope share (UTC when they see none), like every other time in the portal."""
    zones = session.execute(
        select(Site.timezone, func.count(Site.id))
        .where(scope.site_filter())
        .group_by(Site.timezone)
        .order_by(func.count(Site.id).desc(), Site.timezone)
        .limit(1)
    ).first()
    return zones[0] if zones else "UTC"


def unread_count(session: Session, user: User) -> int:
    """Unread notifications (the header badge)."""
    return int(
        session.scalar(
            select(func.count(Notification.id)).where(
                Notification.user_id == user.id,
                Notification.in_portal.is_(True),
                Notification.read_at.is_(None),
            )
        )
        or 0
    )


def mark_all_read(session: Session, user: User, now: datetime) -> int:
    """Mark every notification read; returns how many changed."""
    result = session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
