"""People: invite by e-mail, resend or revoke an invitation, deactivate and reactivate.

An invitation creates the account with an unusable random password and e-mails a
one-time link (valid ``INVITE_LINK_HOURS``) where the invitee chooses their password.
Deactivating ends every open session at once (the session token rotates, and a
deactivated account is refused on its next request). Nothing is deleted: an account with
history (feedback, answers, visits) stays, deactivated.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from fleet.models import AccountLink, LinkPurpose, OutboxEmail, StakeholderGroup, User, normalise_email
from fleet.models.people import new_session_token
from portal import audit
from portal.access import RULES, check
from portal.auth.recovery import issue_link, retire_links
from portal.auth.service import AccountError, create_user, resolve_scope
from portal.notifications.service import N_, translator
from portal.refusal import Refused

logger = logging.getLogger(__name__)

SUBJECT = N_("You are invited to the equipment portal")
BODY = N_(
    "%(inviter)s invited you to the equipment portal of your building equipment. Open this link "
    "within %(hours)d hours to choose your password; it works once:"
)
FORBIDDEN = lazy_gettext("Only administrators manage people.")
INVITE_VALID = timedelta(hours=72)


@dataclass(frozen=True)
class Invitation:
    """Who to invite, with what group and scope."""

    email: str
    name: str
    group: StakeholderGroup
    customer_id: int | None
    site_ids: list[int]
    locale: str
    is_admin: bool


@dataclass(frozen=True)
class PersonRow:
    """One line of the people list."""

    user: User
    invitation_open: bool


def _open_invitations(now: datetime) -> Select[int]:
    return select(AccountLink.user_id).where(
        AccountLink.purpose == LinkPurpose.INVITE, AccountLink.used_at.is_(None), AccountLink.expires_at > now
    )


def people(session: Session, now: datetime) -> list[PersonRow]:
    """Every account, by name, with whether an invitation waits for an answer."""
    users = list(
        session.scalars(select(User).options(selectinload(User.sites)).order_by(User.name, User.email))
    )
    waiting = set(session.scalars(_open_invitations(now)))
    return [PersonRow(u, u.id in waiting) for u in users]


def row(session: Session, user: User, now: datetime) -> PersonRow:
    """One account with whether an invitation waits for an answer."""
    waiting = session.scalar(_open_invitations(now).where(AccountLink.user_id == user.id).limit(1))
    return PersonRow(user, waiting is not None)


def invite(
    session: Session, data: Invitation, by: User, now: datetime, base_url: str, valid: timedelta
) -> User:
    """Create the account and e-mail its invitation; :class:`Refused` says what is wrong."""
    check(by, "administer", FORBIDDEN)
    if session.scalar(select(User.id).where(User.email == normalise_email(data.email))) is not None:
        taken = lazy_gettext("An account already uses this address.")
        raise Refused(taken, 400, {"email": [str(taken)]})
    try:
        user = create_user(
            session, email=data.email, name=data.name, password=secrets.token_urlsafe(32), group=data.group,
            customer_id=data.customer_id, site_ids=data.site_ids, locale=data.locale, is_admin=data.is_admin,
        )  # fmt: skip
    except AccountError as exc:
        raise Refused(str(exc), 400, {"site_ids": [str(exc)]}) from None
    _send_invitation(session, user, by, now, base_url, valid)
    audit.record(session, by, "person.invited", "person", user.id, now, after=audit.person_fields(user))
    logger.info("user %s invited user %s (%s)", by.id, user.id, user.group.value)
    return user


def _send_invitation(
    session: Session, user: User, by: User, now: datetime, base_url: str, valid: timedelta
) -> None:
    token = issue_link(session, user, LinkPurpose.INVITE, now, valid)
    t = translator(user.locale)
    hours = int(valid.total_seconds() // 3600)
    link = f"{base_url.rstrip('/')}/auth/invite/{token}"
    session.add(
        OutboxEmail(
            to_address=user.email,
            subject=t(SUBJECT),
            created_at=now,
            next_attempt_at=now,
            body=f"{t(BODY, inviter=by.name, hours=hours)}\n\n{link}",
        )
    )
    session.flush()


def resend(session: Session, user: User, by: User, now: datetime, base_url: str, valid: timedelta) -> None:
    """A fresh invitation (the earlier link stops working), for an account never used yet."""
    check(by, "administer", FORBIDDEN)
    if user.last_login_at is not None:
        raise Refused(
            lazy_gettext("This person already uses the portal; they can reset their password."), 409
        )
    if not user.is_active:
        raise Refused(lazy_gettext("Reactivate the account first."), 409)
    _send_invitation(session, user, by, now, base_url, valid)
    audit.record(session, by, "person.invitation_resent", "person", user.id, now)


def revoke(session: Session, user: User, by: User, now: datetime) -> None:
    """Withdraw an unanswered invitation: its link stops working and the account is deactivated."""
    check(by, "administer", FORBIDDEN)
    waiting = session.scalar(_open_invitations(now).where(AccountLink.user_id == user.id).limit(1))
    if waiting is None:
        raise Refused(lazy_gettext("No invitation waits for an answer; deactivate the account instead."), 409)
    before = audit.person_fields(user)
    retire_links(session, user.id, now)
    user.is_active = False
    user.session_token = new_session_token()
    session.flush()
    audit.record(
        session, by, "person.invitation_revoked", "person", user.id, now, before, audit.person_fields(user)
    )
    logger.info("user %s revoked the invitation of user %s", by.id, user.id)


def deactivate(session: Session, user: User, by: User, now: datetime) -> None:
    """End the account's access now: open sessions end, open links stop working."""
    check(by, "administer", FORBIDDEN)
    if user.id == by.id:
        raise Refused(lazy_gettext("You cannot deactivate your own account."), 409)
    before = audit.person_fields(user)
    user.is_active = False
    user.session_token = new_session_token()
    retire_links(session, user.id, now)
    session.flush()
    audit.record(session, by, "person.deactivated", "person", user.id, now, before, audit.person_fields(user))
    logger.info("user %s deactivated user %s", by.id, user.id)


def change(session: Session, user: User, data: Invitation, by: User, now: datetime) -> None:
    """Change a person's name, group, scope, language and administrator right (not their
    e-mail). The new scope applies from their next request."""
    check(by, "administer", FORBIDDEN)
    if user.id == by.id and not data.is_admin:
        raise Refused(lazy_gettext("You cannot remove your own administrator right."), 409)
    try:
        customer_id, sites = resolve_scope(session, data.group, data.customer_id, data.site_ids)
    except AccountError as exc:
        raise Refused(str(exc), 400, {"site_ids": [str(exc)]}) from None
    before = audit.person_fields(user)
    user.name, user.group, user.locale = data.name, data.group, data.locale
    user.customer_id, user.sites = customer_id, sites
    user.is_admin = data.is_admin and data.group in RULES["see_every_customer"]
    session.flush()
    after = audit.person_fields(user)
    if after != before:
        audit.record(session, by, "person.changed", "person", user.id, now, before, after)
        logger.info("user %s changed the account of user %s (%s)", by.id, user.id, user.group.value)


def reactivate(session: Session, user: User, by: User, now: datetime) -> None:
    """Give the account its access back (its password is unchanged)."""
    check(by, "administer", FORBIDDEN)
    before = audit.person_fields(user)
    user.is_active = True
    session.flush()
    audit.record(session, by, "person.reactivated", "person", user.id, now, before, audit.person_fields(user))
    logger.info("user %s reactivated user %s", by.id, user.id)
