"""Customers, their sites (buildings) and the assets installed there."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Date, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from fleet.db import Base, utcnow
from fleet.models._types import enum_type

if TYPE_CHECKING:
    from fleet.models.operations import AssetStatus

MQTT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def new_public_token() -> str:
    """An unguessable token for an asset's anonymous resident link (192 bits)."""
    return secrets.token_urlsafe(24)


class SiteKind(StrEnum):
    """What a building is used for."""

    OFFICE = "office"
    RESIDENTIAL = "residential"
    COMMERCIAL = "commercial"
    PUBLIC = "public"


class AssetKind(StrEnum):
    """Kinds of equipment the vendor maintains."""

    ELEVATOR = "elevator"
    ESCALATOR = "escalator"
    DOOR = "door"
    HVAC = "hvac"


class ContractLevel(StrEnum):
    """Service contract level of an asset."""

    BASIC = "basic"
    STANDARD = "standard"
    PREMIUM = "premium"


class Customer(Base):
    """A customer organisation: the party that holds the service contract."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    archived_at: Mapped[datetime | None]  # hidden from daily views, kept for history and KPIs

    sites: Mapped[list[Site]] = relationship(
        back_populates="customer", order_by="Site.name", cascade="all, delete-orphan"
    )


class Site(Base):
    """A building of a customer, with its address and local time zone."""

    __tablename__ = "sites"
    __table_args__ = (UniqueConstraint("customer_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[SiteKind] = mapped_column(enum_type(SiteKind))
    address: Mapped[str] = mapped_column(String(300))
    city: Mapped[str] = mapped_column(String(120))
    postal_code: Mapped[str] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2))
    timezone: Mapped[str] = mapped_column(String(64))
    archived_at: Mapped[datetime | None]

    customer: Mapped[Customer] = relationship(back_populates="sites")
    assets: Mapped[list[Asset]] = relationship(
        back_populates="site", order_by="Asset.name", cascade="all, delete-orphan"
    )

    @validates("timezone")
    def _check_timezone(self, _key: str, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @validates("country")
    def _check_country(self, _key: str, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z]{2}", value):
            raise ValueError("country must be a two-letter ISO 3166 code")
        return value.upper()

    @property
    def zone(self) -> ZoneInfo:
        """The site's time zone."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Age:
    """An age in whole years and months."""

    years: int
    months: int

    @property
    def total_months(self) -> int:
        """The age in months."""
        return self.years * 12 + self.months


def age_between(start: date, today: date) -> Age:
    """Whole years and months from ``start`` to ``today`` (zero if ``today`` is earlier)."""
    months = (today.year - start.year) * 12 + (today.month - start.month)
    if today.day < start.day:
        months -= 1
    months = max(months, 0)
    return Age(years=months // 12, months=months % 12)


class Asset(Base):
    """A maintained piece of equipment: elevator, escalator, door, HVAC unit."""

    __tablename__ = "assets"
    __table_args__ = (UniqueConstraint("site_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    kind: Mapped[AssetKind] = mapped_column(enum_type(AssetKind))
    name: Mapped[str] = mapped_column(String(120))
    manufacturer: Mapped[str] = mapped_column(String(120))
    model: Mapped[str] = mapped_column(String(120))
    serial_number: Mapped[str] = mapped_column(String(120))
    mqtt_id: Mapped[str] = mapped_column(String(64), unique=True)
    install_date: Mapped[date] = mapped_column(Date)
    rated_load_kg: Mapped[int | None]
    floors_served: Mapped[int | None]
    contract_level: Mapped[ContractLevel] = mapped_column(
        enum_type(ContractLevel), default=ContractLevel.STANDARD
    )
    availability_target: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("99.50"))
    public_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_public_token)
    archived_at: Mapped[datetime | None]

    site: Mapped[Site] = relationship(back_populates="assets")
    status: Mapped[AssetStatus | None] = relationship(
        back_populates="asset", cascade="all, delete-orphan", uselist=False
    )

    @validates("mqtt_id")
    def _check_mqtt_id(self, _key: str, value: str) -> str:
        if not MQTT_ID_RE.fullmatch(value):
            raise ValueError("mqtt_id: 1-64 of letters, digits, '_', '.', '-'")
        return value

    @validates("availability_target")
    def _check_target(self, _key: str, value: Decimal) -> Decimal:
        value = Decimal(value)
        if not Decimal(0) < value <= Decimal(100):
            raise ValueError("availability_target must be a percentage in (0, 100]")
        return value

    def age_on(self, today: date) -> Age:
        """The asset's age on ``today``, derived from its install date."""
        return age_between(self.install_date, today)
