"""Service contracts and the device gateways allowed to speak for assets."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import Column, Date, ForeignKey, Numeric, String, Table, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fleet.db import Base, utcnow

if TYPE_CHECKING:
    from fleet.models.organisation import Asset, Customer, Site

contract_sites = Table(
    "contract_sites",
    Base.metadata,
    Column("contract_id", ForeignKey("contracts.id", ondelete="CASCADE"), primary_key=True),
    Column("site_id", ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
)
contract_assets = Table(
    "contract_assets",
    Base.metadata,
    Column("contract_id", ForeignKey("contracts.id", ondelete="CASCADE"), primary_key=True),
    Column("asset_id", ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True),
)
gateway_assets = Table(
    "gateway_assets",
    Base.metadata,
    Column("gateway_id", ForeignKey("gateways.id", ondelete="CASCADE"), primary_key=True),
    Column("asset_id", ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True),
)


class Contract(Base):
    """A service contract of a customer, covering some of its sites and/or assets."""

    __tablename__ = "contracts"
    __table_args__ = (UniqueConstraint("customer_id", "reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    reference: Mapped[str] = mapped_column(String(80))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    notice_days: Mapped[int]
    yearly_value: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    availability_target: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    response_hours: Mapped[int]  # committed time from a call to a technician on site
    units_owned: Mapped[int]  # units the customer owns in total, ours or not
    # tell the customer what the sensors see
    share_sensor_warnings: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    archived_at: Mapped[datetime | None]

    customer: Mapped[Customer] = relationship()
    sites: Mapped[list[Site]] = relationship(secondary=contract_sites, order_by="Site.name")
    assets: Mapped[list[Asset]] = relationship(secondary=contract_assets, order_by="Asset.name")

    def covered_asset_ids(self) -> set[int]:
        """Assets the contract covers: those listed, and every asset of the sites listed."""
        return {a.id for a in self.assets} | {a.id for s in self.sites for a in s.assets}

    def maintained_share(self) -> float | None:
        """The share (0–1) of the customer's units this contract maintains, when known."""
        if self.units_owned <= 0:
            return None
        return min(1.0, len(self.covered_asset_ids()) / self.units_owned)


class Gateway(Base):
    """A device gateway: an MQTT account that may publish for its assets only.

    ``password_hash`` is in the broker's own format (Mosquitto ``$7$``, PBKDF2-SHA512), so
    the password file is written from this table; the password is shown once.
    """

    __tablename__ = "gateways"

    id: Mapped[int] = mapped_column(primary_key=True)
    ident: Mapped[str] = mapped_column(String(64), unique=True)  # MQTT username and presence id
    description: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    archived_at: Mapped[datetime | None]

    assets: Mapped[list[Asset]] = relationship(secondary=gateway_assets, order_by="Asset.mqtt_id")
