"""Condition monitoring: each asset's signal baselines and detector state, the detection
pass's cursor and partitions, and the watch items the sensors open before a failure."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fleet.db import Base, utcnow
from fleet.models._types import enum_type

if TYPE_CHECKING:
    from fleet.models.organisation import Asset


class Signal(StrEnum):
    """A watched signal (hourly)."""

    DOOR_REOPENINGS = "door_reopenings"  # per 100 door cycles
    LEVELING = "leveling"  # levelling error, root mean square of the hour, mm
    MOTOR_TEMPERATURE = "motor_temperature"  # °C, against load
    VIBRATION = "vibration"  # mm/s RMS, against the trips made in the hour
    TRAFFIC = "traffic"  # trips per hour against the unit's weekly pattern


DRIFT_SIGNALS = (Signal.DOOR_REOPENINGS, Signal.LEVELING, Signal.MOTOR_TEMPERATURE, Signal.VIBRATION)


class WatchSeverity(StrEnum):
    """How far a signal has moved from its baseline."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class WatchStatus(StrEnum):
    """A watch item's life: open, then closed one of four ways."""

    OPEN = "open"
    CONFIRMED = "confirmed"  # a technician found the cause (finding code)
    DISMISSED = "dismissed"  # with a reason
    RESOLVED = "resolved"  # the signal came back to its baseline
    FOLLOWED_BY_OUTAGE = "followed_by_outage"


class SignalMonitor(Base):
    """One asset's baseline and detector state for one signal (see
    :mod:`portal.condition.detectors`); ``pattern`` holds traffic's expected trips per hour
    of week."""

    __tablename__ = "signal_monitors"

    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    signal: Mapped[Signal] = mapped_column(enum_type(Signal, 24), primary_key=True)
    fitted_at: Mapped[datetime | None]  # the hour the baseline was fitted up to; null: fit at the next pass
    center: Mapped[float | None]
    scale: Mapped[float | None]
    knots: Mapped[list[list[float]] | None] = mapped_column(
        JSON
    )  # (driver, typical value): signals with a driver (detectors.DRIVER: load or trips)
    hours: Mapped[int] = mapped_column(default=0)
    weight: Mapped[float] = mapped_column(default=0.0)  # door cycles of a typical hour (rates)
    pattern: Mapped[dict[str, float] | None] = mapped_column(JSON)
    ewma: Mapped[float] = mapped_column(default=0.0)
    level: Mapped[float | None]
    trend: Mapped[float] = mapped_column(default=0.0, server_default="0")  # the level's slope per hour
    alarm: Mapped[bool] = mapped_column(default=False)
    elevated_since: Mapped[datetime | None]
    cusum: Mapped[float] = mapped_column(default=0.0)
    calm_hours: Mapped[int] = mapped_column(default=0)


class ConditionCursor(Base):
    """How far the detection pass has read an asset's telemetry: every hour before
    ``through`` is processed; ``last_hour`` is the newest hour's aggregate (its counters
    make the next hour's increases)."""

    __tablename__ = "condition_cursors"

    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    through: Mapped[datetime]
    last_hour: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    first_seen: Mapped[datetime | None]  # the oldest telemetry hour found (two weeks before a baseline)


class ConditionPartition(Base):
    """A share of the assets (``asset_id % partitions == id``), leased by one worker at a time
    for one pass; ``done_through`` is the hour its last pass reached."""

    __tablename__ = "condition_partitions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    owner: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[datetime | None]
    done_through: Mapped[datetime | None]


class WatchItem(Base):
    """A warning the sensors raised on one asset and signal, with its evidence: the baseline
    (``baseline`` ± ``scale``), the level now and at its worst, and since when it moved."""

    __tablename__ = "watch_items"
    __table_args__ = (
        Index("ix_watch_items_asset_status", "asset_id", "status"),
        Index("ix_watch_items_status_opened", "status", "opened_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    signal: Mapped[Signal] = mapped_column(enum_type(Signal, 24))
    severity: Mapped[WatchSeverity] = mapped_column(enum_type(WatchSeverity, 16))
    status: Mapped[WatchStatus] = mapped_column(enum_type(WatchStatus, 24), default=WatchStatus.OPEN)
    opened_at: Mapped[datetime]  # the hour the detector decided
    since: Mapped[datetime]  # when the signal started to move
    updated_at: Mapped[datetime]
    baseline: Mapped[float | None]
    scale: Mapped[float | None]
    level: Mapped[float | None]
    peak_level: Mapped[float | None]
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    finding_code: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    outage_id: Mapped[int | None] = mapped_column(ForeignKey("outages.id", ondelete="SET NULL"))
    check_visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"))
    notified_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    asset: Mapped[Asset] = relationship()
