"""A bounded store of rejected messages, in SQL, for operators to inspect."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from fleet.db import utcnow
from fleet.models import DeadLetter

logger = logging.getLogger(__name__)
PAYLOAD_KEEP = 1024
LOG_PER_REASON_PER_MIN = 5


@dataclass(frozen=True)
class Rejected:
    """One rejected message, ready to store."""

    topic: str
    reason: str
    detail: str
    payload: str


class DeadLetters:
    """Builds rejections (logging them, rate-limited) and stores them, keeping the newest ``cap``."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._logged: dict[str, list[float]] = defaultdict(list)

    def reject(self, topic: str, payload: bytes, reason: str, detail: str = "") -> Rejected:
        """A rejection record for a message (payload truncated); logged a few times a minute per reason."""
        text = payload[:PAYLOAD_KEEP].decode("utf-8", errors="replace")
        now = time.monotonic()
        recent_logs = [t for t in self._logged[reason] if now - t < 60]
        if len(recent_logs) < LOG_PER_REASON_PER_MIN:
            recent_logs.append(now)
            logger.warning("rejected %s on %s: %s payload=%r", reason, topic[:120], detail[:120], text[:120])
        self._logged[reason] = recent_logs
        return Rejected(topic[:256], reason, detail[:200], text)

    def store(self, session: Session, rejected: list[Rejected]) -> None:
        """Insert rejections and trim the table to the newest ``cap`` rows."""
        if not rejected:
            return
        now = utcnow()
        rows = [
            {
                "received_at": now,
                "topic": r.topic,
                "reason": r.reason,
                "detail": r.detail,
                "payload": r.payload,
            }
            for r in rejected[-self.cap :]
        ]
        session.execute(insert(DeadLetter), rows)
        newest = session.scalar(select(func.max(DeadLetter.id))) or 0
        session.execute(delete(DeadLetter).where(DeadLetter.id <= newest - self.cap))


def recent(session: Session, limit: int = 20, reason: str | None = None) -> list[DeadLetter]:
    """The newest stored rejections, optionally of one reason."""
    stmt = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)
    if reason:
        stmt = stmt.where(DeadLetter.reason == reason)
    return list(session.scalars(stmt))
