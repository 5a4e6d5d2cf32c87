"""Monthly service reports: last month's figures for each customer and each site.

A report is issued once, on the first day of the month in its time zone (a site's own; a
customer's is the one most of its sites share), by the worker's ``reports`` step
(:func:`issue_due`). It stores figures only (numbers, names, codes, times), so every reader
sees it in their own language and the archive shows the month as it was reported.

The availability and service figures come from :func:`portal.kpi.tallies` and
:func:`portal.kpi.summarise_tally`, the functions behind the KPI page; scores from
:mod:`portal.satisfaction.scores`. No Flask here.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from fleet.models import (
    Asset,
    Customer,
    EventType,
    Feedback,
    MonthlyReport,
    Outage,
    OutboxAttachment,
    OutboxEmail,
    Site,
    SurveyKind,
    SurveyResponse,
    User,
    Visit,
    VisitStatus,
    user_sites,
)
from portal.access import accounts_who, can
from portal.kpi import Levers, combined_levers, summarise_tally, tallies
from portal.notifications.service import N_, Message, notify, translator
from portal.satisfaction.scores import ces, csat, nps

logger = logging.getLogger(__name__)
Figures = dict[str, Any]  # a JSON document
# (report, locale, audience) -> the PDF of that reading of the report
PdfRenderer = Callable[[MonthlyReport, str, str], bytes]
NEXT_VISITS_SHOWN = 30


def month_bounds(month: date, tz: str) -> tuple[datetime, datetime]:
    """``[start, end)`` of the calendar month starting ``month`` in ``tz``, in UTC."""
    zone = ZoneInfo(tz)
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    start = datetime(month.year, month.month, 1, tzinfo=zone)
    end = datetime(following.year, following.month, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def previous_month(now: datetime, tz: str) -> date:
    """The first day of the month before the one ``now`` falls in, in ``tz``."""
    first = now.astimezone(ZoneInfo(tz)).date().replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def scope_key(customer_id: int, site_id: int | None) -> str:
    """The key a report is unique by (with its month)."""
    return f"site:{site_id}" if site_id is not None else f"customer:{customer_id}"


def _seconds(delta: timedelta | None) -> float | None:
    return None if delta is None else delta.total_seconds()


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _levers(lv: Levers) -> Figures:
    return {
        "assets": lv.assets,
        "availability": lv.availability,
        "target": lv.target,
        "meeting_target": lv.meeting_target,
        "outages": lv.outages,
        "mtbf_s": _seconds(lv.mtbf),
        "mttr_s": _seconds(lv.mttr),
        "response_s": _seconds(lv.response_time),
        "responses": lv.responses,
        "visits_due": lv.visits_due,
        "visits_on_time": lv.visits_on_time,
        "feedback_resolved": lv.feedback_resolved,
    }


def build_figures(
    session: Session, customer: Customer, site: Site | None, month: date, tz: str, now: datetime
) -> Figures:
    """The figures of one report: units, outages, visits, next visits, feedback, satisfaction."""
    start, end = month_bounds(month, tz)
    in_scope = Asset.site_id == site.id if site is not None else Site.customer_id == customer.id
    rows = session.execute(
        select(Asset.id, Asset.name, Asset.kind, Site.id, Site.name)
        .join(Site, Asset.site_id == Site.id)
        .where(in_scope, or_(Asset.archived_at.is_(None), Asset.archived_at > start))
        .order_by(Site.name, Asset.name, Asset.id)
    ).all()
    ids = [r[0] for r in rows]
    names = {r[0]: (r[1], r[4]) for r in rows}
    per_asset = tallies(session, ids, start, end)
    period = end - start
    units = []
    for asset_id, name, kind, site_id, site_name in rows:
        lv = summarise_tally(per_asset[asset_id], period)
        units.append({"id": asset_id, "name": name, "kind": kind.value, "site_id": site_id, "site": site_name}
                     | _levers(lv) | {"downtime_s": per_asset[asset_id].down.total_seconds()})  # fmt: skip
    outages = [
        {
            "asset": names[o.asset_id][0], "site": names[o.asset_id][1], "started": _iso(o.started_at),
            "ended": _iso(o.ended_at), "fault_code": o.fault_code, "cause": o.cause,
            "detected_by": o.detected_by.value,
            "duration_s": _seconds((o.ended_at or now) - o.started_at),
            "response_s": _seconds(max(o.on_site_at - o.started_at, timedelta()) if o.on_site_at else None),
        }
        for o in session.scalars(
            select(Outage)
            .where(Outage.asset_id.in_(ids), Outage.started_at < end,
                   or_(Outage.ended_at.is_(None), Outage.ended_at >= start))
            .order_by(Outage.started_at, Outage.id)
        )
    ] if ids else []  # fmt: skip
    visits = [
        {
            "asset": names[v.asset_id][0], "site": names[v.asset_id][1], "kind": v.kind.value,
            "status": v.status.value, "scheduled_start": _iso(v.scheduled_start),
            "scheduled_end": _iso(v.scheduled_end), "done_at": _iso(v.checked_out_at),
            "on_time": v.checked_in_at is not None and v.checked_in_at <= v.scheduled_end,
            "summary": v.summary, "report": v.report, "findings": v.findings, "next_action": v.next_action,
        }
        for v in session.scalars(
            select(Visit)
            .where(Visit.asset_id.in_(ids), Visit.scheduled_start >= start, Visit.scheduled_start < end)
            .order_by(Visit.scheduled_start, Visit.id)
        )
    ] if ids else []  # fmt: skip
    upcoming = [
        {"asset": names[v.asset_id][0], "site": names[v.asset_id][1], "kind": v.kind.value,
         "scheduled_start": _iso(v.scheduled_start), "summary": v.summary}
        for v in session.scalars(
            select(Visit)
            .where(Visit.asset_id.in_(ids), Visit.status == VisitStatus.SCHEDULED,
                   Visit.scheduled_start >= now)
            .order_by(Visit.scheduled_start, Visit.id)
            .limit(NEXT_VISITS_SHOWN)
        )
    ] if ids else []  # fmt: skip
    return {
        "version": 1,
        "customer": customer.name,
        "site": site.name if site is not None else None,
        "sites": len({r[3] for r in rows}),
        "month": month.isoformat(),
        "timezone": tz,
        "start": _iso(start),
        "end": _iso(end),
        "totals": _levers(combined_levers(per_asset, ids, start, end)),
        "units": units,
        "outages": outages,
        "visits": visits,
        "next_visits": upcoming,
        "feedback": _feedback(session, customer.id, site, start, end),
        "satisfaction": _satisfaction(session, customer.id, site, start, end),
    }


def _feedback(
    session: Session, customer_id: int, site: Site | None, start: datetime, end: datetime
) -> Figures:
    on_sites = (
        Feedback.site_id == site.id
        if site is not None
        else Feedback.site_id.in_(select(Site.id).where(Site.customer_id == customer_id))
    )
    received = session.execute(
        select(Feedback.author_group, func.count(Feedback.id))
        .where(on_sites, Feedback.created_at >= start, Feedback.created_at < end)
        .group_by(Feedback.author_group)
    ).all()
    resolved = session.scalar(
        select(func.count(Feedback.id)).where(
            on_sites, Feedback.resolved_at >= start, Feedback.resolved_at < end
        )
    )
    still_open = session.scalar(
        select(func.count(Feedback.id)).where(
            on_sites,
            Feedback.created_at < end,
            or_(Feedback.resolved_at.is_(None), Feedback.resolved_at >= end),
        )
    )
    by_group = {group.value: int(n) for group, n in received}
    return {
        "received": sum(by_group.values()),
        "by_group": by_group,
        "resolved": int(resolved or 0),
        "open_at_end": int(still_open or 0),
    }


def _satisfaction(
    session: Session, customer_id: int, site: Site | None, start: datetime, end: datetime
) -> list[Figures]:
    """Scores per stakeholder group from the answers given during the month (with counts)."""
    stmt = select(SurveyResponse.group, SurveyResponse.kind, SurveyResponse.score).where(
        SurveyResponse.customer_id == customer_id,
        SurveyResponse.created_at >= start,
        SurveyResponse.created_at < end,
    )
    if site is not None:
        stmt = stmt.where(SurveyResponse.site_id == site.id)
    answers: dict[str, dict[SurveyKind, list[int]]] = defaultdict(lambda: defaultdict(list))
    for audience, kind, score in session.execute(stmt):
        answers[audience.value][kind].append(score)
    out = []
    for group_name in sorted(answers):
        by_kind = answers[group_name]
        c, (effort, _easy), n = (
            csat(by_kind[SurveyKind.CSAT]),
            ces(by_kind[SurveyKind.CES]),
            nps(by_kind[SurveyKind.NPS]),
        )
        out.append({"group": group_name, "csat": c.value, "csat_n": c.responses, "ces": effort.value,
                    "ces_n": effort.responses, "nps": n.value, "nps_n": n.responses})  # fmt: skip
    return out


# --- issuing --------------------------------------------------------------------------------
@dataclass(frozen=True)
class DueReport:
    """A report that should exist and does not yet."""

    customer_id: int
    site_id: int | None
    month: date
    timezone: str


def due_reports(session: Session, now: datetime) -> list[DueReport]:
    """Last month's reports not issued yet: one per site with equipment and one per customer."""
    return _missing(session, lambda tz: previous_month(now, tz))


