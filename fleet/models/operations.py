"""Operational records: live status, outages, maintenance periods and visits."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fleet.db import Base, utcnow
from fleet.models._types import enum_type

if TYPE_CHECKING:
    from fleet.models.organisation import Asset
    from fleet.models.people import User


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
    on_site_at: Mapped[datetime | None]  # a technician checked in on the asset while it was down
    # notifications: when people were told it opened / closed (the notifier's markers)
    opened_notified_at: Mapped[datetime | None]
    closed_notified_at: Mapped[datetime | None]

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


class PlanKind(StrEnum):
    """What triggers a plan's visits: the calendar, or the equipment's use."""

    CALENDAR = "calendar"
    USAGE = "usage"


class IntervalUnit(StrEnum):
    """The unit of a calendar plan's interval."""

    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"  # same day of the month; the 31st becomes the month's last day


class UsageMetric(StrEnum):
    """Telemetry counters a usage-based plan can follow."""

    TRIPS = "trips"
    DOOR_CYCLES = "door_cycles"


class MaintenancePlan(Base):
    """A maintenance plan of one asset; it generates scheduled visits.

    Calendar plans visit every ``interval`` days, weeks or months from ``first_due``;
    usage plans every ``usage_interval``
    trips or door cycles, read from telemetry. Visits start at ``start_hour`` (site time)
    and last ``duration_minutes``."""

    __tablename__ = "maintenance_plans"
    __table_args__ = (
        CheckConstraint("interval IS NULL OR interval > 0", name="interval_positive"),
        CheckConstraint("usage_interval IS NULL OR usage_interval > 0", name="usage_positive"),
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    kind: Mapped[PlanKind] = mapped_column(enum_type(PlanKind))
    interval: Mapped[int | None]
    interval_unit: Mapped[IntervalUnit | None] = mapped_column(enum_type(IntervalUnit))
    usage_metric: Mapped[UsageMetric | None] = mapped_column(enum_type(UsageMetric))
    usage_interval: Mapped[int | None]
    visit_kind: Mapped[VisitKind] = mapped_column(enum_type(VisitKind), default=VisitKind.PREVENTIVE)
    summary: Mapped[str] = mapped_column(String(300))  # what will be done
    start_hour: Mapped[int] = mapped_column(default=9)
    duration_minutes: Mapped[int] = mapped_column(default=120)
    technician_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    first_due: Mapped[date]  # the first visit's day (site calendar)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    asset: Mapped[Asset] = relationship()
    technician: Mapped[User | None] = relationship()


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
    report: Mapped[str | None] = mapped_column(Text)  # the work done
    parts: Mapped[str | None] = mapped_column(Text)
    findings: Mapped[str | None] = mapped_column(Text)
    next_action: Mapped[str | None] = mapped_column(Text)  # next recommended action
    plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("maintenance_plans.id", ondelete="SET NULL"), index=True
    )
    outage_id: Mapped[int | None] = mapped_column(ForeignKey("outages.id", ondelete="SET NULL"), index=True)
    # an HOA president (or facility manager) asks to meet the technician on site
    meet_requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    meet_requested_at: Mapped[datetime | None]
    meet_note: Mapped[str | None] = mapped_column(String(500))
    # notifications: when people were told it was scheduled / its report was available
    scheduled_notified_at: Mapped[datetime | None]
    report_notified_at: Mapped[datetime | None]

    asset: Mapped[Asset] = relationship()
    technician: Mapped[User | None] = relationship(foreign_keys=[technician_id])
    meet_requester: Mapped[User | None] = relationship(foreign_keys=[meet_requested_by])
    plan: Mapped[MaintenancePlan | None] = relationship()
