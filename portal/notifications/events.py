"""The notifier: turns what happened (outages opened and closed, visits planned, reports
written, replies to feedback, meet requests) into notifications, exactly once each.

It reads the records themselves and marks each one when its people were told
(``opened_notified_at``, ``scheduled_notified_at``…), in the same transaction as the
notifications, so the ingester and the portal need no notification hook and a crash
never tells twice. Events older than ``max_age`` are marked without telling anyone (a
portal that was down for a day does not flood inboxes with stale news); visits are
announced when they come within ``visit_notice`` of their day.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_time
from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from fleet.models import (
    Asset,
    EventType,
    Feedback,
    FeedbackReply,
    Notification,
    Outage,
    Site,
    User,
    Visit,
    VisitStatus,
    WatchItem,
    user_sites,
)
from portal import labels
from portal.access import RULES, accounts_who, can
from portal.condition.watch import shared_with_customer
from portal.notifications.service import N_, Message, notify_many, translator
from portal.webhooks import service as webhooks

logger = logging.getLogger(__name__)
OPENED_BODY = N_(
    "Since %(time)s (%(fault)s). The service team has been told; follow the repair on the portal."
)
WARNING_BODY = N_("%(signal)s has moved from its usual level since %(time)s. Plan a check before it fails.")
WARNING_BODY = N_("%(signal)s has moved from its usual level since %(time)s. Plan a check before it fails.")
VISIT_BODY = N_("%(asset)s, %(day)s between %(start)s and %(end)s: %(summary)s.")


@dataclass(frozen=True)
class NotifierSettings:
    """How the notifier behaves (settings ``NOTIFY_*`` and ``PUBLIC_URL``)."""

    public_url: str = "http://127.0.0.1:5000"
    quiet: timedelta = timedelta(minutes=15)
    max_age: timedelta = timedelta(hours=24)
    visit_notice: timedelta = timedelta(days=14)


def people_of_site(session: Session, site: Site, rule: str) -> list[User]:
    """Active accounts that ``rule`` allows and whose scope includes ``site`` (vendor staff: every site)."""
    listed = select(user_sites.c.user_id).where(user_sites.c.site_id == site.id)
    has_list = exists(select(user_sites.c.user_id).where(user_sites.c.user_id == User.id))
    stmt = select(User).where(
        accounts_who(rule),
        or_(
            User.group.in_(RULES["see_every_customer"]),
            User.id.in_(listed),
            and_(User.customer_id == site.customer_id, ~has_list),
        ),
    )
    return list(session.scalars(stmt.order_by(User.id)))


def _when(at: datetime, tz: str, locale: str) -> str:
    return format_datetime(at, "d MMM HH:mm", tzinfo=ZoneInfo(tz), locale=locale)


def _duration(delta: timedelta) -> str:
    minutes = max(int(delta.total_seconds() // 60), 0)
    hours, mins = divmod(minutes, 60)
    return f"{hours} h {mins:02d}" if hours else f"{mins} min"


def tell_due(session: Session, now: datetime, settings: NotifierSettings) -> int:
    """Tell everyone what they have not been told yet; returns how many people were told."""
    told = 0
    told += _outages_opened(session, now, settings)
    told += _outages_closed(session, now, settings)
    told += _visits_scheduled(session, now, settings)
    told += _reports(session, now, settings)
    told += _replies(session, now, settings)
    told += _meet_requests(session, now, settings)
    told += _sensor_warnings(session, now, settings)
    if told:
        logger.info("notifier: %d notifications written", told)
    return told


def _grouped(user: User, count: int, asset: Asset) -> str:
    t = translator(user.locale)
    return t(
        N_("%(asset)s at %(site)s: %(num)d changes of status"),
        asset=asset.name,
        site=asset.site.name,
        num=count,
    )


def _outages_opened(session: Session, now: datetime, s: NotifierSettings) -> int:
    told = 0
    opened = select(Outage).where(Outage.opened_notified_at.is_(None), Outage.started_at <= now)
    for outage in session.scalars(opened.order_by(Outage.id)):
        outage.opened_notified_at = now
        webhooks.enqueue(
            session, outage.asset.site.customer_id, "outage.opened", webhooks.outage_data(outage), now
        )
        if now - outage.started_at > s.max_age:
            continue
        asset = outage.asset
        link = f"/outages/{outage.id}"

        def build(user: User, asset: Asset = asset, outage: Outage = outage, link: str = link) -> Message:
            t = translator(user.locale)
            fault = outage.fault_code.replace("_", " ") if outage.fault_code else t(N_("unknown fault"))
            return Message(
                EventType.OUTAGE_OPENED,
                f"outage:{asset.id}",
                t(N_("%(asset)s at %(site)s is out of service"), asset=asset.name, site=asset.site.name),
                t(OPENED_BODY, time=_when(outage.started_at, asset.site.timezone, user.locale), fault=fault),
                link,
            )  # fmt: skip

        told += _tell_outage(session, asset, build, now, s)
    return told


def _tell_outage(
    session: Session, asset: Asset, build: Callable[[User], Message], now: datetime, s: NotifierSettings
) -> int:
    """Tell everyone of the asset's site about one of its outages; repeats group per asset."""
    return notify_many(
        session, people_of_site(session, asset.site, "be_told_of_outages"), build, now, quiet=s.quiet,
        base_url=s.public_url, grouped_title=lambda u, n: _grouped(u, n, asset),
    )  # fmt: skip


