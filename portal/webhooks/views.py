"""Webhook endpoints for staff and facility managers: list, register (the signing secret is
shown once), see recent deliveries with their last error, resume a paused one, remove."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext, lazy_gettext
from flask_login import current_user, login_required
from sqlalchemy import select

from fleet.db import parse_id, utcnow
from fleet.models import WebhookEndpoint
from portal.access import check, requires
from portal.auth.scope import current_scope
from portal.extensions import db_session
from portal.refusal import Refused
from portal.webhooks import service

logger = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
ONLY = lazy_gettext("Webhooks are for vendor staff and facility managers.")


@bp.route("", methods=["GET", "POST"])
@login_required
@requires("manage_webhooks", ONLY)
def endpoints() -> ResponseReturnValue:
    """The endpoints of the customers in scope, and a form to register one."""
    session, scope = db_session(), current_scope()
    customers = list(session.scalars(scope.customers()))
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        customer_id = parse_id(request.form.get("customer_id", ""))
        if customer_id not in {c.id for c in customers}:
            errors = {"customer_id": [gettext("Choose the customer from the list.")]}
        else:
            try:
                endpoint = service.register(
                    session,
                    current_user,
                    customer_id,
                    request.form.get("url", ""),
                    request.form.getlist("events"),
                    utcnow(),
                    allow_http=not current_app.config["SETTINGS"].is_production,
                )
            except Refused as exc:
                session.rollback()
                errors = exc.errors
            else:
                session.commit()
                return render_template("webhooks/created.html", endpoint=endpoint)
    visible = select(WebhookEndpoint).where(
        WebhookEndpoint.disabled_at.is_(None), WebhookEndpoint.customer_id.in_([c.id for c in customers])
    )
    rows = session.scalars(visible.order_by(WebhookEndpoint.id)).all()
    html = render_template(
        "webhooks/list.html",
        rows=rows,
        customers=customers,
        events=service.EVENTS,
        errors=errors,
        form=request.form,
    )
    return html, 400 if errors else 200


@bp.get("/<int:webhook_id>")
@login_required
def endpoint(webhook_id: int) -> ResponseReturnValue:
    """One endpoint with its recent deliveries."""
    session = db_session()
    record = current_scope().get_webhook(session, webhook_id)
    check(current_user, "manage_webhooks", ONLY)
    return render_template(
        "webhooks/endpoint.html", endpoint=record, deliveries=service.recent(session, record)
    )


@bp.post("/<int:webhook_id>/<any(resume, remove):action>")
@login_required
def act(webhook_id: int, action: str) -> ResponseReturnValue:
    """Resume a paused endpoint, or remove one."""
    session = db_session()
    record = current_scope().get_webhook(session, webhook_id)
    check(current_user, "manage_webhooks", ONLY)
    if action == "resume":
        service.resume(session, record, current_user, utcnow())
        flash(gettext("Resumed: what waited is sent first, in order."), "success")
        target = url_for("webhooks.endpoint", webhook_id=record.id)
    else:
        service.disable(session, record, current_user, utcnow())
        flash(gettext("The endpoint is removed; nothing more is sent to it."), "success")
        target = url_for("webhooks.endpoints")
    session.commit()
    return redirect(target)
