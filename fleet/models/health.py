"""Relationship health: daily snapshots per customer × stakeholder group and per site, the
points staff give each factor, and the outreach tasks opened before dissatisfaction shows."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fleet.db import Base, utcnow
from fleet.models._types import enum_type

if TYPE_CHECKING:
    from fleet.models.organisation import Customer, Site
    from fleet.models.people import User


class OutreachChannel(StrEnum):
    """How the vendor reaches out."""

    CALL = "call"
    EMAIL = "email"
    MEET = "meet"  # at the next visit (the technician sees it)


class OutreachStatus(StrEnum):
    """Open until its outcome is recorded."""

    OPEN = "open"
    DONE = "done"


class HealthSnapshot(Base):
    """One relationship's health on one day: ``key`` is ``customer:3:facility_manager`` or
    ``site:12:hoa_president`` (a building), ``reasons`` the factors that cost points."""

    __tablename__ = "health_snapshots"
    __table_args__ = (UniqueConstraint("key", "day"), Index("ix_health_snapshots_day", "day"))

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    group: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)
    score: Mapped[float]
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class SatisfactionEquation(Base):
    """One group's fitted satisfaction equation for one question (the worker refits them
    daily): answer points per unit of each lever with a 90 % band, or no weights when the
    sample was too small (``answers`` says how many there were)."""

    __tablename__ = "satisfaction_equations"
    __table_args__ = (UniqueConstraint("group", "question"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group: Mapped[str] = mapped_column(String(32))
    question: Mapped[str] = mapped_column(String(8))
    answers: Mapped[int]
    intercept: Mapped[float]
    weights: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{lever, weight, low, high}]
    r2: Mapped[float | None]
    since: Mapped[datetime]  # the answers fitted were given from here …
    fitted_at: Mapped[datetime] = mapped_column(default=utcnow)  # … to here


class HealthPoints(Base):
    """The points staff give one factor (all factors add up to 100)."""

    __tablename__ = "health_points"

    factor: Mapped[str] = mapped_column(String(40), primary_key=True)
    points: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class OutreachTask(Base):
    """A call, an e-mail or a meeting at the next visit that staff make because a group's
    risk crossed the threshold, with the reasons then, and its outcome."""

    __tablename__ = "outreach_tasks"
    __table_args__ = (Index("ix_outreach_tasks_status", "status", "opened_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), index=True)  # the relationship (as in snapshots)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    group: Mapped[str] = mapped_column(String(32))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    channel: Mapped[OutreachChannel] = mapped_column(enum_type(OutreachChannel, 16))
    status: Mapped[OutreachStatus] = mapped_column(enum_type(OutreachStatus, 16), default=OutreachStatus.OPEN)
    risk: Mapped[float]
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"))
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reached: Mapped[bool | None]
    cause_found: Mapped[bool | None]
    action_agreed: Mapped[str | None] = mapped_column(Text)

    customer: Mapped[Customer] = relationship()
    site: Mapped[Site | None] = relationship()
    person: Mapped[User | None] = relationship(foreign_keys=[person_id])
