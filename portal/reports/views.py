"""Monthly service reports in the portal: the archive, one report in the reader's language,
and its PDF (the same template the e-mails carry)."""

from __future__ import annotations

import logging
from datetime import date

from flask import Blueprint, Response, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext
from flask_login import current_user, login_required
from sqlalchemy import select

from fleet.db import parse_id
from fleet.models import Customer, MonthlyReport, Site
from portal.access import can, check, requires
from portal.auth.scope import current_scope
from portal.extensions import db_session
from portal.i18n import locale_code
from portal.reports.monthly import audience_of, pdf_file_name
from portal.reports.render import ReportRenderer

logger = logging.getLogger(__name__)
bp = Blueprint("reports", __name__, url_prefix="/reports")
ONLY = lazy_gettext("Monthly reports are for facility managers, HOA presidents and vendor staff.")
ARCHIVE_ROWS = 600


def _renderer() -> ReportRenderer:
    renderer: ReportRenderer = current_app.extensions["report_renderer"]
    return renderer


@bp.get("")
@login_required
@requires("read_monthly_reports", ONLY)
def archive() -> ResponseReturnValue:
    """Past months' reports in scope, latest month first (staff may pick one customer)."""
    session, scope = db_session(), current_scope()
    customers = list(session.scalars(scope.customers())) if can(current_user, "see_every_customer") else []
    customer_id = parse_id(request.args.get("customer", ""))
    stmt = (
        select(MonthlyReport.id, MonthlyReport.month, MonthlyReport.site_id, Customer.name, Site.name)
        .join(Customer, MonthlyReport.customer_id == Customer.id)
        .outerjoin(Site, MonthlyReport.site_id == Site.id)
        .where(scope.report_filter())
    )
    if customer_id is not None:
        stmt = stmt.where(MonthlyReport.customer_id == customer_id)
    rows = session.execute(
        stmt.order_by(
            MonthlyReport.month.desc(), Customer.name, MonthlyReport.site_id.is_not(None), Site.name
        ).limit(ARCHIVE_ROWS)
    ).all()
    months: dict[date, list[tuple[int, int | None, str, str | None]]] = {}
    for report_id, month, site_id, customer_name, site_name in rows:
        months.setdefault(month, []).append((report_id, site_id, customer_name, site_name))
    return render_template(
        "reports/archive.html", months=months, customers=customers, customer_id=customer_id,
        truncated=len(rows) == ARCHIVE_ROWS,
    )  # fmt: skip


@bp.get("/<int:report_id>")
@login_required
def report(report_id: int) -> ResponseReturnValue:
    """One report, in the reader's language and reading (plain words for HOA presidents)."""
    record = current_scope().get_report(db_session(), report_id)
    check(current_user, "read_monthly_reports", ONLY)
    body = _renderer().html(
        record,
        locale_code(),
        audience_of(current_user),
        show_satisfaction=can(current_user, "see_satisfaction"),
    )
    return render_template("reports/report.html", report=record, body=body)


@bp.get("/<int:report_id>/pdf")
@login_required
def report_pdf(report_id: int) -> ResponseReturnValue:
    """The report as PDF, as it is e-mailed."""
    record = current_scope().get_report(db_session(), report_id)
    check(current_user, "read_monthly_reports", ONLY)
    data = _renderer().pdf(record, locale_code(), audience_of(current_user))
    return Response(
        data,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{pdf_file_name(record)}"'},
    )
