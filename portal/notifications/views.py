"""The notification centre and each user's choices of what reaches them, and how."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user, login_required

from fleet.db import utcnow
from fleet.models import Channel
from portal.auth.scope import current_scope
from portal.extensions import db_session
from portal.notifications import service

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.get("")
@login_required
def centre() -> ResponseReturnValue:
    """The user's notifications, latest first, unread marked."""
    session = db_session()
    items = service.centre(session, current_user)
    tz = service.home_timezone(session, current_scope())
    return render_template("notifications/centre.html", items=items, tz=tz)


@bp.post("/read")
@login_required
def read_all() -> ResponseReturnValue:
    """Mark every notification read."""
    session = db_session()
    service.mark_all_read(session, current_user, utcnow())
    session.commit()
    return redirect(url_for("notifications.centre"))


@bp.route("/preferences", methods=["GET", "POST"])
@login_required
def preferences() -> ResponseReturnValue:
    """Per event type and channel: on or off."""
    session = db_session()
    if request.method == "POST":
        service.save_preferences(session, current_user, request.form)
        session.commit()
        flash(gettext("Your choices were saved."), "success")
        return redirect(url_for("notifications.preferences"))
    return render_template(
        "notifications/preferences.html",
        prefs=service.preferences(session, current_user),
        events=service.EVENTS_FOR[current_user.group],
        channels=list(Channel),
    )
