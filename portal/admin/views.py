"""People pages for administrators: the list, an invitation, one person and their actions."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext, lazy_gettext
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from fleet.db import utcnow
from fleet.models import Customer, Site, StakeholderGroup
from portal import audit
from portal.access import check, get_person, requires
from portal.admin import people
from portal.admin.forms import InviteForm, PersonForm
from portal.auth import second_factor
from portal.extensions import db_session
from portal.refusal import Refused
from portal.web.spreadsheet import csv_response

logger = logging.getLogger(__name__)
bp = Blueprint("admin", __name__, url_prefix="/admin")

ADMINS_ONLY = lazy_gettext("Only administrators manage people.")


def _site_choices() -> list[tuple[str, str]]:
    rows = db_session().execute(
        select(Site.id, Site.name, Customer.name).join(Customer).order_by(Customer.name, Site.name)
    )
    return [(str(sid), f"{customer} — {site}") for sid, site, customer in rows]


def _customers() -> list[tuple[int, str]]:
    return [(c.id, c.name) for c in db_session().scalars(select(Customer).order_by(Customer.name))]


def _choices() -> dict[str, object]:
    """What the person fields offer: sites, customers and groups."""
    return {
        "sites": _site_choices(),
        "customers": _customers(),
        "groups": [g.value for g in StakeholderGroup],
    }


def _invitation(form: InviteForm, email: str) -> people.Invitation:
    """A validated invitation or account change (the e-mail comes with it, or stays)."""
    return people.Invitation(
        email, form.name.data, StakeholderGroup(form.group.data), form.customer_id.data,
        form.site_ids.data, form.locale.data, bool(form.is_admin.data),
    )  # fmt: skip


@bp.get("/people")
@login_required
@requires("administer", ADMINS_ONLY)
def people_list() -> ResponseReturnValue:
    """Every account with its group, scope and state."""
    return render_template("admin/people.html", rows=people.people(db_session(), utcnow()))


@bp.route("/people/invite", methods=["GET", "POST"])
@login_required
@requires("administer", ADMINS_ONLY)
def invite() -> ResponseReturnValue:
    """Invite someone by e-mail: they choose their password through a one-time link (72 h)."""
    form = InviteForm(request.form)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        if form.validate():
            session = db_session()
            data = _invitation(form, form.email.data)
            try:
                public_url = current_app.config["SETTINGS"].public_url
                user = people.invite(session, data, current_user, utcnow(), public_url, people.INVITE_VALID)
            except Refused as exc:
                session.rollback()
                errors = exc.errors
            else:
                session.commit()
                flash(gettext("Invitation sent to %(email)s.", email=user.email), "success")
                return redirect(url_for("admin.person", user_id=user.id))
        else:
            errors = {name: [str(m) for m in messages] for name, messages in form.errors.items()}
    status = 400 if errors else 200
    return render_template("admin/invite.html", form=request.form, errors=errors, **_choices()), status


@bp.get("/people/<int:user_id>")
@login_required
def person(user_id: int) -> ResponseReturnValue:
    """One account: group, scope, state, invitation; the actions on it."""
    session = db_session()
    user = get_person(session, current_user, user_id)
    return render_template("admin/person.html", row=people.row(session, user, utcnow()))


@bp.route("/people/<int:user_id>/edit", methods=["GET", "POST"])
@login_required
def edit(user_id: int) -> ResponseReturnValue:
    """Change a person's name, group, scope, language or administrator right."""
    session = db_session()
    user = get_person(session, current_user, user_id)
    errors: dict[str, list[str]] = {}
    typed: Mapping[str, str] = request.form
    if request.method == "POST":
        form = PersonForm(request.form)
        if form.validate():
            data = _invitation(form, user.email)
            try:
                people.change(session, user, data, current_user, utcnow())
            except Refused as exc:
                session.rollback()
                errors = exc.errors
            else:
                session.commit()
                flash(gettext("%(name)s's account is changed.", name=user.name), "success")
                return redirect(url_for("admin.person", user_id=user.id))
        else:
            errors = {name: [str(m) for m in messages] for name, messages in form.errors.items()}
    else:
        typed = MultiDict([
            ("name", user.name), ("group", user.group.value), ("customer_id", str(user.customer_id or "")),
            ("locale", user.locale), *(("site_ids", str(site.id)) for site in user.sites),
            *((("is_admin", "y"),) if user.is_admin else ()),
        ])  # fmt: skip
    html = render_template("admin/edit.html", person=user, form=typed, errors=errors, **_choices())
    return html, 400 if errors else 200


