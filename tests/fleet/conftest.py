"""Fixtures for core and ingest tests: a registry of assets in a migrated database."""

from __future__ import annotations

from datetime import date

import pytest

from fleet.db import Database
from fleet.models import Asset, AssetKind, Customer, Site, SiteKind


def add_assets(db: Database, mqtt_ids: list[str]) -> dict[str, int]:
    """Create one customer and site holding elevators with these MQTT ids; return their ids."""
    with db.session() as s:
        site = Site(
            customer=Customer(name="Test customer"), name="Test site", kind=SiteKind.OFFICE,
            address="1 test street", city="Lyon", postal_code="69001", country="FR", timezone="Europe/Paris",
        )  # fmt: skip
        assets = [
            Asset(
                site=site,
                kind=AssetKind.ELEVATOR,
                name=f"Elevator {m}",
                manufacturer="M",
                model="X",
                serial_number=f"S-{m}",
                mqtt_id=m,
                install_date=date(2010, 1, 1),
            )
            for m in mqtt_ids
        ]
        s.add_all(assets)
        s.flush()
        return {a.mqtt_id: a.id for a in assets}


@pytest.fixture
def asset_ids(db: Database) -> dict[str, int]:
    """Three elevators: ELV-1, ELV-2, ELV-3."""
    return add_assets(db, ["ELV-1", "ELV-2", "ELV-3"])
