"""Home, portfolio, customer, site, asset, work list and outage board (thin views)."""

from __future__ import annotations

import time
from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext, lazy_gettext
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from fleet.db import parse_id, utcnow
from fleet.models import Asset, AssetKind, Customer, Outage, Site
from portal import kpi_months
from portal.access import Scope, can, check, requires
from portal.assets import charts, dispatch, read_model, service, timeline
from portal.assets.forms import DispatchForm
from portal.assets.presenters import outage_timeline_context, timeline_context
from portal.auth.scope import current_scope
from portal.condition import watch
from portal.extensions import db_session, get_availability, get_fragments, get_telemetry
from portal.feedback.presenters import box_context, recent_for, unread_map
from portal.i18n import locale_code
from portal.kpi import kpi_table
from portal.live.page import page_config
from portal.live.server import announce, timeline_event
from portal.maintenance.visits import repair_visit
from portal.refusal import Refused
from portal.web.fragments import Fragment

bp = Blueprint("assets", __name__)
PAGE_SIZE = 50

AGE_BANDS = {
    "0-9": (0, 9, lazy_gettext("under 10 years")),
    "10-19": (10, 19, lazy_gettext("10 to 19 years")),
    "20-29": (20, 29, lazy_gettext("20 to 29 years")),
    "30+": (30, None, lazy_gettext("30 years or more")),
}
SORTS = {
    "name": ("name", False, lazy_gettext("Customer, site and name")),
    "status": ("status", False, lazy_gettext("Status (worst first)")),
    "availability": ("availability", False, lazy_gettext("Availability (lowest first)")),
    "oldest": ("age", True, lazy_gettext("Age (oldest first)")),
    "newest": ("age", False, lazy_gettext("Age (newest first)")),
    "site": ("site", False, lazy_gettext("Site")),
}


def _resync_url(asset_ids: list[int]) -> str:
    if len(asset_ids) > 1000:
        return url_for("api.assets")
    return url_for("api.assets", ids=",".join(map(str, asset_ids)))


@bp.get("/")
@login_required
def home() -> ResponseReturnValue:
    """Each group's home: HOA presidents their building(s), technicians their work list,
    facility managers and vendor staff the portfolio."""
    if can(current_user, "do_visits"):
        return redirect(url_for("assets.work"))
    if can(current_user, "hear_in_plain_words"):
        now = utcnow()
        items = service.buildings(db_session(), current_scope(), now, get_availability())
        ids = [r.asset.id for b in items for r in b.rows]
        live = page_config(sites=[b.site.id for b in items], resync=_resync_url(ids))
        boxes = {
            b.site.id: box_context(
                action=url_for("feedback.on_site", site_id=b.site.id),
                recent=recent_for(site_id=b.site.id, limit=3),
            )
            for b in items
        }
        session = db_session()
        assets = session.scalars(select(Asset).where(Asset.id.in_(ids)).options(joinedload(Asset.site)))
        current = timeline.current_outages(session, ids, now)
        timelines = {a.id: timeline_context(session, a, now, quiet=True, current=current) for a in assets}
        return render_template(
            "hoa/home.html", buildings=items, now=now, live=live, boxes=boxes, timelines=timelines
        )
    return portfolio()


def _parse_query() -> tuple[service.PortfolioQuery, str, str, list[str]]:
    """The portfolio query from the URL; unknown values are reported and ignored."""
    args = request.args
    errors: list[str] = []
    state = args.get("state") or None
    if state is not None and state not in service.SEVERITY:
        errors.append(gettext("Unknown status %(value)s.", value=state[:30]))
        state = None
    site_id: int | None = None
    if args.get("site"):
        site_id = parse_id(args["site"])
        if site_id is None:
            errors.append(gettext("The site must be chosen from the list."))
    kind: AssetKind | None = None
    if args.get("kind"):
        try:
            kind = AssetKind(args["kind"])
        except ValueError:
            errors.append(gettext("Unknown kind %(value)s.", value=args["kind"][:30]))
    band = args.get("age") or ""
    lo = hi = None
    if band:
        if band in AGE_BANDS:
            lo, hi, _label = AGE_BANDS[band]
        else:
            errors.append(gettext("Unknown age band %(value)s.", value=band[:30]))
            band = ""
    sort_code = args.get("sort") or "name"
    if sort_code not in SORTS:
        errors.append(gettext("Unknown sort order %(value)s.", value=sort_code[:30]))
        sort_code = "name"
    key, desc, _label = SORTS[sort_code]
    q = service.PortfolioQuery(state, site_id, kind, lo, hi, key, desc)
    return q, band, sort_code, errors


