"""The data export through the API: ask for one, follow it, download the ZIP (the same
requests, scope and files as the Export data page)."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import current_app, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from fleet.db import utcnow
from fleet.models import DataExport
from portal.api import schemas as s
from portal.api.http import body, bp, reply
from portal.api.openapi import documented
from portal.auth.scope import current_scope
from portal.data_export import jobs
from portal.data_export.download import zip_download
from portal.extensions import db_session

logger = logging.getLogger(__name__)


def _folder() -> Path:
    return Path(current_app.config["SETTINGS"].export_dir)


def _shown(export: DataExport) -> s.DataExport:
    ready = jobs.export_file(export, _folder(), utcnow()) is not None
    return s.DataExport(
        id=export.id,
        state=export.state,
        progress=export.progress,
        customer_id=export.customer_id,
        asset_count=len(export.asset_ids),
        start=export.start,
        end=export.end,
        requested_at=export.requested_at,
        finished_at=export.finished_at,
        expires_at=export.expires_at,
        size_bytes=export.size_bytes,
        error=export.error,
        download_url=url_for("api.download_data_export", export_id=export.id) if ready else None,
    )


@bp.post("/exports")
@login_required
@documented(
    "Ask for an export of equipment data",
    s.DataExport,
    status=202,
    body=s.ExportIn,
    errors=(403, 404, 422),
    tag="export",
)
def request_data_export() -> ResponseReturnValue:
    """Queue a ZIP of a customer's equipment data (telemetry as CSV and line protocol, events,
    status history, outages, visits with reports, maintenance plans, feedback and survey
    answers without identities, a README and a data dictionary). Units outside your scope
    answer 404; facility managers and vendor staff only (403); at most three exports in
    progress per person (429). Follow it with GET /api/v1/exports/{export_id}."""
    data = body(s.ExportIn)
    session = db_session()
    export = jobs.request_export(
        session,
        current_user,
        current_scope(),
        customer_id=data.customer_id,
        site_id=data.site_id,
        asset_ids=data.asset_ids,
        start=data.start,
        end=data.end,
        now=utcnow(),
        max_days=current_app.config["SETTINGS"].export_max_days,
    )
    session.commit()
    return reply(_shown(export), 202)


@bp.get("/exports/<int:export_id>")
@login_required
@documented("One of your exports", s.DataExport, errors=(404,), tag="export")
def data_export(export_id: int) -> ResponseReturnValue:
    """Where your export stands; ``download_url`` once it is ready. Another person's export
    answers 404."""
    return reply(_shown(jobs.get_own_export(db_session(), current_user, export_id)))


@bp.get("/exports/<int:export_id>/download")
@login_required
@documented("Download an export", s.DataExport, errors=(404, 409, 410), tag="export", file="application/zip")
def download_data_export(export_id: int) -> ResponseReturnValue:
    """The ZIP of a finished export: 409 while it is being prepared (or failed), 410 once it
    is no longer kept."""
    return zip_download(db_session(), current_user, export_id, _folder(), utcnow())
