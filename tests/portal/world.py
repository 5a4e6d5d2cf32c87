"""A small hand-built world for survey and dashboard tests: two customers, one site and
one elevator each, and one account per group."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from fleet.models import Asset, AssetKind, Customer, Site, SiteKind, StakeholderGroup, User
from portal.auth.service import create_user

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"


@dataclass
class World:
    """Ids of what :func:`build_world` created."""

    customer_a: int
    customer_b: int
    site_a: int
    site_b: int
    asset_a: int
    asset_b: int
    fm_a: int
    hoa_a: int
    tech_a: int
    fm_b: int
    staff: int


def new_site(customer: Customer, name: str) -> Site:
    """A residential site of ``customer`` (not added to a session)."""
    return Site(
        customer=customer, name=name, kind=SiteKind.RESIDENTIAL, address="1 rue", city="Lyon",
        postal_code="69001", country="FR", timezone="Europe/Paris",
    )  # fmt: skip


def new_elevator(site: Site, mqtt_id: str) -> Asset:
    """An elevator on ``site`` (not added to a session)."""
    return Asset(
        site=site, kind=AssetKind.ELEVATOR, name=f"Elevator {mqtt_id[-1]}", manufacturer="Acme",
        model="M1", serial_number=mqtt_id, mqtt_id=mqtt_id, install_date=date(2000, 1, 1),
        availability_target=Decimal("99.5"),
    )  # fmt: skip


def build_world(session: Session) -> World:
    """Create the world and return its ids."""
    a, b = Customer(name="Customer A"), Customer(name="Customer B")
    site_a, site_b = new_site(a, "Site A"), new_site(b, "Site B")
    asset_a, asset_b = new_elevator(site_a, "ELV-9001"), new_elevator(site_b, "ELV-9002")
    session.add_all([a, b, site_a, site_b, asset_a, asset_b])
    session.flush()

    def user(email: str, group: StakeholderGroup, **scope: object) -> User:
        return create_user(
            session,
            email=email,
            name=email.split("@", maxsplit=1)[0],
            password=PASSWORD,
            group=group,
            **scope,
        )  # type: ignore[arg-type]

    fm_a = user("fm.a@test.example", StakeholderGroup.FACILITY_MANAGER, customer_id=a.id)
    hoa_a = user("hoa.a@test.example", StakeholderGroup.HOA_PRESIDENT, site_ids=[site_a.id])
    tech_a = user("tech.a@test.example", StakeholderGroup.FIELD_TECHNICIAN, site_ids=[site_a.id])
    fm_b = user("fm.b@test.example", StakeholderGroup.FACILITY_MANAGER, customer_id=b.id)
    staff = user("staff@test.example", StakeholderGroup.VENDOR_STAFF)
    session.flush()
    return World(
        a.id,
        b.id,
        site_a.id,
        site_b.id,
        asset_a.id,
        asset_b.id,
        fm_a.id,
        hoa_a.id,
        tech_a.id,
        fm_b.id,
        staff.id,
    )
