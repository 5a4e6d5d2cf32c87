"""Records the ingester keeps in SQL: the status history and rejected messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fleet.db import Base, utcnow
from fleet.models._types import enum_type
from fleet.models.operations import OperatingState


class StatusChange(Base):
    """One device-reported status, kept so that outages can be rebuilt in timestamp order.

    Unique per asset and timestamp: a redelivered message is recorded once.
    """

    __tablename__ = "status_changes"
    __table_args__ = (UniqueConstraint("asset_id", "ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    ts: Mapped[datetime]
    state: Mapped[OperatingState] = mapped_column(enum_type(OperatingState))
    fault_code: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeadLetter(Base):
    """A rejected MQTT message, truncated, for an operator to inspect (bounded table)."""

    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_reason", "reason"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    topic: Mapped[str] = mapped_column(String(256))
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(String(200), default="")
    payload: Mapped[str] = mapped_column(Text)
