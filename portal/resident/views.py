"""The resident page: one asset, nothing else."""

from __future__ import annotations

from flask import Blueprint, render_template, url_for
from flask.typing import ResponseReturnValue

from fleet.db import utcnow
from portal.access import resident_asset
from portal.assets import service
from portal.assets.presenters import timeline_context
from portal.extensions import db_session
from portal.feedback.presenters import box_context
from portal.live.page import page_config
from portal.satisfaction.questions import resident_question

bp = Blueprint("resident", __name__, url_prefix="/r")


@bp.get("/<token>")
def asset(token: str) -> ResponseReturnValue:
    """Is it working, since when, and what is happening."""
    session = db_session()
    obj = resident_asset(session, token)
    now = utcnow()
    (summary,) = service.summarise(session, [obj], now)
    live = page_config(
        assets=[obj.id], resident=token, resync=url_for("api.resident", token=token), tz=obj.site.timezone
    )
    fb = box_context(action=url_for("feedback.from_resident", token=token))
    return render_template(
        "resident/asset.html",
        s=summary,
        now=now,
        live=live,
        fb=fb,
        survey=resident_question(obj),
        token=token,
        timeline=timeline_context(session, obj, now, resident=token),
    )


@bp.get("/<token>/timeline")
def timeline(token: str) -> ResponseReturnValue:
    """The repair-progress fragment of the resident page (re-read on live events)."""
    session = db_session()
    obj = resident_asset(session, token)
    return render_template(
        "assets/_timeline.html", **timeline_context(session, obj, utcnow(), resident=token)
    )
