"""Export requests and their life: asked for on a page or through the API, written by the
worker (:func:`run_next`), downloadable for ``EXPORT_KEEP_DAYS``, then deleted (:func:`expire`).

A request names a customer, one of its sites, or chosen units, and a period; every unit
is checked against the requester's scope (a unit outside it answers 404 like a missing
one). The worker claims a queued export with a conditional update, so two workers never
write the same one; a running export whose worker stopped sending heartbeats is queued
again. Nothing is lost on failure: the export is marked failed with the reason.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flask_babel import lazy_gettext
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from fleet.models import Asset, Customer, DataExport, ExportState, Site, User
from portal.access import NotVisible, Scope, check
from portal.data_export.archive import write_export
from portal.data_export.dictionary import ExportScope
from portal.influxql import TelemetryReader
from portal.refusal import Refused

logger = logging.getLogger(__name__)
MAX_PENDING_PER_PERSON = 3
HEARTBEAT = timedelta(seconds=30)
ONLY = lazy_gettext("Data exports are for facility managers and vendor staff.")


@dataclass(frozen=True)
class ExportRules:
    """Where exports are written and how long they are kept (settings ``EXPORT_*``)."""

    folder: Path
    keep: timedelta = timedelta(days=7)
    max_days: int = 400
    stale: timedelta = timedelta(minutes=10)  # a running export without heartbeat this long is retried


def get_own_export(session: Session, user: User, export_id: int) -> DataExport:
    """One of the user's own exports, or :class:`NotVisible` (nobody else's exists for them)."""
    export = session.scalar(
        select(DataExport).where(DataExport.id == export_id, DataExport.requested_by == user.id)
    )
    if export is None:
        raise NotVisible
    return export


def own_exports(session: Session, user: User, limit: int = 20) -> list[DataExport]:
    """The user's latest exports, newest first."""
    stmt = select(DataExport).where(DataExport.requested_by == user.id).order_by(DataExport.id.desc())
    return list(session.scalars(stmt.limit(limit)))


def _units(
    session: Session, scope: Scope, customer_id: int | None, site_id: int | None, asset_ids: Sequence[int]
) -> tuple[int, list[int]]:
    """(customer id, unit ids) of what is asked for, each in scope (else :class:`NotVisible`)."""
    if asset_ids:
        wanted = set(asset_ids)
        found = list(session.scalars(select(Asset).where(Asset.id.in_(wanted), scope.asset_filter())))
        if len(found) != len(wanted):  # one of them is missing or out of scope: like a missing one
            raise NotVisible
        customers = set(
            session.scalars(select(Site.customer_id).where(Site.id.in_({a.site_id for a in found})))
        )
        if len(customers) != 1:
            raise Refused(
                lazy_gettext("One export covers one customer: choose units of one customer."),
                422,
                {"asset_ids": [str(lazy_gettext("The units belong to several customers."))]},
            )
        return customers.pop(), sorted(a.id for a in found)
    if site_id is not None:
        site = scope.get_site(session, site_id)
        where = Asset.site_id == site.id
        customer = site.customer_id
    elif customer_id is not None:
        customer = scope.get_customer(session, customer_id).id
        where = Asset.site_id.in_(select(Site.id).where(Site.customer_id == customer))
    else:
        raise Refused(
            lazy_gettext("Choose a customer, a site or units."),
            422,
            {"customer_id": [str(lazy_gettext("Choose a customer, a site or units."))]},
        )
    ids = sorted(session.scalars(select(Asset.id).where(where, scope.asset_filter())))
    if not ids:
        raise Refused(
            lazy_gettext("There is no equipment to export there."),
            422,
            {"site_id": [str(lazy_gettext("There is no equipment to export there."))]},
        )
    return customer, ids


def request_export(
    session: Session,
    user: User,
    scope: Scope,
    *,
    customer_id: int | None,
    site_id: int | None,
    asset_ids: Sequence[int],
    start: datetime,
    end: datetime,
    now: datetime,
    max_days: int,
) -> DataExport:
    """Queue an export of what the user asked for, after every check."""
    customer, ids = _units(session, scope, customer_id, site_id, asset_ids)
    check(user, "export_data", ONLY)
    errors: dict[str, list[str]] = {}
    if end <= start:
        errors["end"] = [str(lazy_gettext("The end must come after the start."))]
    elif end - start > timedelta(days=max_days):
        errors["end"] = [str(lazy_gettext("One export covers at most %(days)d days.", days=max_days))]
    if start >= now:
        errors["start"] = [str(lazy_gettext("The start must be in the past."))]
    if errors:
        raise Refused.from_form(errors)
    pending = session.scalar(
        select(func.count(DataExport.id)).where(
            DataExport.requested_by == user.id,
            DataExport.state.in_([ExportState.QUEUED, ExportState.RUNNING]),
        )
    )
    if (pending or 0) >= MAX_PENDING_PER_PERSON:
        raise Refused(
            lazy_gettext(
                "%(num)d of your exports are still being prepared; wait for one to finish.",
                num=MAX_PENDING_PER_PERSON,
            ),
            429,
        )
    export = DataExport(
        requested_by=user.id,
        customer_id=customer,
        asset_ids=ids,
        start=start,
        end=min(end, now),
        requested_at=now,
    )
    session.add(export)
    session.flush()
    logger.info("export %s queued by user %s: %d units", export.id, user.id, len(ids))
    return export


