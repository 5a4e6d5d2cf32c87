"""Login and logout pages."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext, lazy_gettext
from flask_login import current_user, login_required, login_user, logout_user

from fleet.db import utcnow
from fleet.models import LinkPurpose, User
from portal.access import can
from portal.auth import recovery
from portal.auth import second_factor as second_factor_codes
from portal.auth.forms import CodeForm, ForgotForm, LoginForm, ResetForm
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
            target = safe_next(request.args.get("next"))
            if user.totp_secret:  # the password was right; the code comes next
                session.clear()
                session[PENDING] = {"user": user.id, "token": user.session_token, "next": target, "wrong": 0}
                return redirect(url_for("auth.second_factor"))
            _start_session(user)
            return redirect(target)
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


PENDING = "second_factor_pending"
ENROLLING = "second_factor_secret"
# pages a staff member without a second factor may still open when REQUIRE_STAFF_MFA is on
SETUP_ENDPOINTS = frozenset({"auth.second_factor_setup", "auth.logout", "static"})


def _start_session(user: User) -> None:
    session.clear()
    session.permanent = True
    login_user(user)


@bp.route("/second-factor", methods=["GET", "POST"])
def second_factor() -> ResponseReturnValue:
    """The code from the authenticator app, after a right password."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict):
        return redirect(url_for("auth.login"))
    session_ = db_session()
    user = session_.get(User, pending["user"])
    if user is None or not user.is_active or user.session_token != pending["token"] or not user.totp_secret:
        session.pop(PENDING, None)
        return redirect(url_for("auth.login"))
    form = CodeForm()
    if form.validate_on_submit():
        if second_factor_codes.verify(session_, user, form.code.data or "", utcnow()):
            session_.commit()
            _start_session(user)
            return redirect(pending["next"])
        pending["wrong"] += 1
        session[PENDING] = pending
        if pending["wrong"] >= second_factor_codes.MAX_WRONG_CODES:
            session.pop(PENDING, None)
            flash(gettext("Too many wrong codes. Log in again."), "error")
            return redirect(url_for("auth.login"))
        flash(gettext("This code is not right, or was already used. Type the current code."), "error")
        return render_template("auth/second_factor.html", form=form), 401
    return render_template("auth/second_factor.html", form=form), 400 if request.method == "POST" else 200


@bp.route("/second-factor/setup", methods=["GET", "POST"])
@login_required
def second_factor_setup() -> ResponseReturnValue:
    """Turn the second factor on: scan the QR code, type a code to confirm; or see that it is on."""
    user = current_user._get_current_object()
    form = CodeForm()
    if user.totp_secret:
        required = _second_factor_required(user)
        return render_template("auth/second_factor_setup.html", form=form, on=True, required=required)
    secret = session.get(ENROLLING) or second_factor_codes.new_secret()
    session[ENROLLING] = secret
    status = 200
    if form.validate_on_submit():
        session_ = db_session()
        if second_factor_codes.enrol(session_, user, secret, form.code.data or "", utcnow()):
            session_.commit()
            session.pop(ENROLLING, None)
            flash(gettext("Two-step sign-in is on: you will be asked for a code at each login."), "success")
            return redirect(url_for("assets.home"))
        flash(gettext("This code is not right. Type the code the app shows now."), "error")
        status = 400
    elif request.method == "POST":
        status = 400
    uri = second_factor_codes.provisioning_uri(secret, user.email)
    return render_template("auth/second_factor_setup.html", form=form, on=False, secret=secret,
                           qr=second_factor_codes.qr_data_uri(uri)), status  # fmt: skip


@bp.post("/second-factor/off")
@login_required
def second_factor_off() -> ResponseReturnValue:
    """Turn the second factor off, with a current code (not when it is required)."""
    user = current_user._get_current_object()
    if _second_factor_required(user):
        raise Refused(lazy_gettext("Two-step sign-in is required for vendor staff."), 403)
    form = CodeForm()
    session_ = db_session()
    if not (
        form.validate_on_submit()
        and second_factor_codes.verify(session_, user, form.code.data or "", utcnow())
    ):
        raise Refused(lazy_gettext("This code is not right, or was already used. Type the current code."))
    second_factor_codes.remove(session_, user, user, utcnow())
    session_.commit()
    flash(gettext("Two-step sign-in is off."), "success")
    return redirect(url_for("auth.second_factor_setup"))


def _second_factor_required(user: User) -> bool:
    return bool(current_app.config["SETTINGS"].require_staff_mfa) and can(user, "needs_second_factor")


@bp.before_app_request
def _enrol_staff_first() -> ResponseReturnValue | None:
    """With ``REQUIRE_STAFF_MFA``, vendor staff without a second factor can only set one up."""
    if not current_app.config["SETTINGS"].require_staff_mfa or request.endpoint in SETUP_ENDPOINTS:
        return None
    user = current_user
    if not user.is_authenticated or user.totp_secret or not _second_factor_required(user):
        return None
    if request.path.startswith("/api/"):
        return {"error": "set up two-step sign-in first"}, 403
    return redirect(url_for("auth.second_factor_setup"))


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
