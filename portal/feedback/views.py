"""Feedback box (asset, site and resident pages), inbox, item page with its thread."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload

from fleet.db import parse_id, utcnow
from fleet.models import Asset, Feedback, FeedbackStatus, Site
from portal.access import NotVisible, can, resident_asset
from portal.auth.scope import current_scope
from portal.extensions import db_session, get_fragments
from portal.feedback import service
from portal.feedback.presenters import box_context
from portal.feedback.topics import TOPIC_SIGNALS
from portal.i18n import locale_code
from portal.live.server import announce, feedback_event
from portal.refusal import Refused
from portal.satisfaction.questions import reader_question

logger = logging.getLogger(__name__)
bp = Blueprint("feedback", __name__)


def limits() -> service.Limits:
    """The residents' rate limits from the settings."""
    settings = current_app.config["SETTINGS"]
    return service.Limits(settings.feedback_max_per_ip_hour, settings.feedback_max_per_asset_hour)


def _announce(item: Feedback) -> None:
    """Tell open pages of the site and asset, in every portal process, that feedback arrived."""
    announce(current_app, [feedback_event(item)])


def _refused(exc: Refused, action: str, **page: Any) -> ResponseReturnValue:
    """Show the form again with what was typed and the reason (nothing is lost)."""
    html = render_template(
        "feedback/form.html", error=str(exc.message), action=action, form=request.form, **box_context(**page)
    )
    return html, exc.status


# --- submitting -------------------------------------------------------------------------
def _submit_as_account(site: Site, asset: Asset | None, back: str) -> ResponseReturnValue:
    """Store feedback from the logged-in user, or show the form again with the reason."""
    session = db_session()
    action = request.path
    try:
        data = service.parse_form(request.form, resident=False)
        item, _ = service.submit(
            session,
            site=site,
            asset=asset,
            author=current_user,
            data=data,
            now=utcnow(),
            language=locale_code(),
        )
    except Refused as exc:
        session.rollback()
        return _refused(exc, action, title=asset.name if asset else site.name, back=back)
    session.commit()
    _announce(item)
    flash(gettext("Thank you. Your feedback was sent; follow it in Feedback."), "success")
    return redirect(url_for("feedback.item", feedback_id=item.id))


@bp.post("/assets/<int:asset_id>/feedback")
@login_required
def on_asset(asset_id: int) -> ResponseReturnValue:
    """Feedback on one asset from a logged-in user."""
    asset = current_scope().get_asset(db_session(), asset_id)
    return _submit_as_account(asset.site, asset, url_for("assets.asset", asset_id=asset.id))


@bp.post("/sites/<int:site_id>/feedback")
@login_required
def on_site(site_id: int) -> ResponseReturnValue:
    """Feedback on a whole site (building) from a logged-in user."""
    site = current_scope().get_site(db_session(), site_id)
    return _submit_as_account(site, None, url_for("assets.site", site_id=site.id))


@bp.post("/r/<token>/feedback")
def from_resident(token: str) -> ResponseReturnValue:
    """Feedback from the resident link: no account, honeypot and rate limits."""
    session = db_session()
    asset = resident_asset(session, token)
    action = url_for("feedback.from_resident", token=token)
    settings = current_app.config["SETTINGS"]
    try:
        data = service.parse_form(request.form, resident=True)
        item, reader = service.submit(
            session,
            site=asset.site,
            asset=asset,
            author=None,
            data=data,
            now=utcnow(),
            language=locale_code(),
            ip_hash=service.hash_ip(request.remote_addr, settings.secret_key),
            limits=limits(),
        )
    except Refused as exc:
        session.rollback()
        return _refused(
            exc, action, title=asset.name, back=url_for("resident.asset", token=token), resident=True
        )
    session.commit()
    _announce(item)
    flash(gettext("Thank you. Keep this page's address to read the answer."), "success")
    return redirect(url_for("feedback.resident_item", token=token, reader=reader))


@bp.route("/r/<token>/feedback/<reader>", methods=["GET", "POST"])
def resident_item(token: str, reader: str) -> ResponseReturnValue:
    """The resident's own item and its answers; they may answer back."""
    session = db_session()
    asset = resident_asset(session, token)
    try:
        item = service.for_reader(session, asset, reader)
    except Refused:
        raise NotVisible from None
    error, code = None, 200
    if request.method == "POST":
        try:
            service.reply(session, item, None, request.form.get("body", ""), utcnow())
        except Refused as exc:
            session.rollback()
            error, code = str(exc.message), exc.status
        else:
            session.commit()
            return redirect(url_for("feedback.resident_item", token=token, reader=reader))
    html = render_template(
        "feedback/resident_item.html",
        item=item,
        survey=reader_question(item),
        asset=asset,
        token=token,
        reader=reader,
        error=error,
        body=request.form.get("body", ""),
    )
    return html, code


