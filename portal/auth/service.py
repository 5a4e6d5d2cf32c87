"""Authentication and account management, independent of Flask."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import QueryableAttribute, Session

from fleet.db import utcnow
from fleet.models import Customer, LoginAttempt, Site, StakeholderGroup, User, normalise_email
from portal.access import RULES
from portal.auth.passwords import check_policy, dummy_verify, hash_password, verify_password

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failed logins are allowed in a sliding window."""

    max_failures_per_account: int = 5
    max_failures_per_ip: int = 30
    window: timedelta = timedelta(minutes=15)


class LoginError(Exception):
    """Login refused; ``reason`` is for logs, the message shown to users is generic."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LoginThrottled(LoginError):
    """Too many failed attempts for this account or address; try again later."""


class AccountError(ValueError):
    """An account could not be created or changed; the message says why."""


def _recent_failures(session: Session, column: QueryableAttribute[str], value: str, since: datetime) -> int:
    stmt = select(func.count(LoginAttempt.id)).where(
        column == value,
        LoginAttempt.at >= since,
        LoginAttempt.success.is_(False),
    )
    return session.scalar(stmt) or 0


def authenticate(
    session: Session,
    email: str,
    password: str,
    ip: str,
    policy: ThrottlePolicy,
    now: datetime | None = None,
) -> User:
    """Check credentials and record the attempt; return the user or raise :class:`LoginError`.

    Throttling counts failures per account and per client address within the policy
    window; once over the limit, even a correct password is refused until the window
    has passed, so guessing cannot continue.
    """
    now = now or utcnow()
    email = normalise_email(email)[:254]
    since = now - policy.window
    if (
        _recent_failures(session, LoginAttempt.email, email, since) >= policy.max_failures_per_account
        or _recent_failures(session, LoginAttempt.ip, ip, since) >= policy.max_failures_per_ip
    ):
        logger.warning("login throttled email=%s ip=%s", email, ip)
        raise LoginThrottled("throttled")

    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        dummy_verify(password)
        ok, reason = False, "unknown user"
    elif not verify_password(user.password_hash, password):
        ok, reason = False, "wrong password"
    elif not user.is_active:
        ok, reason = False, "inactive account"
    else:
        ok, reason = True, ""
    session.add(LoginAttempt(email=email, ip=ip[:64], at=now, success=ok))
    if not ok or user is None:
        session.commit()
        logger.warning("login failed email=%s ip=%s reason=%s", email, ip, reason)
        raise LoginError(reason)
    user.last_login_at = now
    session.commit()
    logger.info("login ok user_id=%s ip=%s", user.id, ip)
    return user


def prune_login_attempts(session: Session, older_than: timedelta = timedelta(days=30)) -> int:
    """Delete login attempts older than ``older_than``; return how many."""
    result = session.execute(delete(LoginAttempt).where(LoginAttempt.at < utcnow() - older_than))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def resolve_scope(
    session: Session, group: StakeholderGroup, customer_id: int | None, site_ids: Iterable[int]
) -> tuple[int | None, list[Site]]:
    """Check an account's scope and complete it: (customer id, sites), or :class:`AccountError`.

    Non-staff accounts need a customer or sites; listed sites must exist and belong to the
    customer when one is given; sites of one customer imply that customer (except for
    technicians, whose route may cross customers)."""
    site_ids = list(site_ids)
    sites = list(session.scalars(select(Site).where(Site.id.in_(site_ids)))) if site_ids else []
    if len(sites) != len(set(site_ids)):
        raise AccountError("Unknown site id in the site list.")
    if customer_id is not None and session.get(Customer, customer_id) is None:
        raise AccountError("Unknown customer.")
    if customer_id is not None and any(s.customer_id != customer_id for s in sites):
        raise AccountError("Every listed site must belong to the user's customer.")
    if group not in RULES["see_every_customer"] and customer_id is None and not sites:
        raise AccountError("This group needs a customer or a list of sites.")
    if customer_id is None and sites and group not in RULES["work_across_customers"]:
        customers = {s.customer_id for s in sites}
        if len(customers) == 1:
            customer_id = customers.pop()
    return customer_id, sites


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    password: str,
    group: StakeholderGroup,
    customer_id: int | None = None,
    site_ids: Iterable[int] = (),
    locale: str = "en",
    min_password_length: int = 10,
    is_admin: bool = False,
) -> User:
    """Create an account after checking the password policy and the scope.

    Non-staff accounts need a customer or sites; listed sites must exist and belong
    to the customer when one is given.
    """
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise AccountError("A valid e-mail address is required.")
    check_policy(password, email=email, min_length=min_password_length)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError(f"An account for {email} already exists.")
    customer_id, sites = resolve_scope(session, group, customer_id, site_ids)
    user = User(
        email=email,
        name=name.strip() or email,
        password_hash=hash_password(password),
        group=group,
        customer_id=customer_id,
        locale=locale,
        sites=sites,
        is_admin=is_admin and group in RULES["see_every_customer"],  # only vendor staff administer
    )
    session.add(user)
    session.flush()
    logger.info("account created user_id=%s group=%s", user.id, group.value)
    return user