def missing_reports(session: Session, month: date, now: datetime) -> list[DueReport]:
    """The reports of ``month`` not issued yet, where that month has ended (a back-fill)."""
    return [d for d in _missing(session, lambda _tz: month) if month_bounds(d.month, d.timezone)[1] <= now]


def _missing(session: Session, month_of: Callable[[str], date]) -> list[DueReport]:
    has_assets = exists().where(Asset.site_id == Site.id)
    sites = session.execute(
        select(Site.id, Site.customer_id, Site.timezone)
        .join(Customer, Site.customer_id == Customer.id)
        .where(Site.archived_at.is_(None), Customer.archived_at.is_(None), has_assets)
        .order_by(Site.customer_id, Site.id)
    ).all()
    zones: dict[int, Counter[str]] = defaultdict(Counter)
    wanted: list[DueReport] = []
    for site_id, customer_id, tz in sites:
        zones[customer_id][tz] += 1
        wanted.append(DueReport(customer_id, site_id, month_of(tz), tz))
    for customer_id, counts in zones.items():
        tz = min(counts, key=lambda z: (-counts[z], z))  # the most common; ties by name
        wanted.append(DueReport(customer_id, None, month_of(tz), tz))
    months = {w.month for w in wanted}
    if not months:
        return []
    issued = {
        (key, month)
        for key, month in session.execute(
            select(MonthlyReport.scope_key, MonthlyReport.month).where(MonthlyReport.month.in_(months))
        )
    }
    return [w for w in wanted if (scope_key(w.customer_id, w.site_id), w.month) not in issued]


