"""Login and logout pages."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user, login_required, login_user, logout_user

from fleet.db import utcnow
from fleet.models import LinkPurpose
from portal.auth import recovery
from portal.auth.forms import ForgotForm, LoginForm, ResetForm
from portal.auth.service import LoginError, LoginThrottled, ThrottlePolicy, authenticate
from portal.extensions import db_session
from portal.refusal import Refused
from portal.web.redirects import safe_next

logger = logging.getLogger(__name__)
bp = Blueprint("auth", __name__, url_prefix="/auth")


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Show the login form; on valid credentials start a session."""
    if current_user.is_authenticated:
        return redirect(url_for("assets.home"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        settings = current_app.config["SETTINGS"]
        policy = ThrottlePolicy(
            max_failures_per_account=settings.login_max_failures,
            max_failures_per_ip=settings.login_max_failures_per_ip,
            window=timedelta(minutes=settings.login_window_minutes),
        )
        try:
            user = authenticate(
                db_session(),
                form.email.data or "",
                form.password.data or "",
                request.remote_addr or "unknown",
                policy,
            )
        except LoginThrottled:
            flash(gettext("Too many failed attempts. Wait a few minutes and try again."), "error")
            status = 429
        except LoginError:
            flash(gettext("Wrong e-mail or password."), "error")
            status = 401
        else:
            session.clear()
            session.permanent = True
            login_user(user)
            return redirect(safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    """End the session."""
    logger.info("logout user_id=%s", current_user.id)
    logout_user()
    session.clear()
    flash(gettext("You are logged out."), "info")
    return redirect(url_for("auth.login"))


def _recovery_rules() -> recovery.RecoveryRules:
    settings = current_app.config["SETTINGS"]
    return recovery.RecoveryRules(
        link_valid=timedelta(minutes=settings.password_reset_link_minutes),
        max_per_hour=settings.password_reset_max_per_hour,
        min_password_length=settings.password_min_length,
    )


@bp.route("/forgot", methods=["GET", "POST"])
def forgot() -> ResponseReturnValue:
    """Ask for a reset link; the answer never says whether the address has an account."""
    form = ForgotForm()
    if form.validate_on_submit():
        session_ = db_session()
        settings = current_app.config["SETTINGS"]
        recovery.request_reset(
            session_, form.email.data or "", utcnow(), settings.public_url, _recovery_rules()
        )
        session_.commit()
        return render_template("auth/forgot.html", form=form, sent=True)
    return render_template(
        "auth/forgot.html", form=form, sent=False
    ), 400 if request.method == "POST" else 200


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str) -> ResponseReturnValue:
    """Choose a new password through a one-time link; every session of the account ends."""
    return _set_password(token, LinkPurpose.RESET)


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invite(token: str) -> ResponseReturnValue:
    """An invited person chooses their password through the link in their invitation."""
    return _set_password(token, LinkPurpose.INVITE)


def _set_password(token: str, purpose: LinkPurpose) -> ResponseReturnValue:
    session_ = db_session()
    form = ResetForm()
    invite = purpose is LinkPurpose.INVITE
    try:
        recovery.valid_link(session_, token, utcnow(), purpose)
    except Refused as exc:
        return render_template(
            "auth/reset.html", form=None, error=str(exc.message), invite=invite
        ), exc.status
    if form.validate_on_submit():
        try:
            recovery.reset_password(session_, token, form.password.data or "", form.confirm.data or "",
                                    utcnow(), _recovery_rules(), purpose)  # fmt: skip
        except Refused as exc:
            session_.rollback()
            html = render_template("auth/reset.html", form=form, error=None, errors=exc.errors, invite=invite)
            return html, exc.status
        session_.commit()
        logout_user()
        session.clear()
        flash(gettext("Your new password is set. Log in with it."), "success")
        return redirect(url_for("auth.login"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/reset.html", form=form, error=None, errors={}, invite=invite), status
