"""Feedback rules: who may write, read and handle it; validation, rate limits, unread counts.

Plain functions over a SQLAlchemy session and explicit arguments (the user, the clock,
the limits), shared by the HTML views and the JSON API.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask_babel import lazy_gettext
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from fleet.models import (
    Asset,
    Audience,
    Feedback,
    FeedbackCategory,
    FeedbackRead,
    FeedbackReply,
    FeedbackStatus,
    Outage,
    Site,
    User,
)
from portal.access import NotVisible, Scope, accounts_who, can, feedback_filter
from portal.feedback.forms import MAX_TEXT, FeedbackForm
from portal.feedback.topics import topics
from portal.refusal import Refused
from portal.web.filters import feedback_status_label as status_label
from portal.webhooks import service as webhooks

logger = logging.getLogger(__name__)

RESIDENT_REPLIES_PER_HOUR = 5  # on one item, through the reader link
ORDER = [FeedbackStatus.NEW, FeedbackStatus.ACKNOWLEDGED, FeedbackStatus.IN_PROGRESS, FeedbackStatus.RESOLVED]


@dataclass(frozen=True)
class Limits:
    """Anonymous residents' rate limits (per rolling hour)."""

    per_ip_per_asset: int = 3
    per_asset: int = 30


@dataclass(frozen=True)
class FeedbackInput:
    """A validated feedback form."""

    text: str
    category: FeedbackCategory | None
    rating: int | None
    contact: str | None
    submission_id: str


def audience_of(user: User | None) -> Audience:
    """The audience of an account (no account: a resident)."""
    return Audience.RESIDENT if user is None else Audience(user.group.value)


def parse_form(form: Mapping[str, str], *, resident: bool) -> FeedbackInput:
    """Validate a submitted feedback form field by field; :class:`Refused` names every problem.

    ``website`` is a honeypot: people never see it, so anything in it is a robot (refused
    without saying why)."""
    if form.get("website"):
        raise Refused(lazy_gettext("Your message could not be accepted."))
    checked = FeedbackForm(form, resident=resident)
    if not checked.validate():
        raise Refused.from_form(checked.errors)
    return FeedbackInput(
        checked.text.data,
        checked.category.data,
        checked.rating.data,
        checked.contact.data,
        checked.submission_id.data,
    )


def new_submission_id() -> str:
    """A one-time id for a feedback form (a second post of the same form is refused)."""
    return secrets.token_hex(16)


def hash_token(token: str) -> str:
    """The stored form of a resident's reader token."""
    return hashlib.sha256(token.encode()).hexdigest()


def hash_ip(ip: str | None, secret: str) -> str | None:
    """A keyed hash of the client address (rate limits without keeping addresses)."""
    if not ip:
        return None
    return hmac.new(secret.encode(), ip.encode(), hashlib.sha256).hexdigest()


