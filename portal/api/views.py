"""JSON endpoints. Authentication is the login session; scope is :mod:`portal.access`."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from portal.access import resident_asset
from portal.api import serializers as ser
from portal.assets import service
from portal.auth.scope import current_scope
from portal.db import utcnow
from portal.extensions import db_session

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/me")
@login_required
def me() -> ResponseReturnValue:
    """The logged-in user."""
    return jsonify(ser.user(current_user))


@bp.get("/customers")
@login_required
def customers() -> ResponseReturnValue:
    """Customers in scope."""
    rows = db_session().scalars(current_scope().customers())
    return jsonify({"items": [ser.customer(c) for c in rows]})


@bp.get("/customers/<int:customer_id>")
@login_required
def customer(customer_id: int) -> ResponseReturnValue:
    """One customer, with its sites in scope."""
    scope = current_scope()
    session = db_session()
    obj = scope.get_customer(session, customer_id)
    sites = service.sites_with_counts(session, scope, customer_id=obj.id)
    return jsonify({**ser.customer(obj), "sites": [ser.site(s, n) for s, n in sites]})


@bp.get("/sites")
@login_required
def sites() -> ResponseReturnValue:
    """Sites in scope with their asset counts."""
    rows = service.sites_with_counts(db_session(), current_scope())
    return jsonify({"items": [ser.site(s, n) for s, n in rows]})


@bp.get("/sites/<int:site_id>")
@login_required
def site(site_id: int) -> ResponseReturnValue:
    """One site with its assets."""
    scope = current_scope()
    session = db_session()
    obj = scope.get_site(session, site_id)
    rows = service.portfolio(session, scope, utcnow(), site_id=obj.id)
    return jsonify({**ser.site(obj, len(rows)), "assets": [ser.asset_summary(r) for r in rows]})


@bp.get("/assets")
@login_required
def assets() -> ResponseReturnValue:
    """Every asset in scope with status, age, open outage and next visit."""
    rows = service.portfolio(db_session(), current_scope(), utcnow())
    return jsonify({"items": [ser.asset_summary(r) for r in rows]})


@bp.get("/assets/<int:asset_id>")
@login_required
def asset(asset_id: int) -> ResponseReturnValue:
    """One asset with its outage history."""
    session = db_session()
    obj = current_scope().get_asset(session, asset_id)
    (row,) = service.summarise(session, [obj], utcnow())
    outages = service.outage_history(session, obj.id)
    return jsonify({**ser.asset_summary(row), "outages": [ser.outage(o) for o in outages]})


@bp.get("/resident/<token>")
def resident(token: str) -> ResponseReturnValue:
    """The resident view of one asset (no login; the token is the credential)."""
    session = db_session()
    obj = resident_asset(session, token)
    (row,) = service.summarise(session, [obj], utcnow())
    return jsonify(ser.asset_summary(row, public=True))
