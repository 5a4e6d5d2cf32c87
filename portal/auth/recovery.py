"""Forgot password: a one-time link by e-mail, valid for a short time, to set a new password.

- Asking never says whether an address has an account: the answer is the same, and an
  unknown or deactivated address simply gets no e-mail.
- Only the link's SHA-256 is stored; a link works once, and expires
  (``PASSWORD_RESET_LINK_MINUTES``); asking again retires the links sent before.
- At most ``PASSWORD_RESET_MAX_PER_HOUR`` e-mails per account per hour: more requests are
  answered the same way and send nothing.
- Setting the password rotates the account's session token, so every open session ends.

The e-mail goes through the outbox (:class:`fleet.models.OutboxEmail`), sent by the worker
with its retries, in the account's language.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import LazyString, lazy_gettext
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from fleet.models import AccountLink, LinkPurpose, OutboxEmail, User, normalise_email
from fleet.models.people import new_session_token
from portal.auth.passwords import PasswordPolicyError, check_policy, hash_password
from portal.notifications.service import N_, translator
from portal.refusal import Refused

logger = logging.getLogger(__name__)
TOKEN_BYTES = 32

SUBJECT = N_("Set a new password for the equipment portal")
BODY = N_(
    "Someone (we hope you) asked to set a new password for your account. Open this link "
    "within %(minutes)d minutes to choose it; it works once:"
)
IGNORE = N_("If it was not you, ignore this e-mail: your password stays as it is.")


POLICY_MESSAGES: dict[str, Callable[[int], LazyString]] = {
    "short": lambda n: lazy_gettext("The password must be at least %(num)d characters long.", num=n),
    "long": lambda n: lazy_gettext("The password must be at most %(num)d characters long.", num=n),
    "common": lambda _n: lazy_gettext("This password is too common; choose another."),
    "email": lambda _n: lazy_gettext("The password must not be your e-mail address."),
    "repetitive": lambda _n: lazy_gettext("The password must use more than three different characters."),
}


@dataclass(frozen=True)
class RecoveryRules:
    """How long a link lives and how many may be sent (settings ``PASSWORD_RESET_*``)."""

    link_valid: timedelta = timedelta(minutes=60)
    max_per_hour: int = 3
    min_password_length: int = 10


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def request_reset(session: Session, email: str, now: datetime, base_url: str, rules: RecoveryRules) -> bool:
    """E-mail a reset link to the active account with this address, if there is one.

    Returns whether an e-mail was queued (for logs and tests; never shown to the asker)."""
    address = normalise_email(email)
    user = session.scalar(select(User).where(User.email == address, User.is_active.is_(True)))
    if user is None:
        logger.info("password reset asked for an address without an active account")
        return False
    recent = session.scalar(
        select(func.count(AccountLink.id)).where(
            AccountLink.user_id == user.id,
            AccountLink.purpose == LinkPurpose.RESET,
            AccountLink.created_at > now - timedelta(hours=1),
        )
    )
    if (recent or 0) >= rules.max_per_hour:
        logger.warning("password reset for user %s: %s links this hour, no more sent", user.id, recent)
        return False
    token = issue_link(session, user, LinkPurpose.RESET, now, rules.link_valid)
    t = translator(user.locale)
    minutes = int(rules.link_valid.total_seconds() // 60)
    link = f"{base_url.rstrip('/')}/auth/reset/{token}"
    session.add(
        OutboxEmail(
            to_address=user.email, subject=t(SUBJECT), created_at=now, next_attempt_at=now,
            body=f"{t(BODY, minutes=minutes)}\n\n{link}\n\n{t(IGNORE)}",
        )
    )  # fmt: skip
    session.flush()
    logger.info("password reset link e-mailed to user %s", user.id)
    return True


def issue_link(session: Session, user: User, purpose: LinkPurpose, now: datetime, valid: timedelta) -> str:
    """A new one-time link for ``user`` (earlier open ones retire); returns the token to e-mail."""
    retire_links(session, user.id, now)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(AccountLink(user_id=user.id, purpose=purpose, token_hash=_hash(token),
                            created_at=now, expires_at=now + valid))  # fmt: skip
    return token


def retire_links(session: Session, user_id: int, now: datetime) -> int:
    """End every open link of the account (a newer one was sent, or an invitation revoked)."""
    result = session.execute(
        update(AccountLink)
        .where(AccountLink.user_id == user_id, AccountLink.used_at.is_(None), AccountLink.expires_at > now)
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def valid_link(
    session: Session, token: str, now: datetime, purpose: LinkPurpose = LinkPurpose.RESET
) -> AccountLink:
    """The unused, unexpired link of ``purpose`` behind ``token``, or :class:`Refused` (400)."""
    link = None
    if 20 <= len(token) <= 100:
        link = session.scalar(
            select(AccountLink).where(
                AccountLink.token_hash == _hash(token),
                AccountLink.purpose == purpose,
                AccountLink.used_at.is_(None),
                AccountLink.expires_at > now,
            )
        )
    if link is None or not link.user.is_active:
        raise Refused(lazy_gettext("This link has expired or was already used. Ask for a new one."), 400)
    return link


def reset_password(session: Session, token: str, password: str, confirm: str, now: datetime,
                   rules: RecoveryRules, purpose: LinkPurpose = LinkPurpose.RESET) -> User:  # fmt: skip
    """Set a password through a valid link (a reset, or an invitation's first password):
    the link is spent and every session of the account ends."""
    link = valid_link(session, token, now, purpose)
    user = link.user
    if password != confirm:
        raise Refused(
            lazy_gettext("The two passwords differ."),
            400,
            {"confirm": [str(lazy_gettext("The two passwords differ."))]},
        )
    try:
        check_policy(password, email=user.email, min_length=rules.min_password_length)
    except PasswordPolicyError as exc:
        message = str(POLICY_MESSAGES[exc.rule](exc.limit))
        raise Refused(message, 400, {"password": [message]}) from None
    claimed = session.execute(
        update(AccountLink)
        .where(AccountLink.id == link.id, AccountLink.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]  # two submissions at once: one wins
        raise Refused(lazy_gettext("This link has expired or was already used. Ask for a new one."), 400)
    user.password_hash = hash_password(password)
    user.session_token = new_session_token()  # every open session of the account ends
    retire_links(session, user.id, now)
    session.flush()
    logger.info("password of user %s set through a reset link", user.id)
    return user