def submit(
    session: Session,
    *,
    site: Site,
    asset: Asset | None,
    author: User | None,
    data: FeedbackInput,
    now: datetime,
    language: str,
    ip_hash: str | None = None,
    limits: Limits = Limits(),
) -> tuple[Feedback, str | None]:
    """Store a feedback item; for a resident also return the reader token for their link.

    Refused (nothing stored): a form already submitted, or a resident over the rate limits."""
    if session.scalar(select(Feedback.id).where(Feedback.submission_id == data.submission_id)):
        raise Refused(lazy_gettext("This feedback was already received."), 409)
    audience = audience_of(author)
    token = None
    if audience is Audience.RESIDENT:
        _check_resident_limits(session, asset, ip_hash, now, limits)
        token = secrets.token_urlsafe(24)
    item = Feedback(
        site_id=site.id,
        asset_id=asset.id if asset else None,
        author_id=author.id if author else None,
        author_group=audience,
        category=data.category,
        rating=data.rating,
        text=data.text,
        contact=data.contact,
        language=language,
        tags=" ".join(topics(data.text)),
        submission_id=data.submission_id,
        reader_token_hash=hash_token(token) if token else None,
        ip_hash=ip_hash,
        created_at=now,
        last_activity_at=now,
    )
    session.add(item)
    try:
        session.flush()
    except IntegrityError:  # the same form posted twice at once: the other one won
        session.rollback()
        raise Refused(lazy_gettext("This feedback was already received."), 409) from None
    if author is not None:
        mark_read(session, author, item, now)
    webhooks.enqueue(
        session,
        site.customer_id,
        "feedback.received",
        {
            "feedback_id": item.id,
            "site": {"id": site.id, "name": site.name},
            "asset": {"id": asset.id, "mqtt_id": asset.mqtt_id, "name": asset.name} if asset else None,
            "from": audience.value,
            "category": data.category.value if data.category else None,
            "rating": data.rating,
            "text": data.text,
            "received_at": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        now,
    )
    logger.info("feedback %s on site %s asset %s from %s", item.id, site.id, item.asset_id, audience.value)
    return item, token


def _check_resident_limits(
    session: Session, asset: Asset | None, ip_hash: str | None, now: datetime, limits: Limits
) -> None:
    hour = now - timedelta(hours=1)
    resident = and_(Feedback.author_group == Audience.RESIDENT, Feedback.created_at >= hour)
    if asset is not None:
        recent = session.scalar(select(func.count()).where(resident, Feedback.asset_id == asset.id)) or 0
        if recent >= limits.per_asset:
            raise Refused(
                lazy_gettext(
                    "Many messages about this equipment arrived in the last hour; please try later."
                ),
                429,
            )
    if ip_hash is not None:
        mine = session.scalar(
            select(func.count()).where(
                resident, Feedback.ip_hash == ip_hash, Feedback.asset_id == (asset.id if asset else None)
            )
        )
        if (mine or 0) >= limits.per_ip_per_asset:
            raise Refused(
                lazy_gettext("You have already sent several messages in the last hour; please try later."),
                429,
            )


# --- who sees what ---------------------------------------------------------------------
def visible(user: User, scope: Scope) -> Select[Feedback]:
    """Feedback the user may read (the rule is :func:`portal.access.feedback_filter`)."""
    return select(Feedback).where(feedback_filter(user, scope))


def get_visible(session: Session, user: User, scope: Scope, feedback_id: int) -> Feedback:
    """One item the user may read, or :class:`NotVisible` (existence is not revealed)."""
    item = session.scalar(
        visible(user, scope)
        .where(Feedback.id == feedback_id)
        .options(joinedload(Feedback.site), joinedload(Feedback.asset), joinedload(Feedback.owner))
    )
    if item is None:
        raise NotVisible
    return item


def can_handle(user: User) -> bool:
    """Vendor staff and facility managers move items along (status); others may reply."""
    return can(user, "handle_feedback")


def set_status(item: Feedback, user: User, status: str, now: datetime) -> bool:
    """Move an item forward (new → acknowledged → in progress → resolved); a resolved
    item may be reopened (back to in progress). Returns True when it became resolved."""
    if not can_handle(user):
        raise Refused(lazy_gettext("Only the vendor's staff and facility managers change the status."), 403)
    try:
        target = FeedbackStatus(status)
    except ValueError:
        raise Refused(lazy_gettext("Unknown status %(value)s.", value=status[:30])) from None
    current = item.status
    reopen = current is FeedbackStatus.RESOLVED and target is FeedbackStatus.IN_PROGRESS
    if target is current or (ORDER.index(target) < ORDER.index(current) and not reopen):
        raise Refused(
            lazy_gettext(
                "This item is already %(current)s; it cannot go back to %(target)s.",
                current=status_label(current.value),
                target=status_label(target.value),
            ),
            409,
        )
    item.status = target
    item.resolved_at = now if target is FeedbackStatus.RESOLVED else None
    item.last_activity_at = now
    return target is FeedbackStatus.RESOLVED


def assign(session: Session, item: Feedback, user: User, owner_id: int | None) -> User | None:
    """Vendor staff give the item an owner among the vendor's staff (or none)."""
    if not can(user, "own_feedback"):
        raise Refused(lazy_gettext("Only the vendor's staff assign an owner."), 403)
    if owner_id is None:
        item.owner_id = None
        return None
    owner = session.scalar(select(User).where(User.id == owner_id, accounts_who("own_feedback")))
    if owner is None:
        raise Refused(lazy_gettext("The owner must be an active member of the vendor's staff."))
    item.owner_id = owner.id
    return owner


def reply(session: Session, item: Feedback, author: User | None, body: str, now: datetime) -> FeedbackReply:
    """Add a message to the thread (``author`` None: the resident who wrote the item)."""
    body = (body or "").strip()
    if not body:
        raise Refused(lazy_gettext("The reply is empty."))
    if len(body) > MAX_TEXT:
        raise Refused(
            lazy_gettext(
                "Please keep your reply under %(max)d characters (it has %(num)d).",
                max=MAX_TEXT,
                num=len(body),
            )
        )
    if author is None:  # the anonymous resident behind the reader link
        recent = session.scalar(
            select(func.count()).where(
                FeedbackReply.feedback_id == item.id,
                FeedbackReply.author_group == Audience.RESIDENT,
                FeedbackReply.created_at >= now - timedelta(hours=1),
            )
        )
        if (recent or 0) >= RESIDENT_REPLIES_PER_HOUR:
            message = lazy_gettext(
                "You have already sent several messages in the last hour; please try later."
            )
            raise Refused(message, 429)
    message = FeedbackReply(
        feedback=item,
        author_id=author.id if author else None,
        author_group=audience_of(author),
        body=body,
        created_at=now,
    )
    session.add(message)
    item.last_activity_at = now
    if author is not None:
        mark_read(session, author, item, now)
    return message


def staff_members(session: Session) -> list[User]:
    """Active vendor staff, by name (owners to choose from)."""
    return list(session.scalars(select(User).where(accounts_who("own_feedback")).order_by(User.name)))


# --- unread -----------------------------------------------------------------------------
def mark_read(session: Session, user: User, item: Feedback, now: datetime) -> None:
    """The user has seen the item as it is now."""
    read = session.get(FeedbackRead, (user.id, item.id))
    if read is None:
        session.add(FeedbackRead(user_id=user.id, feedback_id=item.id, read_at=now))
    else:
        read.read_at = max(read.read_at, now)


def _unread(user: User, scope: Scope) -> Select[int | None, int]:
    read = (
        select(FeedbackRead.read_at)
        .where(FeedbackRead.user_id == user.id, FeedbackRead.feedback_id == Feedback.id)
        .scalar_subquery()
    )
    items = visible(user, scope).subquery()
    return (
        select(Feedback.asset_id, func.count())
        .join(items, items.c.id == Feedback.id)
        .where(or_(read.is_(None), read < Feedback.last_activity_at))
        .group_by(Feedback.asset_id)
    )


def unread_ids(session: Session, user: User, ids: list[int]) -> set[int]:
    """Which of these items have activity the user has not seen."""
    if not ids:
        return set()
    read = {
        fid: at
        for fid, at in session.execute(
            select(FeedbackRead.feedback_id, FeedbackRead.read_at).where(
                FeedbackRead.user_id == user.id, FeedbackRead.feedback_id.in_(ids)
            )
        )
    }
    activity = session.execute(select(Feedback.id, Feedback.last_activity_at).where(Feedback.id.in_(ids)))
    return {fid for fid, last in activity if fid not in read or read[fid] < last}


def unread_by_asset(session: Session, user: User, scope: Scope) -> dict[int | None, int]:
    """Items with activity the user has not seen, per asset (``None``: about a whole site)."""
    return {asset_id: count for asset_id, count in session.execute(_unread(user, scope))}


def related_outages(session: Session, item: Feedback, before: timedelta = timedelta(days=3)) -> list[Outage]:
    """The asset's outages around the feedback (from ``before`` it until an hour after)."""
    if item.asset_id is None:
        return []
    stmt = (
        select(Outage)
        .where(
            Outage.asset_id == item.asset_id,
            Outage.started_at <= item.created_at + timedelta(hours=1),
            or_(Outage.ended_at.is_(None), Outage.ended_at >= item.created_at - before),
        )
        .order_by(Outage.started_at.desc())
    )
    return list(session.scalars(stmt))


def for_reader(session: Session, asset: Asset, token: str) -> Feedback:
    """The item behind a resident's reader link on this asset, or :class:`NotVisible`."""
    if not 16 <= len(token) <= 64:
        raise NotVisible
    item = session.scalar(
        select(Feedback).where(Feedback.reader_token_hash == hash_token(token), Feedback.asset_id == asset.id)
    )
    if item is None:
        raise NotVisible
    return item
