"""Feedback pieces that several pages show (the box, its recent items, unread counts).

A presenter: the asset, site, building and resident pages and the page header use it;
no routes here, and it never writes.
"""

from __future__ import annotations

from typing import Any

from flask import g
from flask_login import current_user

from fleet.models import Feedback, FeedbackCategory
from portal.auth.scope import current_scope
from portal.extensions import db_session
from portal.feedback import service


def unread_map() -> dict[int | None, int]:
    """The current user's unread feedback per asset, read once per request (the page
    body and the header both show it)."""
    if "feedback_unread" not in g:
        g.feedback_unread = service.unread_by_asset(db_session(), current_user, current_scope())
    return g.feedback_unread


def box_context(**extra: Any) -> dict[str, Any]:
    """What the feedback form macro needs (a fresh one-time submission id)."""
    return {
        "categories": [c.value for c in FeedbackCategory],
        "submission_id": service.new_submission_id(),
        **extra,
    }


def recent_for(asset_id: int | None = None, site_id: int | None = None, limit: int = 5) -> list[Feedback]:
    """The latest items on an asset or site that the current user may read (for the box)."""
    stmt = service.visible(current_user, current_scope())
    stmt = stmt.where(Feedback.asset_id == asset_id) if asset_id else stmt.where(Feedback.site_id == site_id)
    return list(db_session().scalars(stmt.order_by(Feedback.created_at.desc()).limit(limit)))