def recipients(session: Session, report: MonthlyReport) -> list[User]:
    """Who is told of a report: the customer's facility managers whose scope is the whole
    customer (the customer report), or the people listed on the site (the site report)."""
    told = accounts_who("be_told_as_customer")
    if report.site_id is None:
        stmt = select(User).where(
            told,
            User.customer_id == report.customer_id,
            ~exists().where(user_sites.c.user_id == User.id),
        )
    else:
        stmt = (
            select(User)
            .join(user_sites, user_sites.c.user_id == User.id)
            .where(told, user_sites.c.site_id == report.site_id)
        )
    return list(session.scalars(stmt.order_by(User.id)))


def audience_of(user: object) -> str:
    """Which reading of a report a person gets: ``plain`` (HOA presidents, their building in
    plain words) or ``full`` (with the service figures and, for those allowed, satisfaction)."""
    return "plain" if can(user, "hear_in_plain_words") else "full"


def month_name(month: date, locale: str) -> str:
    """``November 2026`` / ``novembre 2026``."""
    return format_date(month, "LLLL yyyy", locale=locale)


def report_title(figures: Figures) -> str:
    """What the report is about: the site's name, else the customer's."""
    return str(figures["site"] or figures["customer"])


TITLE = N_("Service report for %(month)s: %(name)s")
BODY = N_("%(name)s in %(month)s: availability %(availability)s, %(outages)d outages, %(visits)d visits.")


