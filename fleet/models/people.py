"""People with accounts, their stakeholder group and scope, and login attempts."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import Column, ForeignKey, Index, String, Table, false
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from fleet.db import Base, utcnow
from fleet.models._types import enum_type

if TYPE_CHECKING:
    from fleet.models.organisation import Customer, Site


class StakeholderGroup(StrEnum):
    """The stakeholder group of an account. Residents have no account."""

    FACILITY_MANAGER = "facility_manager"
    HOA_PRESIDENT = "hoa_president"
    FIELD_TECHNICIAN = "field_technician"
    VENDOR_STAFF = "vendor_staff"


def new_session_token() -> str:
    """A random token bound into login sessions; rotating it logs every session out."""
    return secrets.token_urlsafe(24)


user_sites = Table(
    "user_sites",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("site_id", ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
)


class User(Base):
    """An account. Its scope is its customer and/or an explicit list of sites."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(256))
    group: Mapped[StakeholderGroup] = mapped_column(enum_type(StakeholderGroup))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    locale: Mapped[str] = mapped_column(String(8), default="en")
    is_active: Mapped[bool] = mapped_column(default=True)
    is_admin: Mapped[bool] = mapped_column(default=False, server_default=false())  # staff: manage people
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)
    totp_secret: Mapped[str | None] = mapped_column(String(64))  # base32; set once confirmed
    totp_last_step: Mapped[int | None]  # the 30 s step of the last code accepted: no replay
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    customer: Mapped[Customer | None] = relationship()
    sites: Mapped[list[Site]] = relationship(secondary=user_sites, order_by="Site.name")

    @validates("email")
    def _normalise_email(self, _key: str, value: str) -> str:
        return normalise_email(value)


def normalise_email(value: str) -> str:
    """Lower-case and strip an e-mail address (our login identifier)."""
    return value.strip().lower()


class LoginAttempt(Base):
    """One login attempt, kept to throttle guessing per account and per address."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_at", "email", "at"),
        Index("ix_login_attempts_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    success: Mapped[bool]


class LinkPurpose(StrEnum):
    """What a one-time e-mailed link is for."""

    RESET = "reset"  # forgot password
    INVITE = "invite"  # a new account: the invitee chooses their password


class AccountLink(Base):
    """A one-time link e-mailed to a person (only its SHA-256 is stored): used once, expires."""

    __tablename__ = "account_links"
    __table_args__ = (Index("ix_account_links_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[LinkPurpose] = mapped_column(enum_type(LinkPurpose))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


def _login_id(self: User) -> str:
    """Identifier stored in the login session: id plus the rotating session token."""
    return f"{self.id}:{self.session_token}"


# Flask-Login's user protocol, without importing Flask here (the ingester shares models).
User.get_id = _login_id
User.is_authenticated = True
User.is_anonymous = False
