"""The ZIP of a finished export as a download, for the page and the API alike."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from flask import Response, send_file
from flask_babel import lazy_gettext
from sqlalchemy.orm import Session

from fleet.models import Customer, ExportState, User
from portal.data_export import jobs
from portal.refusal import Refused


def zip_download(session: Session, user: User, export_id: int, folder: Path, now: datetime) -> Response:
    """The user's own export as an attachment: 404 for anyone else's, 409 while it is being
    prepared (or failed), 410 once it is no longer kept."""
    export = jobs.get_own_export(session, user, export_id)
    path = jobs.export_file(export, folder, now)
    if path is None:
        if export.state is ExportState.DONE:
            raise Refused(lazy_gettext("This export is no longer kept; ask for a new one."), 410)
        raise Refused(lazy_gettext("This export is not ready yet."), 409)
    customer = session.get(Customer, export.customer_id)
    return send_file(
        path,
        mimetype="application/zip",
        as_attachment=True,
        download_name=jobs.download_name(export, customer.name if customer else ""),
    )