# --- reading and handling ---------------------------------------------------------------
@bp.get("/feedback")
@login_required
def inbox() -> ResponseReturnValue:
    """Feedback the user may read, newest activity first, unread marked; filter by status,
    unread only, or (vendor staff) by owner."""
    session = db_session()
    scope = current_scope()
    stmt = service.visible(current_user, scope).options(
        joinedload(Feedback.site), joinedload(Feedback.asset), joinedload(Feedback.owner)
    )
    status = request.args.get("status") or ""
    errors = []
    if status:
        if status in {s.value for s in FeedbackStatus}:
            stmt = stmt.where(Feedback.status == FeedbackStatus(status))
        else:
            errors.append(gettext("Unknown status %(value)s.", value=status[:30]))
            status = ""
    owner = request.args.get("owner") or ""
    if owner == "me":
        stmt = stmt.where(Feedback.owner_id == current_user.id)
    elif owner == "none":
        stmt = stmt.where(Feedback.owner_id.is_(None))
    elif owner:
        errors.append(gettext("Unknown owner filter."))
        owner = ""
    items = list(session.scalars(stmt.order_by(Feedback.last_activity_at.desc()).limit(200)))
    unread_ids = service.unread_ids(session, current_user, [i.id for i in items])
    if request.args.get("unread") == "1":
        items = [i for i in items if i.id in unread_ids]
    html = render_template(
        "feedback/inbox.html",
        items=items,
        unread_ids=unread_ids,
        status=status,
        owner=owner,
        only_unread=request.args.get("unread") == "1",
        statuses=[s.value for s in FeedbackStatus],
        error=" ".join(errors) or None,
    )
    return html, 400 if errors else 200


def _item_or_404(feedback_id: int) -> Feedback:
    return service.get_visible(db_session(), current_user, current_scope(), feedback_id)


@bp.get("/feedback/<int:feedback_id>")
@login_required
def item(feedback_id: int) -> ResponseReturnValue:
    """One item: text, tags, related outages and signals, thread, and what the user may do."""
    session = db_session()
    try:
        obj = _item_or_404(feedback_id)
    except Refused:
        raise NotVisible from None
    service.mark_read(session, current_user, obj, utcnow())
    session.commit()
    get_fragments().clear()  # unread counts on cached pages changed
    return _render_item(obj)


def _render_item(
    obj: Feedback, error: str | None = None, body: str = "", code: int = 200
) -> ResponseReturnValue:
    session = db_session()
    signals = sorted({s for tag in obj.tag_list for s in TOPIC_SIGNALS.get(tag, ())})
    html = render_template(
        "feedback/item.html",
        item=obj,
        outages=service.related_outages(session, obj),
        signals=signals,
        can_handle=service.can_handle(current_user),
        staff=service.staff_members(session) if can(current_user, "own_feedback") else [],
        statuses=[s.value for s in FeedbackStatus],
        error=error,
        body=body,
    )
    return html, code


def _act(feedback_id: int, action: str) -> ResponseReturnValue:
    session = db_session()
    try:
        obj = _item_or_404(feedback_id)
    except Refused:
        raise NotVisible from None
    now = utcnow()
    try:
        if action == "reply":
            service.reply(session, obj, current_user, request.form.get("body", ""), now)
            flash(gettext("Your reply was added."), "success")
        elif action == "status":
            service.set_status(obj, current_user, request.form.get("status", ""), now)
            flash(gettext("Status changed."), "success")
        else:
            raw = request.form.get("owner_id", "")
            owner_id = parse_id(raw) if raw else None
            if raw and owner_id is None:
                raise Refused(gettext("The owner must be chosen from the list."))
            service.assign(session, obj, current_user, owner_id)
            flash(gettext("Owner changed."), "success")
    except Refused as exc:
        session.rollback()
        obj = _item_or_404(feedback_id)
        return _render_item(obj, str(exc.message), request.form.get("body", ""), exc.status)
    session.commit()
    return redirect(url_for("feedback.item", feedback_id=obj.id))


@bp.post("/feedback/<int:feedback_id>/reply")
@login_required
def add_reply(feedback_id: int) -> ResponseReturnValue:
    """Add a message to the thread."""
    return _act(feedback_id, "reply")


@bp.post("/feedback/<int:feedback_id>/status")
@login_required
def change_status(feedback_id: int) -> ResponseReturnValue:
    """Move the item along (vendor staff and facility managers)."""
    return _act(feedback_id, "status")


@bp.post("/feedback/<int:feedback_id>/owner")
@login_required
def change_owner(feedback_id: int) -> ResponseReturnValue:
    """Give the item an owner among the vendor's staff (vendor staff)."""
    return _act(feedback_id, "owner")
