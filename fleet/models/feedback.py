"""Feedback: what people say about an asset or a site, its handling and its reply thread."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fleet.db import Base, utcnow
from fleet.models._types import enum_type

if TYPE_CHECKING:
    from fleet.models.organisation import Asset, Site
    from fleet.models.people import User


class Audience(StrEnum):
    """Who someone is to the vendor: a stakeholder group, or an anonymous resident."""

    FACILITY_MANAGER = "facility_manager"
    HOA_PRESIDENT = "hoa_president"
    FIELD_TECHNICIAN = "field_technician"
    VENDOR_STAFF = "vendor_staff"
    RESIDENT = "resident"


class FeedbackCategory(StrEnum):
    """What the feedback is about, when the author says so."""

    BREAKDOWN = "breakdown"
    NOISE = "noise"
    DOORS = "doors"
    SPEED = "speed"
    CLEANLINESS = "cleanliness"
    WAITING_TIME = "waiting_time"
    STAFF = "staff"
    OTHER = "other"


class FeedbackStatus(StrEnum):
    """Where the vendor is with it: new → acknowledged → in progress → resolved."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"


class Feedback(Base):
    """One piece of feedback on a site, usually on one of its assets."""

    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="rating_range"),
        Index("ix_feedback_site_created", "site_id", "created_at"),
        Index("ix_feedback_asset_created", "asset_id", "created_at"),
        Index("ix_feedback_ip_created", "ip_hash", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    author_group: Mapped[Audience] = mapped_column(enum_type(Audience))
    category: Mapped[FeedbackCategory | None] = mapped_column(enum_type(FeedbackCategory))
    rating: Mapped[int | None]
    text: Mapped[str] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(String(200))  # residents who want a reply
    language: Mapped[str] = mapped_column(String(8), default="en")
    tags: Mapped[str] = mapped_column(String(300), default="")  # space-separated topic codes
    status: Mapped[FeedbackStatus] = mapped_column(enum_type(FeedbackStatus), default=FeedbackStatus.NEW)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    submission_id: Mapped[str] = mapped_column(String(64), unique=True)  # one form, stored once
    reader_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)  # the resident's link
    ip_hash: Mapped[str | None] = mapped_column(String(64))  # rate limits for anonymous residents
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]

    site: Mapped[Site] = relationship()
    asset: Mapped[Asset | None] = relationship()
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    replies: Mapped[list[FeedbackReply]] = relationship(
        back_populates="feedback", order_by="FeedbackReply.created_at", cascade="all, delete-orphan"
    )

    @property
    def tag_list(self) -> list[str]:
        """The topic codes found in the text."""
        return self.tags.split() if self.tags else []


class FeedbackReply(Base):
    """One message in a feedback item's thread (vendor, customer or the resident author)."""

    __tablename__ = "feedback_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author_group: Mapped[Audience] = mapped_column(enum_type(Audience))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    notified_at: Mapped[datetime | None]  # when the item's author was told (the notifier's marker)

    feedback: Mapped[Feedback] = relationship(back_populates="replies")
    author: Mapped[User | None] = relationship()


class FeedbackRead(Base):
    """When a user last opened a feedback item (unread = activity since then)."""

    __tablename__ = "feedback_reads"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback.id", ondelete="CASCADE"), primary_key=True)
    read_at: Mapped[datetime] = mapped_column(default=utcnow)