@bp.get("/portfolio")
@login_required
def portfolio() -> ResponseReturnValue:
    """Every asset in scope, sortable and filterable (status, site, kind, age).

    The counters and table are the same for everyone with the same scope, language and
    query, so they come from the fragment cache when a fresh copy is there."""
    scope = current_scope()
    fragments = get_fragments()
    # per user: the table shows the user's unread feedback
    key = ("portfolio", current_user.id, scope, locale_code(), tuple(sorted(request.args.items(multi=True))))
    frag = cached = fragments.get(key)
    if frag is None:
        frag = _portfolio_fragment(scope)
        if not frag.extra["errors"]:
            fragments.put(key, frag.html, **frag.extra)
    live = page_config(
        sites=frag.extra["sites"], resync=frag.extra["resync"], resync_on_join=cached is not None
    )
    html = render_template("assets/portfolio.html", body=Markup(frag.html), live=live)  # noqa: S704 - rendered by Jinja with autoescape
    return html, 400 if frag.extra["errors"] else 200


def _portfolio_fragment(scope: Scope) -> Fragment:
    """Read and render the portfolio's counters, filters, table and pager."""
    q, band, sort_code, errors = _parse_query()
    session = db_session()
    now = utcnow()
    raw_page = request.args.get("page", "1")
    wanted = int(raw_page) if raw_page.isdigit() else 0  # not a number: no such page
    max_age = timedelta(seconds=current_app.config["SETTINGS"].availability_max_age_s)
    found = read_model.portfolio_page(session, scope, now, q, wanted, PAGE_SIZE, max_age) if max_age else None
    if found is None:  # stored availability missing or too old: compute everything
        found = read_model.reference_page(session, scope, now, q, wanted, PAGE_SIZE, get_availability())
    page, pages, rows = found.page, found.pages, found.rows
    if raw_page not in ("", "1") and page != wanted:
        errors.append(gettext("There is no page %(value)s.", value=raw_page[:10]))
    sites = list(session.scalars(scope.sites()))
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    html = render_template(
        "assets/_portfolio_body.html", rows=rows, shown=found.matching, total=found.total,
        counts=found.counts, now=now, q=q, sites=sites,
        unread=unread_map(),
        page=page, pages=pages, first=(page - 1) * PAGE_SIZE + 1, args=args,
        states=list(service.SEVERITY), kinds=[k.value for k in AssetKind],
        age_bands=[(code, label) for code, (_lo, _hi, label) in AGE_BANDS.items()], age_band=band,
        sort_options=[(code, label) for code, (_k, _d, label) in SORTS.items()], sort_code=sort_code,
        grouped=sort_code == "name", error=" ".join(errors) or None,
    )  # fmt: skip
    live_sites = {r.site.id for r in rows}
    return Fragment(html, {"sites": live_sites, "resync": _resync_url([r.asset.id for r in rows]),
                           "errors": errors}, time.monotonic())  # fmt: skip


@bp.get("/customers/<int:customer_id>")
@login_required
def customer(customer_id: int) -> ResponseReturnValue:
    """One customer and its sites in scope."""
    scope = current_scope()
    session = db_session()
    obj = scope.get_customer(session, customer_id)
    sites = service.sites_with_counts(session, scope, customer_id=obj.id)
    return render_template("assets/customer.html", customer=obj, sites=sites)


@bp.get("/sites/<int:site_id>")
@login_required
def site(site_id: int) -> ResponseReturnValue:
    """One site (building) and its assets."""
    scope = current_scope()
    session = db_session()
    obj = scope.get_site(session, site_id)
    now = utcnow()
    rows = service.portfolio(session, scope, now, site_id=obj.id, availability=get_availability())
    live = page_config(sites=[obj.id], resync=_resync_url([r.asset.id for r in rows]), tz=obj.timezone)
    fb = box_context(action=url_for("feedback.on_site", site_id=obj.id), recent=recent_for(site_id=obj.id))
    unread = unread_map()
    ids = [r.asset.id for r in rows]
    heard = (
        watch.customer_sentences(session, ids, now) if can(current_user, "hear_of_sensor_warnings") else {}
    )
    sentences = [(r.asset, item, visit) for r in rows for item, visit in heard.get(r.asset.id, [])]
    page = {
        "site": obj,
        "rows": rows,
        "now": now,
        "live": live,
        "fb": fb,
        "unread": unread,
        "sentences": sentences,
    }
    return render_template("assets/site.html", **page)


