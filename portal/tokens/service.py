"""API tokens for integrators: a token acts with its owner's group and scope (the same
access rule as the pages), is shown once, and only its SHA-256 is kept. Each token has a
name and an expiry, records when it was last used, and can be revoked at once.

Tokens look like ``ept_`` + 43 URL-safe characters (256 random bits); the prefix makes a
leaked one easy to recognise in logs and secret scanners.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fleet.models import ApiToken, User
from portal import audit
from portal.refusal import Refused

logger = logging.getLogger(__name__)
PREFIX = "ept_"
TOKEN_RE = re.compile(r"ept_[A-Za-z0-9_-]{43}")
MAX_ACTIVE = 20  # per account
LAST_USED_EVERY = timedelta(minutes=1)  # at most one write per token per minute


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewToken:
    """A token just created: the secret is here once and never again."""

    record: ApiToken
    secret: str


def create(session: Session, owner: User, name: str, days: int, now: datetime) -> NewToken:
    """A new token for ``owner`` valid ``days`` days; :class:`Refused` for a bad name or too many."""
    name = name.strip()
    if not 1 <= len(name) <= 80:
        message = lazy_gettext("Give the token a name of at most 80 characters.")
        raise Refused(message, 400, {"name": [str(message)]})
    active = session.scalars(
        select(ApiToken).where(
            ApiToken.user_id == owner.id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > now
        )
    ).all()
    if len(active) >= MAX_ACTIVE:
        raise Refused(lazy_gettext("Revoke a token first: at most %(n)d can be active.", n=MAX_ACTIVE), 409)
    if any(t.name == name for t in active):
        message = lazy_gettext("An active token already has this name.")
        raise Refused(message, 400, {"name": [str(message)]})
    secret = PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(
        user_id=owner.id,
        name=name,
        token_hash=_digest(secret),
        prefix=secret[:10],
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(record)
    session.flush()
    audit.record(
        session,
        owner,
        "token.created",
        "token",
        record.id,
        now,
        after={"name": name, "expires_at": record.expires_at},
    )
    logger.info("user %s created API token %s", owner.id, record.id)
    return NewToken(record, secret)


def revoke(session: Session, token: ApiToken, by: User, now: datetime) -> None:
    """Stop the token working at once."""
    if token.revoked_at is None:
        token.revoked_at = now
        session.flush()
        audit.record(session, by, "token.revoked", "token", token.id, now)
        logger.info("user %s revoked API token %s", by.id, token.id)


def owned(session: Session, owner: User) -> list[ApiToken]:
    """The account's tokens, newest first."""
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == owner.id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def get_owned(session: Session, owner: User, token_id: int) -> ApiToken | None:
    """One of the account's tokens (None for anyone else's: not found)."""
    return session.scalar(select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == owner.id))


def authenticate(session: Session, bearer: str, now: datetime) -> ApiToken | None:
    """The usable token behind ``bearer`` whose owner is active, noting its use; else None."""
    if not TOKEN_RE.fullmatch(bearer):
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(bearer)))
    if token is None or not token.usable_at(now) or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY:
        session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
        session.commit()
    return token


class RateLimiter:
    """Requests per token per minute, in this process (a sliding window of timestamps)."""

    def __init__(self, per_minute: int, monotonic: object = time.monotonic) -> None:
        self.per_minute = per_minute
        self.monotonic = monotonic
        self._seen: dict[int, list[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, token_id: int) -> int:
        """0 if this request may go ahead (and count it), else the seconds to wait."""
        now = self.monotonic()  # type: ignore[operator]
        with self._lock:
            recent = [t for t in self._seen.get(token_id, []) if now - t < 60.0]
            if len(recent) >= self.per_minute:
                self._seen[token_id] = recent
                return max(1, int(60.0 - (now - recent[0])) + 1)
            recent.append(now)
            self._seen[token_id] = recent
            return 0
