"""Data exports on the portal: ask for one, watch its progress, download the ZIP."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy import select

from fleet.db import parse_id, utcnow
from fleet.models import Asset, Customer
from portal.access import check
from portal.auth.scope import current_scope
from portal.data_export import jobs
from portal.data_export.download import zip_download
from portal.extensions import db_session
from portal.notifications.service import home_timezone
from portal.refusal import Refused

logger = logging.getLogger(__name__)
bp = Blueprint("exports", __name__, url_prefix="/exports")


def _folder() -> Path:
    return Path(current_app.config["SETTINGS"].export_dir)


def _day(raw: str, errors: dict[str, list[str]], name: str) -> date | None:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = [gettext("Give a date (YYYY-MM-DD).")]
        return None


def _asset_ids(raw: str, errors: dict[str, list[str]]) -> list[int]:
    """Units typed by device id (as on their sticker), comma- or space-separated."""
    codes = [c for c in raw.replace(",", " ").split() if c]
    if not codes:
        return []
    scope = current_scope()
    rows = db_session().execute(
        select(Asset.mqtt_id, Asset.id).where(Asset.mqtt_id.in_(codes), scope.asset_filter())
    )
    found = {code: asset_id for code, asset_id in rows}
    unknown = [c for c in codes if c not in found]
    if unknown:
        errors["units"] = [gettext("Unknown units: %(codes)s.", codes=", ".join(unknown[:5]))]
    return [found[c] for c in codes if c in found]


@bp.route("", methods=["GET", "POST"])
@login_required
def exports() -> ResponseReturnValue:
    """The person's exports, and a form to ask for one."""
    session, scope = db_session(), current_scope()
    check(current_user, "export_data", jobs.ONLY)
    customers = list(session.scalars(scope.customers()))
    sites = list(session.scalars(scope.sites()))
    zone = home_timezone(session, scope)
    today = utcnow().astimezone(ZoneInfo(zone)).date()
    form = (
        request.form
        if request.method == "POST"
        else {
            "customer_id": str(customers[0].id) if len(customers) == 1 else "",
            "start": (today.replace(day=1) - timedelta(days=1)).replace(day=1).isoformat(),
            "end": (today.replace(day=1) - timedelta(days=1)).isoformat(),
        }
    )
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        start, end = _day(form.get("start", ""), errors, "start"), _day(form.get("end", ""), errors, "end")
        asset_ids = _asset_ids(form.get("units", ""), errors)
        if not errors and start and end:
            tz = ZoneInfo(zone)
            try:
                export = jobs.request_export(
                    session,
                    current_user,
                    scope,
                    customer_id=parse_id(form.get("customer_id", "")),
                    site_id=parse_id(form.get("site_id", "")),
                    asset_ids=asset_ids,
                    start=datetime.combine(start, time(), tz),
                    end=datetime.combine(end + timedelta(days=1), time(), tz),
                    now=utcnow(),
                    max_days=current_app.config["SETTINGS"].export_max_days,
                )
            except Refused as exc:
                session.rollback()
                errors = exc.errors or {"customer_id": [str(exc.message)]}
            else:
                session.commit()
                return redirect(url_for("exports.export", export_id=export.id))
    html = render_template(
        "exports/list.html",
        rows=[(e, e.end - timedelta(seconds=1)) for e in jobs.own_exports(session, current_user)],
        customers=customers,
        sites=sites,
        errors=errors,
        form=form,
        zone=zone,
        now=utcnow(),
    )
    return html, 400 if errors else 200


@bp.get("/<int:export_id>")
@login_required
def export(export_id: int) -> ResponseReturnValue:
    """One export: its progress while it is written, then the download link."""
    session = db_session()
    record = jobs.get_own_export(session, current_user, export_id)
    customer = session.get(Customer, record.customer_id)
    ready = jobs.export_file(record, _folder(), utcnow()) is not None
    zone = home_timezone(session, current_scope())
    return render_template(
        "exports/export.html",
        export=record,
        customer=customer,
        ready=ready,
        zone=zone,
        last_day=record.end - timedelta(seconds=1),
    )


@bp.get("/<int:export_id>/status")
@login_required
def status(export_id: int) -> ResponseReturnValue:
    """Progress as JSON, for the page's progress bar."""
    record = jobs.get_own_export(db_session(), current_user, export_id)
    ready = jobs.export_file(record, _folder(), utcnow()) is not None
    return jsonify(
        state=record.state.value,
        progress=record.progress,
        error=record.error,
        download_url=url_for("exports.download", export_id=record.id) if ready else None,
    )


@bp.get("/<int:export_id>/download")
@login_required
def download(export_id: int) -> ResponseReturnValue:
    """The ZIP, while it is kept."""
    return zip_download(db_session(), current_user, export_id, _folder(), utcnow())
