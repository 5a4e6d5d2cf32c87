"""Notifications: what each user is told, how they want to be told, and the e-mail outbox."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fleet.db import Base, utcnow
from fleet.models._types import enum_type

if TYPE_CHECKING:
    from fleet.models.people import User


class EventType(StrEnum):
    """What a user can be told about (each can be switched on or off per channel)."""

    OUTAGE_OPENED = "outage_opened"
    OUTAGE_CLOSED = "outage_closed"
    VISIT_SCHEDULED = "visit_scheduled"
    REPORT_AVAILABLE = "report_available"
    FEEDBACK_REPLY = "feedback_reply"
    MEET_REQUEST = "meet_request"  # technicians: an HOA president wants to meet them
    MONTHLY_REPORT = "monthly_report"  # last month's service report (the e-mail carries the PDF)
    SENSOR_WARNING = "sensor_warning"  # the sensors see a unit drifting before it fails


class Channel(StrEnum):
    """Where a notification goes."""

    PORTAL = "portal"
    EMAIL = "email"


class Notification(Base):
    """One entry of a user's notification centre; repeats within the quiet period are grouped."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_created", "user_id", "created_at"),
        Index("ix_notifications_group", "user_id", "group_key", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    event: Mapped[EventType] = mapped_column(enum_type(EventType))
    group_key: Mapped[str] = mapped_column(String(80))  # e.g. "outage:asset:12": repeats group here
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(300))
    count: Mapped[int] = mapped_column(default=1)  # how many events this entry stands for
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
    in_portal: Mapped[bool] = mapped_column(default=True)  # False: e-mail only

    user: Mapped[User] = relationship()


class NotificationPreference(Base):
    """A user's choice for one event type and channel (no row: the group's default)."""

    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("user_id", "event", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    event: Mapped[EventType] = mapped_column(enum_type(EventType))
    channel: Mapped[Channel] = mapped_column(enum_type(Channel))
    enabled: Mapped[bool]


class OutboxEmail(Base):
    """An e-mail waiting to be sent (or sent); retried with back-off until it goes or gives up."""

    __tablename__ = "outbox_emails"
    __table_args__ = (Index("ix_outbox_due", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="SET NULL"), unique=True
    )
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]  # gave up after the last attempt
    last_error: Mapped[str | None] = mapped_column(String(500))


class OutboxAttachment(Base):
    """A file sent with an outbox e-mail (a monthly report's PDF)."""

    __tablename__ = "outbox_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_id: Mapped[int] = mapped_column(ForeignKey("outbox_emails.id", ondelete="CASCADE"), index=True)
    file_name: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    data: Mapped[bytes] = mapped_column(LargeBinary)