def _outages_closed(session: Session, now: datetime, s: NotifierSettings) -> int:
    told = 0
    stmt = (
        select(Outage)
        .where(
            Outage.ended_at <= now,
            Outage.closed_notified_at.is_(None),
            Outage.opened_notified_at.is_not(None),
        )
        .order_by(Outage.id)
    )
    for outage in session.scalars(stmt):
        outage.closed_notified_at = now
        webhooks.enqueue(
            session, outage.asset.site.customer_id, "outage.closed", webhooks.outage_data(outage), now
        )
        if outage.ended_at is None or now - outage.ended_at > s.max_age:
            continue
        asset = outage.asset
        down = _duration(outage.ended_at - outage.started_at)
        link = f"/outages/{outage.id}"

        def build(user: User, asset: Asset = asset, down: str = down, link: str = link) -> Message:
            t = translator(user.locale)
            return Message(
                EventType.OUTAGE_CLOSED,
                f"outage:{asset.id}",
                t(N_("%(asset)s at %(site)s is back in service"), asset=asset.name, site=asset.site.name),
                t(N_("It was out of service for %(duration)s."), duration=down),
                link,
            )

        told += _tell_outage(session, asset, build, now, s)
    return told


def _visits_scheduled(session: Session, now: datetime, s: NotifierSettings) -> int:
    told = 0
    stmt = (
        select(Visit)
        .where(
            Visit.scheduled_notified_at.is_(None),
            Visit.status == VisitStatus.SCHEDULED,
            Visit.scheduled_start <= now + s.visit_notice,
        )
        .order_by(Visit.scheduled_start)
    )
    for visit in session.scalars(stmt):
        visit.scheduled_notified_at = now
        if visit.scheduled_start <= now:
            continue
        asset, site = visit.asset, visit.asset.site
        link = f"/visits/{visit.id}"

        def build(user: User, visit: Visit = visit, asset: Asset = asset, link: str = link) -> Message:
            t = translator(user.locale)
            tz = ZoneInfo(asset.site.timezone)
            day = format_datetime(visit.scheduled_start, "EEEE d MMMM", tzinfo=tz, locale=user.locale)
            start = format_time(visit.scheduled_start, "HH:mm", tzinfo=tz, locale=user.locale)
            end = format_time(visit.scheduled_end, "HH:mm", tzinfo=tz, locale=user.locale)
            meet = t(N_("You can ask to meet the technician.")) if can(user, "hear_in_plain_words") else ""
            return Message(
                EventType.VISIT_SCHEDULED,
                f"visit:{asset.site_id}:{visit.scheduled_start.astimezone(tz).date()}",
                t(N_("Maintenance visit planned at %(site)s"), site=asset.site.name),
                (t(VISIT_BODY, asset=asset.name, day=day, start=start, end=end, summary=visit.summary)
                 + " " + meet).strip(),
                link,
            )  # fmt: skip

        def grouped(user: User, n: int, site: Site = site) -> str:
            return translator(user.locale)(
                N_("%(num)d maintenance visits planned at %(site)s"), num=n, site=site.name
            )

        told += notify_many(
            session,
            people_of_site(session, site, "be_told_as_customer"),
            build,
            now,
            quiet=s.quiet,
            base_url=s.public_url,
            grouped_title=grouped,
        )
    return told


