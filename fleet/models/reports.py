"""What the vendor gives back: monthly service reports and exports of a customer's data."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fleet.db import Base, utcnow
from fleet.models._types import enum_type


class MonthlyReport(Base):
    """The service report of one customer (``site_id`` null) or one site for one calendar
    month of its time zone, as issued: ``figures`` holds the numbers and names (no words, so
    each reader sees it in their own language)."""

    __tablename__ = "monthly_reports"
    __table_args__ = (
        UniqueConstraint("scope_key", "month"),
        Index("ix_monthly_reports_customer", "customer_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scope_key: Mapped[str] = mapped_column(String(24))  # "customer:3" or "site:12": one report per month
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    month: Mapped[date] = mapped_column(Date)  # the first day of the month reported on
    timezone: Mapped[str] = mapped_column(String(64))
    generated_at: Mapped[datetime] = mapped_column(default=utcnow)
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)


class ExportState(StrEnum):
    """Where a data export stands."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class DataExport(Base):
    """A request to export a customer's equipment data as one ZIP, written by the worker."""

    __tablename__ = "data_exports"
    __table_args__ = (Index("ix_data_exports_state", "state", "requested_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    asset_ids: Mapped[list[int]] = mapped_column(JSON)  # resolved and checked when requested
    start: Mapped[datetime]
    end: Mapped[datetime]
    state: Mapped[ExportState] = mapped_column(enum_type(ExportState), default=ExportState.QUEUED)
    progress: Mapped[int] = mapped_column(default=0)  # percent
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]  # a running export's last sign of life (a dead worker's is retried)
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]  # the file is deleted then
    file_name: Mapped[str | None] = mapped_column(String(200))
    size_bytes: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(500))