# --- the worker's side ------------------------------------------------------------------------
def claim_next(sessions: sessionmaker[Session], now: datetime, stale: timedelta) -> int | None:
    """Take the oldest queued export (retrying those whose worker died); its id, or None."""
    with sessions() as session, session.begin():
        session.execute(
            update(DataExport)
            .where(DataExport.state == ExportState.RUNNING, DataExport.heartbeat_at < now - stale)
            .values(state=ExportState.QUEUED, progress=0)
        )
        candidate = session.scalar(
            select(DataExport.id)
            .where(DataExport.state == ExportState.QUEUED)
            .order_by(DataExport.requested_at, DataExport.id)
            .limit(1)
        )
        if candidate is None:
            return None
        claimed = session.execute(
            update(DataExport)
            .where(DataExport.id == candidate, DataExport.state == ExportState.QUEUED)
            .values(state=ExportState.RUNNING, started_at=now, heartbeat_at=now, progress=0)
        )
        return candidate if claimed.rowcount == 1 else None  # type: ignore[attr-defined]


def run_next(
    sessions: sessionmaker[Session],
    reader: TelemetryReader,
    rules: ExportRules,
    clock: Callable[[], datetime],
) -> bool:
    """Write the next queued export, if any; True if one was handled (done or failed)."""
    export_id = claim_next(sessions, clock(), rules.stale)
    if export_id is None:
        return False
    with sessions() as session:
        job = session.get(DataExport, export_id)
        if job is None:  # deleted with its customer meanwhile
            return True
        customer = session.get(Customer, job.customer_id)
        scope = ExportScope(customer.name if customer else "", list(job.asset_ids), job.start, job.end)
    rules.folder.mkdir(parents=True, exist_ok=True)
    final = rules.folder / f"export-{export_id}-{secrets.token_hex(8)}.zip"
    partial = final.with_suffix(".part")
    shown = {"percent": -1, "at": clock()}

    def progress(share: float) -> None:
        percent, now = int(share * 100), clock()
        if percent == shown["percent"] and now - shown["at"] < HEARTBEAT:  # type: ignore[operator]
            return
        shown.update(percent=percent, at=now)
        with sessions() as s, s.begin():
            s.execute(
                update(DataExport)
                .where(DataExport.id == export_id, DataExport.state == ExportState.RUNNING)
                .values(progress=min(percent, 99), heartbeat_at=now)
            )

    try:
        with sessions() as session, partial.open("wb") as out:
            counts = write_export(session, reader, scope, out, progress)
        partial.rename(final)
    except Exception as exc:  # any failure is recorded on the export, never lost
        partial.unlink(missing_ok=True)
        logger.exception("export %s failed", export_id)
        _finish(
            sessions, export_id, clock(), state=ExportState.FAILED, error=str(exc)[:500] or type(exc).__name__
        )
        return True
    now = clock()
    _finish(
        sessions,
        export_id,
        now,
        state=ExportState.DONE,
        file_name=final.name,
        size_bytes=final.stat().st_size,
        expires_at=now + rules.keep,
        progress=100,
    )
    logger.info("export %s written: %s", export_id, counts)
    return True


def _finish(sessions: sessionmaker[Session], export_id: int, now: datetime, **values: object) -> None:
    with sessions() as session, session.begin():
        session.execute(
            update(DataExport).where(DataExport.id == export_id).values(finished_at=now, **values)
        )


def expire(sessions: sessionmaker[Session], folder: Path, now: datetime) -> int:
    """Delete the files of exports past their keeping time; returns how many."""
    with sessions() as session, session.begin():
        due = session.scalars(
            select(DataExport).where(
                DataExport.state == ExportState.DONE,
                DataExport.file_name.is_not(None),
                DataExport.expires_at <= now,
            )
        ).all()
        for export in due:
            (folder / str(export.file_name)).unlink(missing_ok=True)
            export.file_name = None
    return len(due)


def export_file(export: DataExport, folder: Path, now: datetime) -> Path | None:
    """The ZIP of a finished export still kept, or None."""
    if export.state is not ExportState.DONE or not export.file_name:
        return None
    if export.expires_at is not None and export.expires_at <= now:
        return None
    path = folder / export.file_name
    return path if path.is_file() else None


def download_name(export: DataExport, customer_name: str) -> str:
    """``equipment-data-lumiere-immobilier-2026-11-01-2026-12-01.zip``."""
    slug = "".join(c if c.isalnum() else "-" for c in customer_name.lower()).strip("-") or "customer"
    return f"equipment-data-{slug}-{export.start:%Y-%m-%d}-{export.end:%Y-%m-%d}.zip"
