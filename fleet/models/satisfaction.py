"""Satisfaction surveys: prompts asked after real moments, responses, and follow-up tasks."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fleet.db import Base, utcnow
from fleet.models._types import enum_type
from fleet.models.feedback import Audience

if TYPE_CHECKING:
    from fleet.models.organisation import Asset, Customer, Site
    from fleet.models.people import User


class SurveyKind(StrEnum):
    """Which question: CSAT (1–5), CES (1–7, 7 = very easy) or NPS (0–10)."""

    CSAT = "csat"
    CES = "ces"
    NPS = "nps"


class Moment(StrEnum):
    """What made us ask."""

    OUTAGE_CLOSED = "outage_closed"
    VISIT_COMPLETED = "visit_completed"
    FEEDBACK_RESOLVED = "feedback_resolved"
    PERIODIC = "periodic"  # NPS, at most every 90 days


class PromptState(StrEnum):
    """Where a prompt is: waiting for the user, answered, dismissed, or too old to ask."""

    PENDING = "pending"
    ANSWERED = "answered"
    DISMISSED = "dismissed"
    EXPIRED = "expired"


class SurveyPrompt(Base):
    """One question put to one account about one moment (never twice for the same moment)."""

    __tablename__ = "survey_prompts"
    __table_args__ = (
        UniqueConstraint("user_id", "moment_key"),
        Index("ix_survey_prompts_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[SurveyKind] = mapped_column(enum_type(SurveyKind))
    moment: Mapped[Moment] = mapped_column(enum_type(Moment))
    moment_key: Mapped[str] = mapped_column(String(64))  # e.g. "outage:12", "nps:2026-11-23"
    moment_at: Mapped[datetime]  # when the moment happened
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    state: Mapped[PromptState] = mapped_column(enum_type(PromptState), default=PromptState.PENDING)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)  # when we first asked
    closed_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()
    site: Mapped[Site | None] = relationship()
    asset: Mapped[Asset | None] = relationship()


class SurveyResponse(Base):
    """One answer, with who (group), where (customer, site, asset) and why (moment)."""

    __tablename__ = "survey_responses"
    __table_args__ = (
        UniqueConstraint("respondent_key", "moment_key"),
        CheckConstraint(
            "(kind = 'csat' AND score BETWEEN 1 AND 5) OR (kind = 'ces' AND score BETWEEN 1 AND 7)"
            " OR (kind = 'nps' AND score BETWEEN 0 AND 10)",
            name="score_range",
        ),
        CheckConstraint(
            "(providers IS NULL AND provider_rank IS NULL) OR (providers BETWEEN 1 AND 20"
            " AND provider_rank BETWEEN 1 AND providers)",
            name="provider_rank_range",
        ),
        Index("ix_survey_responses_customer_created", "customer_id", "created_at"),
        Index("ix_survey_responses_site_created", "site_id", "created_at"),
        Index("ix_survey_responses_moment_key", "moment_key"),  # answers after one outage (timeline)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    prompt_id: Mapped[int | None] = mapped_column(
        ForeignKey("survey_prompts.id", ondelete="SET NULL"), unique=True
    )
    kind: Mapped[SurveyKind] = mapped_column(enum_type(SurveyKind))
    score: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    group: Mapped[Audience] = mapped_column(enum_type(Audience))
    # "user:<id>" for accounts, "resident:<hash of a browser cookie>" for residents
    respondent_key: Mapped[str] = mapped_column(String(80))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    ip_hash: Mapped[str | None] = mapped_column(String(64))  # residents only: ballot stuffing limit
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    moment: Mapped[Moment] = mapped_column(enum_type(Moment))
    moment_key: Mapped[str] = mapped_column(String(64))
    moment_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # the periodic survey may ask a facility manager how many maintenance providers they use
    # and where we rank among them (1 = preferred): the Wallet Allocation Rule's inputs
    providers: Mapped[int | None]
    provider_rank: Mapped[int | None]

    user: Mapped[User | None] = relationship()
    customer: Mapped[Customer] = relationship()
    site: Mapped[Site | None] = relationship()
    asset: Mapped[Asset | None] = relationship()


class FollowUpStatus(StrEnum):
    """A follow-up task's life: open → in progress → closed."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


class FollowUp(Base):
    """A call-back task for vendor staff, opened by a detractor or a low CSAT."""

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("survey_responses.id", ondelete="CASCADE"), unique=True
    )
    reason: Mapped[str] = mapped_column(String(32))  # "detractor" or "low_csat"
    status: Mapped[FollowUpStatus] = mapped_column(enum_type(FollowUpStatus), default=FollowUpStatus.OPEN)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    outcome: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    closed_at: Mapped[datetime | None]

    response: Mapped[SurveyResponse] = relationship()
    owner: Mapped[User | None] = relationship()
