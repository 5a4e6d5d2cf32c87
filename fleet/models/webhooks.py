"""Webhook endpoints customers' systems register, and the deliveries waiting for them
(an outbox, like e-mail: written in the transaction of the event, sent by the worker)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fleet.db import Base, utcnow

if TYPE_CHECKING:
    from fleet.models.organisation import Customer
    from fleet.models.people import User


class WebhookEndpoint(Base):
    """An HTTPS address told of chosen events of one customer's equipment."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(80))  # whsec_…: the receiver needs the same to verify
    events: Mapped[str] = mapped_column(String(500))  # comma-separated event types
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    paused_at: Mapped[datetime | None]  # kept failing: nothing is sent until resumed
    disabled_at: Mapped[datetime | None]  # removed by its owner (its deliveries stay as history)

    customer: Mapped[Customer] = relationship()
    created_by: Mapped[User | None] = relationship()

    @property
    def event_list(self) -> list[str]:
        """The event types it subscribes to."""
        return [e for e in self.events.split(",") if e]


class WebhookDelivery(Base):
    """One signed message for one endpoint, retried with back-off until delivered or given up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "endpoint_id", "delivered_at", "failed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(40), unique=True)  # webhook-id: receivers drop replays
    event_type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    delivered_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]  # given up after the last attempt
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(300))

    endpoint: Mapped[WebhookEndpoint] = relationship()
