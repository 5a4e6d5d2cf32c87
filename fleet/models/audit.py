"""The audit log: who did what to which record, when, with the values before and after."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fleet.db import Base, utcnow


class AuditEntry(Base):
    """One change made by a person. Written in the transaction of the change; never edited."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_object", "object_kind", "object_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    actor: Mapped[str] = mapped_column(String(254))  # the actor's e-mail then (kept if the account goes)
    action: Mapped[str] = mapped_column(String(40))  # e.g. "person.invited", "outage.dispatched"
    object_kind: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[int | None]
    before: Mapped[str | None] = mapped_column(Text)  # JSON of the changed fields
    after: Mapped[str | None] = mapped_column(Text)