@bp.get("/assets/<int:asset_id>")
@login_required
def asset(asset_id: int) -> ResponseReturnValue:
    """One asset: identity, age, live status, sensor charts, outages, visits, fault codes."""
    scope = current_scope()
    session = db_session()
    obj = scope.get_asset(session, asset_id)
    now = utcnow()
    (summary,) = service.summarise(session, [obj], now)
    outages = service.outage_history(session, obj.id)
    live = page_config(assets=[obj.id], resync=url_for("api.assets", ids=str(obj.id)), tz=obj.site.timezone)
    warnings = (
        watch.asset_items(session, obj.id, now - timedelta(days=90))
        if can(current_user, "see_sensor_warnings")
        else []
    )
    heard = (
        watch.customer_sentences(session, [obj.id], now)
        if can(current_user, "hear_of_sensor_warnings")
        else {}
    )
    return render_template(
        "assets/asset.html",
        warnings=warnings,
        warning_charts=watch.charts_for(
            get_telemetry(), warnings[:5] or [item for item, _visit in heard.get(obj.id, [])], now, 14
        ),
        sentences=heard.get(obj.id, []),
        s=summary,
        timeline=timeline_context(session, obj, now),
        outages=outages,
        faults=service.fault_counts(outages, now),
        visits=service.visit_history(session, obj.id, now),
        ranges=list(charts.RANGES),
        now=now,
        live=live,
        fb=box_context(action=url_for("feedback.on_asset", asset_id=obj.id),
                                      recent=recent_for(asset_id=obj.id)),
    )  # fmt: skip


# rows shown per tier of the work list: a route's list is shorter; the staff's over a whole
# fleet (1,700 units due in a week on the benchmark's 6,500) says how many more there are
WORK_SHOWN = 50


@bp.get("/work")
@login_required
def work() -> ResponseReturnValue:
    """The technician's work list (any account sees it for its own scope)."""
    now = utcnow()
    items = service.work_list(
        db_session(), current_scope(), now, availability=get_availability(), shown=WORK_SHOWN
    )
    shown = [r for group in (items.down, items.attention, items.due) for r in group]
    ids = {r.asset.id for r in shown}
    sites = {r.site.id for r in shown}
    warnings = (
        watch.open_items(db_session(), current_scope()) if can(current_user, "see_sensor_warnings") else []
    )
    warning_charts = watch.charts_for(get_telemetry(), warnings[:50], now, 7)
    sites |= {w.asset.site_id for w in warnings}
    live = page_config(sites=sites, resync=_resync_url(sorted(ids)))
    page = {"work": items, "now": now, "live": live, "warnings": warnings, "charts": warning_charts,
            "shown": WORK_SHOWN}  # fmt: skip
    return render_template("assets/work.html", **page)


@bp.get("/outages")
@login_required
def outages() -> ResponseReturnValue:
    """Outage board across every customer in scope: open ones and those closed in the last 24 h."""
    now = utcnow()
    session = db_session()
    scope = current_scope()
    open_, closed = service.outage_board(session, scope, now)
    techs = dispatch.technicians(session) if can(current_user, "dispatch") else []
    detection = service.detected_before_reported(session, scope, now - timedelta(days=90))
    page = {"open_outages": open_, "closed": closed, "now": now, "technicians": techs, "detection": detection}
    return render_template("assets/outages.html", **page)


@bp.get("/assets/<int:asset_id>/timeline")
@login_required
def asset_timeline(asset_id: int) -> ResponseReturnValue:
    """The asset's current repair-progress fragment, re-read by pages on live events."""
    session = db_session()
    obj = current_scope().get_asset(session, asset_id)
    ctx = timeline_context(session, obj, utcnow(), quiet=request.args.get("quiet") == "1")
    return render_template("assets/_timeline.html", **ctx)


def _outage_in_scope(outage_id: int) -> Outage:
    return current_scope().get_outage(db_session(), outage_id)


