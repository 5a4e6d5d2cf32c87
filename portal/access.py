"""The access rule, in one place: who may see which customers, sites and assets.

Every view, API endpoint and live channel asks this module. A principal is either a
logged-in :class:`~fleet.models.User` or an anonymous resident holding one asset's
link. Objects outside a principal's scope are reported as *not found*
(:class:`NotVisible`), never as forbidden, so their existence does not leak.

Rules:
- vendor staff see every customer, site and asset;
- other users with an explicit list of sites see those sites (and their assets);
- other users with only a customer see every site of that customer;
- a user with neither sees nothing;
- a resident link sees its one asset, and no site or customer page.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import ColumnElement, Select, false, select, true
from sqlalchemy.orm import Session

from fleet.models import Asset, Customer, Site, StakeholderGroup, User

logger = logging.getLogger(__name__)
T = TypeVar("T")
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")


class NotVisible(LookupError):
    """The object does not exist or is outside the principal's scope (answer 404)."""


@dataclass(frozen=True)
class Scope:
    """What one principal may see, computed once per request."""

    everything: bool = False
    customer_ids: frozenset[int] = field(default_factory=frozenset)
    site_ids: frozenset[int] = field(default_factory=frozenset)
    asset_ids: frozenset[int] = field(default_factory=frozenset)
    sites_visible: bool = True

    @classmethod
    def for_user(cls, user: User) -> Scope:
        """The scope of an account, from its group, customer and site list."""
        if not user.is_active:
            return cls()
        if user.group is StakeholderGroup.VENDOR_STAFF:
            return cls(everything=True)
        site_ids = frozenset(site.id for site in user.sites)
        if site_ids:
            return cls(site_ids=site_ids)
        if user.customer_id is not None:
            return cls(customer_ids=frozenset({user.customer_id}))
        return cls()

    @classmethod
    def for_resident(cls, asset_id: int) -> Scope:
        """The scope of an anonymous resident link: one asset, no site or customer."""
        return cls(asset_ids=frozenset({asset_id}), sites_visible=False)

    # --- SQL filters -------------------------------------------------------------
    def site_filter(self) -> ColumnElement[bool]:
        """A WHERE clause on :class:`Site` for the sites in scope."""
        if not self.sites_visible:
            return false()
        if self.everything:
            return true()
        clauses = []
        if self.site_ids:
            clauses.append(Site.id.in_(self.site_ids))
        if self.customer_ids:
            clauses.append(Site.customer_id.in_(self.customer_ids))
        if not clauses:
            return false()
        return clauses[0] if len(clauses) == 1 else clauses[0] | clauses[1]

    def asset_filter(self) -> ColumnElement[bool]:
        """A WHERE clause on :class:`Asset` for the assets in scope."""
        if self.everything:
            return true()
        if self.asset_ids:
            return Asset.id.in_(self.asset_ids)
        return Asset.site_id.in_(select(Site.id).where(self.site_filter()))

    def customer_filter(self) -> ColumnElement[bool]:
        """A WHERE clause on :class:`Customer`: customers with at least one site in scope."""
        if self.everything:
            return true()
        if not self.sites_visible:
            return false()
        return Customer.id.in_(select(Site.customer_id).where(self.site_filter()))

    # --- queries -------------------------------------------------------------------
    def customers(self) -> Select[tuple[Customer]]:
        """Customers in scope, by name."""
        return select(Customer).where(self.customer_filter()).order_by(Customer.name)

    def sites(self) -> Select[tuple[Site]]:
        """Sites in scope, by name."""
        return select(Site).where(self.site_filter()).order_by(Site.name)

    def assets(self) -> Select[tuple[Asset]]:
        """Assets in scope, by site then name."""
        return (
            select(Asset)
            .join(Site, Asset.site_id == Site.id)
            .where(self.asset_filter())
            .order_by(Site.name, Asset.name)
        )

    def can_see_asset(self, session: Session, asset_id: int) -> bool:
        """True if the asset exists and is in scope."""
        stmt = select(Asset.id).where(Asset.id == asset_id, self.asset_filter())
        return session.scalar(stmt) is not None

    def get_customer(self, session: Session, customer_id: int) -> Customer:
        """The customer, or :class:`NotVisible`."""
        return _one(session, select(Customer).where(Customer.id == customer_id, self.customer_filter()))

    def get_site(self, session: Session, site_id: int) -> Site:
        """The site, or :class:`NotVisible`."""
        return _one(session, select(Site).where(Site.id == site_id, self.site_filter()))

    def get_asset(self, session: Session, asset_id: int) -> Asset:
        """The asset, or :class:`NotVisible`."""
        return _one(session, select(Asset).where(Asset.id == asset_id, self.asset_filter()))


def _one(session: Session, stmt: Select[tuple[T]]) -> T:
    obj = session.scalar(stmt)
    if obj is None:
        raise NotVisible
    return obj


def resident_asset(session: Session, token: str) -> Asset:
    """The asset behind a resident link token, or :class:`NotVisible`."""
    if not _TOKEN_RE.fullmatch(token):
        raise NotVisible
    asset = session.scalar(select(Asset).where(Asset.public_token == token))
    if asset is None:
        raise NotVisible
    return asset
