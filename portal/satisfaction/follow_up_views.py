"""Follow-ups of the closed loop: vendor staff call back detractors and unhappy customers."""

from __future__ import annotations

import logging

from flask import (
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext, lazy_gettext
from flask_login import current_user, login_required

from fleet.db import parse_id, utcnow
from fleet.models import (
    Audience,
    FollowUpStatus,
)
from portal.access import check
from portal.auth.scope import current_scope
from portal.extensions import db_session
from portal.refusal import Refused
from portal.satisfaction import follow_ups
from portal.satisfaction.blueprint import bp

logger = logging.getLogger(__name__)


# --- follow-ups (vendor staff) ---------------------------------------------------------------------
def _staff_only() -> None:
    check(current_user, "handle_follow_ups", lazy_gettext("Follow-ups are handled by vendor staff."))


@bp.get("/satisfaction/follow-ups")
@login_required
def follow_up_list() -> ResponseReturnValue:
    """Call-back tasks, open first."""
    _staff_only()
    raw = request.args.get("status") or ""
    status = None
    if raw:
        try:
            status = FollowUpStatus(raw)
        except ValueError:
            abort(400, gettext("Unknown status."))
    items = list(db_session().scalars(follow_ups.listing(status).limit(300)))
    return render_template(
        "satisfaction/follow_ups.html", items=items, status=raw, statuses=[s.value for s in FollowUpStatus]
    )


@bp.route("/satisfaction/follow-ups/<int:follow_up_id>", methods=["GET", "POST"])
@login_required
def follow_up(follow_up_id: int) -> ResponseReturnValue:
    """One task with its context; POST changes owner, status and outcome."""
    session = db_session()
    item = current_scope().get_follow_up(session, follow_up_id)  # vendor staff only; 404 for others
    error, code = None, 200
    if request.method == "POST":
        raw_owner = request.form.get("owner_id", "")
        try:
            owner_id = parse_id(raw_owner) if raw_owner else None
            if raw_owner and owner_id is None:
                raise Refused(gettext("The owner must be chosen from the list."))
            follow_ups.update(
                session,
                item,
                current_user,
                status=request.form.get("status"),
                owner_id=owner_id,
                outcome=request.form.get("outcome"),
                now=utcnow(),
            )
        except Refused as exc:
            session.rollback()
            item = current_scope().get_follow_up(session, follow_up_id)
            error, code = str(exc.message), exc.status
        else:
            session.commit()
            flash(gettext("Follow-up updated."), "success")
            return redirect(url_for("satisfaction.follow_up", follow_up_id=item.id))
    from portal.feedback.service import staff_members

    html = render_template(
        "satisfaction/follow_up.html",
        item=item,
        ctx=follow_ups.context(session, item),
        staff=staff_members(session),
        statuses=[s.value for s in FollowUpStatus],
        error=error,
        form=request.form,
        groups=Audience,
    )
    return html, code
