"""The resident page: one asset, nothing else."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from portal.access import resident_asset
from portal.assets import service
from portal.db import utcnow
from portal.extensions import db_session

bp = Blueprint("resident", __name__, url_prefix="/r")


@bp.get("/<token>")
def asset(token: str) -> ResponseReturnValue:
    """Is it working, since when, and what is happening."""
    session = db_session()
    obj = resident_asset(session, token)
    now = utcnow()
    (summary,) = service.summarise(session, [obj], now)
    return render_template("resident/asset.html", s=summary, now=now)