def _message(report: MonthlyReport, user: User) -> Message:
    t = translator(user.locale)
    figures = report.figures
    totals = figures["totals"]
    month = month_name(report.month, user.locale)
    availability = totals.get("availability")
    shown = "—" if availability is None else f"{availability:.2f} %"
    visits = figures["visits"]
    return Message(
        event=EventType.MONTHLY_REPORT,
        group_key=f"report:{report.id}",
        title=t(TITLE, month=month, name=report_title(figures)),
        body=t(BODY, name=report_title(figures), month=month, availability=shown,
               outages=int(totals.get("outages") or 0), visits=len(visits)),
        link=f"/reports/{report.id}",
    )  # fmt: skip


def pdf_file_name(report: MonthlyReport) -> str:
    """``service-report-2026-11-site-12.pdf``."""
    return f"service-report-{report.month:%Y-%m}-{report.scope_key.replace(':', '-')}.pdf"


def issue(
    session: Session,
    due: DueReport,
    now: datetime,
    render_pdf: PdfRenderer,
    *,
    quiet: timedelta,
    base_url: str,
    tell: bool = True,
) -> MonthlyReport:
    """Write one report and, unless ``tell`` is off (a back-fill of past months), tell its
    people (e-mail with the PDF for those who chose it)."""
    customer = session.get(Customer, due.customer_id)
    site = session.get(Site, due.site_id) if due.site_id is not None else None
    if customer is None:
        raise LookupError(f"customer {due.customer_id} is gone")
    report = MonthlyReport(
        scope_key=scope_key(due.customer_id, due.site_id), customer_id=due.customer_id, site_id=due.site_id,
        month=due.month, timezone=due.timezone, generated_at=now,
        figures=build_figures(session, customer, site, due.month, due.timezone, now),
    )  # fmt: skip
    session.add(report)
    session.flush()
    pdfs: dict[tuple[str, str], bytes] = {}
    for user in recipients(session, report) if tell else []:
        told = notify(session, user, _message(report, user), now, quiet=quiet, base_url=base_url)
        if told is None:
            continue
        email = session.scalar(select(OutboxEmail).where(OutboxEmail.notification_id == told.id))
        if email is None:
            continue
        reading = (user.locale, audience_of(user))
        if reading not in pdfs:
            pdfs[reading] = render_pdf(report, *reading)
        session.add(
            OutboxAttachment(email_id=email.id, file_name=pdf_file_name(report),
                             content_type="application/pdf", data=pdfs[reading])
        )  # fmt: skip
    session.flush()
    return report


def issue_due(
    sessions: sessionmaker[Session],
    now: datetime,
    render_pdf: PdfRenderer,
    *,
    quiet: timedelta,
    base_url: str = "",
    limit: int = 200,
) -> int:
    """Issue up to ``limit`` due reports, each in its own transaction; returns how many.

    Two workers may race for the same report: the unique (scope, month) key lets one win
    and the other roll back, so nobody is told twice."""
    with sessions() as session:
        due = due_reports(session, now)[:limit]
    issued = 0
    for item in due:
        try:
            with sessions() as session, session.begin():
                issue(session, item, now, render_pdf, quiet=quiet, base_url=base_url)
        except IntegrityError:
            logger.info(
                "report %s %s issued by another worker", scope_key(item.customer_id, item.site_id), item.month
            )
            continue
        issued += 1
    if issued:
        logger.info("monthly reports: %d issued", issued)
    return issued