def _act(user_id: int, action: str) -> ResponseReturnValue:
    session = db_session()
    user = get_person(session, current_user, user_id)
    now = utcnow()
    if action == "deactivate":
        people.deactivate(session, user, current_user, now)
        message = gettext("%(name)s can no longer log in; their open sessions ended.", name=user.name)
    elif action == "second_factor_off":
        check(current_user, "administer", ADMINS_ONLY)
        second_factor.remove(session, user, current_user, now)
        message = gettext("Two-step sign-in is off for %(name)s; they can turn it on again.", name=user.name)
    elif action == "revoke":
        people.revoke(session, user, current_user, now)
        message = gettext("The invitation is withdrawn; its link no longer works.")
    elif action == "reactivate":
        people.reactivate(session, user, current_user, now)
        message = gettext("%(name)s can log in again.", name=user.name)
    else:
        people.resend(
            session, user, current_user, now, current_app.config["SETTINGS"].public_url, people.INVITE_VALID
        )
        message = gettext("A new invitation was sent; the earlier link no longer works.")
    session.commit()
    flash(message, "success")
    return redirect(url_for("admin.person", user_id=user.id))


@bp.post("/people/<int:user_id>/deactivate")
@login_required
def deactivate(user_id: int) -> ResponseReturnValue:
    """End the account's access now."""
    return _act(user_id, "deactivate")


@bp.post("/people/<int:user_id>/reactivate")
@login_required
def reactivate(user_id: int) -> ResponseReturnValue:
    """Give the account its access back."""
    return _act(user_id, "reactivate")


@bp.post("/people/<int:user_id>/second-factor-off")
@login_required
def person_second_factor_off(user_id: int) -> ResponseReturnValue:
    """Turn a person's second factor off (a lost phone)."""
    return _act(user_id, "second_factor_off")


@bp.post("/people/<int:user_id>/revoke")
@login_required
def revoke(user_id: int) -> ResponseReturnValue:
    """Withdraw an unanswered invitation (the link stops working, the account is deactivated)."""
    return _act(user_id, "revoke")


@bp.post("/people/<int:user_id>/resend")
@login_required
def resend(user_id: int) -> ResponseReturnValue:
    """Send a fresh invitation (the earlier link stops working)."""
    return _act(user_id, "resend")


AUDIT_PAGE = 100


def _audit_filters() -> audit.AuditFilters:
    """Filters from the query string; unusable ones are refused with their name (400)."""
    args = request.args
    action = args.get("action") or None
    if action is not None and action not in audit.ACTIONS:
        raise Refused(gettext("Unknown action %(value)s.", value=action[:40]))
    dates = {}
    for name in ("from", "to"):
        raw = args.get(name) or ""
        if raw:
            try:
                dates[name] = datetime.combine(date.fromisoformat(raw), time(0), UTC)
            except ValueError:
                raise Refused(gettext("Dates are written YYYY-MM-DD.")) from None
    end = dates["to"] + timedelta(days=1) if "to" in dates else None
    actor = (args.get("actor") or "").strip()[:254] or None
    kind = (args.get("kind") or "").strip()[:40] or None
    return audit.AuditFilters(action, actor, kind, dates.get("from"), end)


@bp.get("/audit")
@login_required
@requires("administer", ADMINS_ONLY)
def audit_log() -> ResponseReturnValue:
    """Who did what, when, with the values before and after (read-only), newest first."""
    filters = _audit_filters()
    rows = db_session().scalars(audit.entries(filters).limit(AUDIT_PAGE)).all()
    return render_template("admin/audit.html", rows=rows, actions=audit.ACTIONS, args=request.args,
                           limit=AUDIT_PAGE)  # fmt: skip


@bp.get("/audit.csv")
@login_required
@requires("administer", ADMINS_ONLY)
def audit_csv() -> ResponseReturnValue:
    """The filtered audit log as CSV (every entry, cells escaped for spreadsheets)."""
    header: list[object] = ["at_utc", "actor", "action", "object_kind", "object_id", "before", "after"]
    rows: list[list[object]] = [header]
    for e in db_session().scalars(audit.entries(_audit_filters())):
        rows.append([e.at.strftime("%Y-%m-%dT%H:%M:%SZ"), e.actor, e.action, e.object_kind, e.object_id,
                     e.before, e.after])  # fmt: skip
    return csv_response(rows, "audit-log.csv")
