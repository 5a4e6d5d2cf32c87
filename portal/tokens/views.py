"""The account's API tokens: list, create (shown once), revoke."""

from __future__ import annotations

import logging

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user, login_required

from fleet.db import utcnow
from portal.access import NotVisible
from portal.extensions import db_session
from portal.refusal import Refused
from portal.tokens import service

logger = logging.getLogger(__name__)
bp = Blueprint("tokens", __name__, url_prefix="/account/tokens")
LIFETIMES = (30, 90, 365)  # days a new token may live


@bp.route("", methods=["GET", "POST"])
@login_required
def tokens() -> ResponseReturnValue:
    """The account's tokens, and a form to create one."""
    session = db_session()
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        days = request.form.get("days", "")
        if days not in {str(d) for d in LIFETIMES}:
            errors = {"days": [gettext("Choose how long the token lives.")]}
        else:
            try:
                new = service.create(session, current_user, request.form.get("name", ""), int(days), utcnow())
            except Refused as exc:
                session.rollback()
                errors = exc.errors or {"name": [str(exc.message)]}
            else:
                session.commit()
                return render_template("tokens/created.html", token=new.record, secret=new.secret)
    html = render_template("tokens/list.html", rows=service.owned(session, current_user), now=utcnow(),
                           lifetimes=LIFETIMES, errors=errors, form=request.form)  # fmt: skip
    return html, 400 if errors else 200


@bp.post("/<int:token_id>/revoke")
@login_required
def revoke(token_id: int) -> ResponseReturnValue:
    """Stop a token working at once."""
    session = db_session()
    token = service.get_owned(session, current_user, token_id)
    if token is None:
        raise NotVisible
    service.revoke(session, token, current_user, utcnow())
    session.commit()
    flash(gettext("The token %(name)s no longer works.", name=token.name), "success")
    return redirect(url_for("tokens.tokens"))
