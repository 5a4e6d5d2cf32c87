"""Model rules: derived age, validation, time zones, uniqueness — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, StatementError

from fleet.db import Database
from fleet.models import Asset, AssetKind, Customer, Outage, Site, SiteKind, age_between


@pytest.mark.parametrize(
    ("start", "today", "years", "months"),
    [
        (date(1985, 6, 15), date(2026, 11, 23), 41, 5),
        (date(2020, 11, 23), date(2026, 11, 23), 6, 0),
        (date(2020, 11, 24), date(2026, 11, 23), 5, 11),
        (date(2024, 2, 29), date(2025, 2, 28), 0, 11),
        (date(2027, 1, 1), date(2026, 11, 23), 0, 0),
    ],
)
def test_age_in_years_and_months(start: date, today: date, years: int, months: int) -> None:
    age = age_between(start, today)
    assert (age.years, age.months) == (years, months)


def _site(customer: Customer) -> Site:
    return Site(
        customer=customer, name="Tower", kind=SiteKind.OFFICE, address="1 rue", city="Paris",
        postal_code="75001", country="fr", timezone="Europe/Paris",
    )  # fmt: skip


def _asset(site: Site, mqtt_id: str = "ELV-1") -> Asset:
    return Asset(
        site=site, kind=AssetKind.ELEVATOR, name=f"Elevator {mqtt_id}", manufacturer="M", model="X",
        serial_number="S1", mqtt_id=mqtt_id, install_date=date(2001, 3, 4),
    )  # fmt: skip


def test_round_trip_keeps_utc_and_derives_age(db: Database) -> None:
    with db.session() as s:
        site = _site(Customer(name="C"))
        asset = _asset(site)
        paris = timezone(timedelta(hours=1))
        s.add(Outage(asset=asset, started_at=datetime(2026, 1, 1, 12, 0, tzinfo=paris)))
    with db.session() as s:
        outage = s.scalars(select(Outage)).one()
        assert outage.started_at == datetime(2026, 1, 1, 11, 0, tzinfo=UTC)
        assert outage.started_at.tzinfo is not None
        asset = s.scalars(select(Asset)).one()
        assert asset.site.country == "FR"
        assert asset.age_on(date(2026, 11, 23)).years == 25
        assert len(asset.public_token) >= 32
        assert asset.availability_target == 99.5


def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime"), db.session() as s:
        site = _site(Customer(name="C"))
        s.add(Outage(asset=_asset(site), started_at=datetime(2026, 1, 1, 12, 0)))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("timezone", "Mars/Olympus", "time zone"), ("country", "FRA", "two-letter")],
)
def test_site_validation(field: str, value: str, message: str) -> None:
    site = _site(Customer(name="C"))
    with pytest.raises(ValueError, match=message):
        setattr(site, field, value)


@pytest.mark.parametrize("mqtt_id", ["", "has space", "a/b", "+", "x" * 65])
def test_mqtt_id_must_be_topic_safe(mqtt_id: str) -> None:
    with pytest.raises(ValueError, match="mqtt_id"):
        _asset(_site(Customer(name="C")), mqtt_id)


def test_mqtt_id_and_outage_start_are_unique(db: Database) -> None:
    with db.session() as s:
        site = _site(Customer(name="C"))
        s.add(_asset(site, "ELV-1"))
    with pytest.raises(IntegrityError), db.session() as s:
        site2 = Site(
            customer=s.scalars(select(Customer)).one(), name="Other", kind=SiteKind.OFFICE, address="a",
            city="b", postal_code="c", country="FR", timezone="Europe/Paris",
        )  # fmt: skip
        s.add(_asset(site2, "ELV-1"))
    start = datetime(2026, 5, 1, tzinfo=UTC)
    with db.session() as s:
        s.add(Outage(asset_id=s.scalars(select(Asset.id)).one(), started_at=start))
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(Outage(asset_id=s.scalars(select(Asset.id)).one(), started_at=start))
