"""A person reports a unit out of service (API, or later a page): the outage enters the
timeline as *reported*, like a resident's report, and is closed by the technician's
check-out (the sensors only close what they opened)."""

from __future__ import annotations

import logging
from datetime import datetime

from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.live import LiveEvent, LiveKind
from fleet.models import Asset, DetectedBy, OperatingState, Outage, User
from portal.refusal import Refused

logger = logging.getLogger(__name__)


def report_outage(
    session: Session, asset: Asset, by: User, description: str, now: datetime
) -> tuple[Outage, LiveEvent]:
    """Open a reported outage on ``asset`` now; 409 while another outage is open on it.

    The notifier tells people and webhooks on its next pass, as for a sensor outage."""
    session.execute(select(Asset.id).where(Asset.id == asset.id).with_for_update())  # one report at a time
    open_one = session.scalar(select(Outage).where(Outage.asset_id == asset.id, Outage.ended_at.is_(None)))
    if open_one is not None:
        raise Refused(
            lazy_gettext(
                "An outage is already open on this unit (no. %(id)d, since %(since)s).",
                id=open_one.id,
                since=open_one.started_at.isoformat(timespec="minutes"),
            ),
            409,
        )
    outage = Outage(
        asset_id=asset.id,
        started_at=now,
        detected_by=DetectedBy.REPORT,
        cause=description.strip(),
        created_at=now,
    )
    session.add(outage)
    session.flush()
    logger.info("outage %s on asset %s reported by user %s", outage.id, asset.id, by.id)
    event = LiveEvent(
        LiveKind.OUTAGE_OPENED,
        asset.id,
        now.isoformat(),
        asset.mqtt_id,
        OperatingState.OUT_OF_SERVICE.value,
        None,
        outage.id,
    )
    return outage, event
