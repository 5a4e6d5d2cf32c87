"""Write endpoints: report an outage, give feedback, acknowledge a notification, and sync
sites and units from an ERP by natural key. Each goes through the same services, scope
and refusals as the pages."""

from __future__ import annotations

import logging
import uuid
from datetime import date
from enum import Enum
from typing import Any

from flask import current_app
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from fleet.db import utcnow
from fleet.models import Notification
from portal.access import NotVisible, can
from portal.api import schemas as s
from portal.api import serializers as ser
from portal.api.http import BadRequest, body, bp, reply
from portal.api.openapi import documented
from portal.assets.outage_reports import report_outage
from portal.auth.scope import current_scope
from portal.extensions import db_session, get_availability, get_fragments
from portal.feedback import service as feedback_service
from portal.i18n import locale_code
from portal.live.server import announce, feedback_event
from portal.registry import bulk

logger = logging.getLogger(__name__)


@bp.post("/assets/<int:asset_id>/outages")
@login_required
@documented(
    "Report a unit out of service",
    s.Outage,
    status=201,
    body=s.OutageReportIn,
    errors=(403, 404, 409),
    tag="write",
)
def report(asset_id: int) -> ResponseReturnValue:
    """Open a *reported* outage on a unit in scope, now. It enters the unit's timeline like a
    resident's report; people and webhooks are told as for a sensor outage; the technician
    closes it at check-out. Refused (409) while an outage is open on the unit."""
    session = db_session()
    asset = current_scope().get_asset(session, asset_id)  # out of scope: 404 before anything else
    data = body(s.OutageReportIn)
    if not can(current_user, "report_outages"):
        raise BadRequest("Your role may not report outages.", 403)
    outage, event = report_outage(session, asset, current_user, data.description, utcnow())
    session.commit()
    get_availability().forget(asset.id)
    get_fragments().clear()
    announce(current_app, [event])
    return reply(ser.outage(outage), 201)


@bp.post("/feedback")
@login_required
@documented(
    "Give feedback on a site or unit",
    s.Feedback,
    status=201,
    body=s.FeedbackIn,
    errors=(404, 409, 422),
    tag="write",
)
def give_feedback() -> ResponseReturnValue:
    """Feedback from the account on a site in scope or one of its units, as from the
    feedback box. ``submission_id`` makes a retry safe: the same id is stored once (409)."""
    data = body(s.FeedbackIn)
    session, scope = db_session(), current_scope()
    site = scope.get_site(session, data.site_id)
    asset = scope.get_asset(session, data.asset_id) if data.asset_id is not None else None
    if asset is not None and asset.site_id != site.id:
        raise BadRequest("The unit is not at this site.", 422, {"asset_id": ["not a unit of site_id"]})
    entry = feedback_service.FeedbackInput(
        text=data.text.strip(),
        category=data.category,
        rating=data.rating,
        contact=None,
        submission_id=data.submission_id or uuid.uuid4().hex,
    )
    item, _ = feedback_service.submit(
        session, site=site, asset=asset, author=current_user, data=entry, now=utcnow(), language=locale_code()
    )  # refused (a repeated submission_id: 409): the app's handler rolls back and answers
    session.commit()
    announce(current_app, [feedback_event(item)])
    return reply(ser.feedback(item), 201)


@bp.post("/notifications/<int:notification_id>/acknowledge")
@login_required
@documented("Acknowledge a notification", s.Notification, errors=(404,), tag="write")
def acknowledge(notification_id: int) -> ResponseReturnValue:
    """Mark one of the account's notifications read (again: no change, same answer)."""
    session = db_session()
    item = session.get(Notification, notification_id)
    if item is None or item.user_id != current_user.id:
        raise NotVisible
    if item.read_at is None:
        item.read_at = utcnow()
        session.commit()
    return reply(ser.notification(item))


# --- registry sync (ERP) ------------------------------------------------------------------------
def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _sync(kind: str, items: list[Any], dry_run: bool) -> ResponseReturnValue:
    """Create or update ``items`` through the CSV import's rules; all or nothing."""
    if not can(current_user, "administer"):
        raise BadRequest("Syncing the registry is for vendor administrators.", 403)
    session = db_session()
    settings = current_app.config["SETTINGS"]
    rows = [
        (index, {c: _cell(getattr(item, c)) for c in bulk.COLUMNS[kind]}) for index, item in enumerate(items)
    ]
    ctx = bulk.Context(current_user, utcnow(), settings.public_url)
    result = bulk.import_rows(session, kind, rows, ctx, dry_run=dry_run)
    if not result.ok:
        session.rollback()
        fields = {f"items[{r.line}]": r.errors for r in result.rows if r.errors}
        raise BadRequest(f"{len(fields)} of {len(rows)} items refused; nothing was changed.", 422, fields)
    if dry_run:
        session.rollback()
    else:
        session.commit()
        get_fragments().clear()
    return reply(
        s.SyncResult(
            dry_run=dry_run,
            created=result.count("create"),
            updated=result.count("update"),
            unchanged=result.count("unchanged"),
            items=[
                s.SyncItem(
                    index=r.line,
                    key=r.key,
                    action=r.action,
                    changes={c: list(pair) for c, pair in r.changes.items()},
                )
                for r in result.rows
            ],
        )
    )


@bp.put("/registry/sites")
@login_required
@documented("Create or update sites by name", s.SyncResult, body=s.SiteSync, errors=(403, 422), tag="write")
def sync_sites() -> ResponseReturnValue:
    """Sites matched by customer name and site name, created or updated (vendor
    administrators). Every item is checked like a CSV line; if one is refused, nothing is
    changed and the answer lists each refused item. Sending the same body again changes
    nothing. ``dry_run`` reports what would change."""
    data = body(s.SiteSync)
    return _sync("sites", data.items, data.dry_run)


@bp.put("/registry/assets")
@login_required
@documented(
    "Create or update units by MQTT id", s.SyncResult, body=s.AssetSync, errors=(403, 422), tag="write"
)
def sync_assets() -> ResponseReturnValue:
    """Units matched by MQTT id, created or updated, at a site named by customer and site
    name (vendor administrators); all or nothing, idempotent, with ``dry_run``, like sites."""
    data = body(s.AssetSync)
    return _sync("assets", data.items, data.dry_run)