def _reports(session: Session, now: datetime, s: NotifierSettings) -> int:
    told = 0
    stmt = select(Visit).where(
        Visit.status == VisitStatus.COMPLETED, Visit.report.is_not(None), Visit.report_notified_at.is_(None)
    )
    for visit in session.scalars(stmt.order_by(Visit.id)):
        visit.report_notified_at = now
        if visit.checked_out_at is None or now - visit.checked_out_at > s.max_age:
            continue
        asset = visit.asset
        link = f"/visits/{visit.id}"

        def build(user: User, visit: Visit = visit, asset: Asset = asset, link: str = link) -> Message:
            t = translator(user.locale)
            return Message(
                EventType.REPORT_AVAILABLE,
                f"report:{visit.id}",
                t(N_("Visit report for %(asset)s at %(site)s"), asset=asset.name, site=asset.site.name),
                (visit.report or "")[:500],
                link,
            )

        told += notify_many(
            session,
            people_of_site(session, asset.site, "be_told_as_customer"),
            build,
            now,
            quiet=s.quiet,
            base_url=s.public_url,
        )
    return told


def _replies(session: Session, now: datetime, s: NotifierSettings) -> int:
    told = 0
    for reply in session.scalars(
        select(FeedbackReply).where(FeedbackReply.notified_at.is_(None)).order_by(FeedbackReply.id)
    ):
        reply.notified_at = now
        item: Feedback = reply.feedback
        author = item.author
        if author is None or reply.author_id == author.id or now - reply.created_at > s.max_age:
            continue  # residents read answers through their link
        place = item.asset.name if item.asset else item.site.name
        link = f"/feedback/{item.id}"

        def build(user: User, reply: FeedbackReply = reply, place: str = place, link: str = link) -> Message:
            t = translator(user.locale)
            return Message(
                EventType.FEEDBACK_REPLY,
                f"feedback:{reply.feedback_id}",
                t(N_("Reply to your feedback on %(place)s"), place=place),
                reply.body[:500],
                link,
            )

        told += notify_many(session, [author], build, now, quiet=s.quiet, base_url=s.public_url)
    return told


def _meet_requests(session: Session, now: datetime, s: NotifierSettings) -> int:
    told = 0
    stmt = select(Visit).where(
        Visit.meet_requested_at >= now - s.max_age,
        Visit.technician_id.is_not(None),
        Visit.status == VisitStatus.SCHEDULED,
    )
    for visit in session.scalars(stmt):
        key = f"meet:{visit.id}:{visit.meet_requested_at:%Y%m%d%H%M%S}"
        tech = visit.technician
        if tech is None:
            continue
        seen = select(Notification.id).where(Notification.user_id == tech.id, Notification.group_key == key)
        if session.scalar(seen) is not None:
            continue
        link = f"/visits/{visit.id}"

        def build(user: User, visit: Visit = visit, key: str = key, link: str = link) -> Message:
            t = translator(user.locale)
            asker = visit.meet_requester.name if visit.meet_requester else "?"
            when = _when(visit.scheduled_start, visit.asset.site.timezone, user.locale)
            return Message(
                EventType.MEET_REQUEST,
                key,
                t(N_("%(name)s would like to meet you at %(site)s"), name=asker, site=visit.asset.site.name),
                (
                    t(N_("%(asset)s, %(time)s."), asset=visit.asset.name, time=when)
                    + " "
                    + (visit.meet_note or "")
                ).strip(),
                link,
            )

        told += notify_many(session, [tech], build, now, quiet=timedelta(0), base_url=s.public_url)
    return told


def _sensor_warnings(session: Session, now: datetime, s: NotifierSettings) -> int:
    """Technicians of the unit's sites and vendor staff, when the sensors open a warning."""
    told = 0
    fresh = select(WatchItem).where(WatchItem.notified_at.is_(None), WatchItem.opened_at <= now)
    for item in session.scalars(fresh.order_by(WatchItem.id)):
        item.notified_at = now
        if shared_with_customer(session, item.asset_id):
            customer_id = item.asset.site.customer_id
            webhooks.enqueue(session, customer_id, "sensor_warning.opened", webhooks.warning_data(item), now)
        if now - item.opened_at > s.max_age:
            continue
        asset = item.asset
        link = f"/watch/{item.id}"

        def build(user: User, asset: Asset = asset, item: WatchItem = item, link: str = link) -> Message:
            t = translator(user.locale)
            return Message(
                EventType.SENSOR_WARNING,
                f"watch:{item.id}",
                t(N_("Sensor warning on %(asset)s at %(site)s"), asset=asset.name, site=asset.site.name),
                t(
                    WARNING_BODY,
                    signal=t(labels.SIGNALS[item.signal.value]),
                    time=_when(item.since, asset.site.timezone, user.locale),
                ),
                link,
            )

        people = people_of_site(session, asset.site, "be_told_of_sensor_warnings")
        told += notify_many(session, people, build, now, quiet=timedelta(0), base_url=s.public_url)
    return told
