"""Portfolio, customer, site and asset pages (thin: queries live in the service)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_login import login_required

from portal.assets import service
from portal.auth.scope import current_scope
from portal.db import utcnow
from portal.extensions import db_session

bp = Blueprint("assets", __name__)


@bp.get("/")
@login_required
def home() -> ResponseReturnValue:
    """Portfolio of every asset in the user's scope."""
    now = utcnow()
    rows = service.portfolio(db_session(), current_scope(), now)
    return render_template("assets/portfolio.html", rows=rows, now=now)


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
    rows = service.portfolio(session, scope, now, site_id=obj.id)
    return render_template("assets/site.html", site=obj, rows=rows, now=now)


@bp.get("/assets/<int:asset_id>")
@login_required
def asset(asset_id: int) -> ResponseReturnValue:
    """One asset: identity, age, live status, outages and visits."""
    scope = current_scope()
    session = db_session()
    obj = scope.get_asset(session, asset_id)
    now = utcnow()
    (summary,) = service.summarise(session, [obj], now)
    return render_template(
        "assets/asset.html",
        s=summary,
        outages=service.outage_history(session, obj.id),
        visits=service.visit_history(session, obj.id, now),
        now=now,
    )


@bp.get("/work")
@login_required
def work() -> ResponseReturnValue:
    """The technician's work list (any account sees it for its own scope)."""
    now = utcnow()
    return render_template(
        "assets/work.html", work=service.work_list(db_session(), current_scope(), now), now=now
    )


@bp.get("/outages")
@login_required
def outages() -> ResponseReturnValue:
    """Outage board across every customer in scope: open ones and those closed in the last 24 h."""
    now = utcnow()
    open_, closed = service.outage_board(db_session(), current_scope(), now)
    return render_template("assets/outages.html", open_outages=open_, closed=closed, now=now)
