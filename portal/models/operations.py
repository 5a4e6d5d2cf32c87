"""Operational records: live status, outages, maintenance periods and visits."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, utcnow
from portal.models._types import enum_type

if TYPE_CHECKING:
    from portal.models.organisation import Asset
    from portal.models.people import User


class OperatingState(StrEnum):
    """Live state of an asset. ``offline`` means no message for too long: state unknown."""

    IN_SERVICE = "in_service"
    OUT_OF_SERVICE = "out_of_service"
    MAINTENANCE = "maintenance"
    DEGRADED = "degraded"
    OFFLINE = "offline"


class DetectedBy(StrEnum):
    """First signal of an outage."""

    SENSOR = "sensor"
    REPORT = "report"
    TECHNICIAN = "technician"


class AssetStatus(Base):
    """The latest known status of one asset (one row per asset)."""

    __tablename__ = "asset_status"

    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[OperatingState] = mapped_column(enum_type(OperatingState))
    fault_code: Mapped[str | None] = mapped_column(String(64))
    since: Mapped[datetime]
    reported_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]

    asset: Mapped[Asset] = relationship(back_populates="status")


class Outage(Base):
    """An unplanned period out of service, from detection to back in service."""

    __tablename__ = "outages"
    __table_args__ = (
        UniqueConstraint("asset_id", "started_at"),
        Index("ix_outages_open", "asset_id", "ended_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    fault_code: Mapped[str | None] = mapped_column(String(64))
    cause: Mapped[str | None] = mapped_column(String(300))
    detected_by: Mapped[DetectedBy] = mapped_column(enum_type(DetectedBy), default=DetectedBy.SENSOR)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # dispatch: vendor staff assign a field technician with an expected arrival time
    technician_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    eta: Mapped[datetime | None]
    assigned_at: Mapped[datetime | None]

    asset: Mapped[Asset] = relationship()
    technician: Mapped[User | None] = relationship()


class MaintenancePeriod(Base):
    """A period under maintenance; it does not count against availability."""

    __tablename__ = "maintenance_periods"
    __table_args__ = (UniqueConstraint("asset_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]

    asset: Mapped[Asset] = relationship()


class VisitKind(StrEnum):
    """Why a technician visits."""

    PREVENTIVE = "preventive"
    REPAIR = "repair"
    INSPECTION = "inspection"
    MODERNISATION = "modernisation"


class VisitStatus(StrEnum):
    """Life cycle of a visit."""

    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Visit(Base):
    """A technician visit on an asset, planned or done."""

    __tablename__ = "visits"
    __table_args__ = (Index("ix_visits_asset_start", "asset_id", "scheduled_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    kind: Mapped[VisitKind] = mapped_column(enum_type(VisitKind))
    status: Mapped[VisitStatus] = mapped_column(enum_type(VisitStatus), default=VisitStatus.SCHEDULED)
    scheduled_start: Mapped[datetime]
    scheduled_end: Mapped[datetime]
    summary: Mapped[str] = mapped_column(String(300))
    technician_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    checked_in_at: Mapped[datetime | None]
    checked_out_at: Mapped[datetime | None]
    report: Mapped[str | None] = mapped_column(Text)

    asset: Mapped[Asset] = relationship()
    technician: Mapped[User | None] = relationship()