@bp.get("/outages/<int:outage_id>")
@login_required
def outage_page(outage_id: int) -> ResponseReturnValue:
    """One outage with its timeline, live."""
    outage = _outage_in_scope(outage_id)
    session = db_session()
    ctx = outage_timeline_context(session, outage)
    live = page_config(assets=[outage.asset_id], tz=outage.asset.site.timezone)
    return render_template("assets/outage.html", outage=outage, tl=ctx, live=live, now=utcnow())


@bp.get("/outages/<int:outage_id>/timeline")
@login_required
def outage_timeline(outage_id: int) -> ResponseReturnValue:
    """The timeline fragment, re-read by pages when a live event says it moved."""
    outage = _outage_in_scope(outage_id)
    return render_template("assets/_timeline.html", **outage_timeline_context(db_session(), outage))


KPI_PERIODS = {"30d": timedelta(days=30), "90d": timedelta(days=90), "365d": timedelta(days=365)}
# above this many units the KPI table lists customers and sites, and a site's units on its own
# page (a 5,000-unit portfolio rendered 5,000 rows on every view)
KPI_UNIT_ROWS = 500


@bp.get("/kpis")
@login_required
@requires("see_kpis", lazy_gettext("Service KPIs are for vendor staff and facility managers."))
def kpis() -> ResponseReturnValue:
    """Service KPIs per customer, site and asset (facility managers and vendor staff)."""
    period = request.args.get("period") or "90d"
    if period not in KPI_PERIODS:
        abort(400, gettext("Unknown period %(value)s.", value=period[:10]))
    session, now, scope = db_session(), utcnow(), current_scope()
    site = None
    if request.args.get("site"):
        site_id = parse_id(request.args["site"])
        if site_id is None:
            abort(400, gettext("Unknown site %(value)s.", value=request.args["site"][:20]))
        site = scope.get_site(session, site_id)  # 404 outside the scope, like a missing one
    stmt = (
        select(Asset.id, Asset.name, Site.id, Site.name, Customer.id, Customer.name)
        .join(Site, Asset.site_id == Site.id)
        .join(Customer, Site.customer_id == Customer.id)
        .where(scope.period_asset_filter(now - KPI_PERIODS[period]))
        .order_by(Customer.name, Site.name, Asset.name)
    )
    if site is not None:
        stmt = stmt.where(Site.id == site.id)
    units: list[tuple[int, str, int, str, int, str]] = [
        (a, b, c, d, e, f) for a, b, c, d, e, f in session.execute(stmt)
    ]
    by_site = site is None and len(units) > KPI_UNIT_ROWS
    table = kpi_table(session, units, now - KPI_PERIODS[period], now, kpi_months.tallies, units=not by_site)
    if site is not None:  # one site's units: a customer row would show that site's figures as the customer's
        table = [row for row in table if row.level != "customer"]
    hit = {days: watch.hit_rates(session, scope, now, days) for days in (90, 365)}
    return render_template(
        "assets/kpis.html", table=table, period=period, periods=list(KPI_PERIODS), hit=hit, site=site,
        by_site=by_site, units=len(units),
    )  # fmt: skip


@bp.post("/outages/<int:outage_id>/assign")
@login_required
def assign(outage_id: int) -> ResponseReturnValue:
    """Vendor staff assign a technician and an expected arrival (site time) to an open outage."""
    session = db_session()
    outage = current_scope().get_outage(session, outage_id)  # 404 out of scope, like a missing one
    check(current_user, "dispatch", lazy_gettext("Only the vendor's staff dispatch technicians."))  # 403
    form = DispatchForm(request.form, timezone=outage.asset.site.timezone)
    if not form.validate():
        for message in dict.fromkeys(m for messages in form.errors.values() for m in messages):
            flash(str(message), "error")
        return redirect(url_for("assets.outages"), 303)
    try:
        outage = dispatch.assign_technician(
            session, outage=outage, by=current_user, technician_id=form.technician_id.data,
            eta=form.eta.data, expected_technician_id=form.expected.data, now=utcnow(),
        )  # fmt: skip
    except Refused as exc:
        if exc.status == 403:
            raise
        session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("assets.outages"), 303)
    repair_visit(session, outage)
    session.commit()
    announce(current_app, [timeline_event(outage, utcnow())])
    get_fragments().clear()
    flash(gettext("Technician assigned."), "success")
    return redirect(url_for("assets.outages"))
