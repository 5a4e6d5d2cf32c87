"""Create, change, archive and restore registry records, with the checks that need the
database and an audit entry in the same transaction.

Nothing with history is deleted. Archiving a customer archives its sites and units,
archiving a site its units (all at the same instant, so that restoring brings back what
went with it and nothing archived before). Archived records stay reachable by id and
count in KPIs for the time before their archiving (:meth:`portal.access.Scope.period_asset_filter`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fleet.models import Asset, Contract, Customer, Gateway, Site, User, contract_assets
from fleet.models.organisation import new_public_token
from portal import audit
from portal.access import check
from portal.refusal import Refused

logger = logging.getLogger(__name__)
FORBIDDEN = lazy_gettext("Only administrators change the fleet's registry.")
Record = Customer | Site | Asset | Contract | Gateway
KIND: dict[type[Any], str] = {
    Customer: "customer",
    Site: "site",
    Asset: "asset",
    Contract: "contract",
    Gateway: "gateway",
}


def fields(record: Record) -> dict[str, Any]:
    """What an administrator may change on a record, as stored (for audit and import diffs)."""
    if isinstance(record, Customer):
        return {"name": record.name}
    if isinstance(record, Site):
        return {
            "customer_id": record.customer_id,
            "name": record.name,
            "kind": record.kind.value,
            "address": record.address,
            "postal_code": record.postal_code,
            "city": record.city,
            "country": record.country,
            "timezone": record.timezone,
        }
    if isinstance(record, Asset):
        return {
            "site_id": record.site_id,
            "name": record.name,
            "kind": record.kind.value,
            "manufacturer": record.manufacturer,
            "model": record.model,
            "serial_number": record.serial_number,
            "mqtt_id": record.mqtt_id,
            "install_date": record.install_date.isoformat(),
            "rated_load_kg": record.rated_load_kg,
            "floors_served": record.floors_served,
            "contract_level": record.contract_level.value,
            "availability_target": f"{record.availability_target:.2f}",
        }
    if isinstance(record, Contract):
        return {
            "customer_id": record.customer_id,
            "reference": record.reference,
            "start_date": record.start_date.isoformat(),
            "end_date": record.end_date.isoformat(),
            "notice_days": record.notice_days,
            "yearly_value": f"{record.yearly_value:.2f}",
            "currency": record.currency,
            "availability_target": f"{record.availability_target:.2f}",
            "response_hours": record.response_hours,
            "units_owned": record.units_owned,
            "share_sensor_warnings": "yes" if record.share_sensor_warnings else "no",
            "site_ids": sorted(s.id for s in record.sites),
            "asset_ids": sorted(a.id for a in record.assets),
        }
    return {
        "ident": record.ident,
        "description": record.description,
        "asset_ids": sorted(a.id for a in record.assets),
    }


_KEYS = {
    "customer": {"name"},
    "site": {"customer_id", "name", "kind", "address", "postal_code", "city", "country", "timezone"},
    "asset": {
        "site_id",
        "name",
        "kind",
        "manufacturer",
        "model",
        "serial_number",
        "mqtt_id",
        "install_date",
        "rated_load_kg",
        "floors_served",
        "contract_level",
        "availability_target",
    },
    "contract": {
        "customer_id",
        "reference",
        "start_date",
        "end_date",
        "notice_days",
        "yearly_value",
        "currency",
        "availability_target",
        "response_hours",
        "units_owned",
        "site_ids",
        "asset_ids",
    },
    "gateway": {"ident", "description", "asset_ids"},
}


def _refuse(field: str, message: Any) -> Refused:
    return Refused(message, 400, {field: [str(message)]})


def _taken(session: Session, stmt: Any, record: Record | None) -> bool:
    found = session.scalar(stmt.limit(1))
    return found is not None and (record is None or found != record.id)


def _finish(session: Session, record: Record, by: User, now: datetime, before: dict[str, Any] | None) -> None:
    session.flush()
    after = fields(record)
    kind = KIND[type(record)]
    if before is None:
        audit.record(session, by, f"{kind}.created", kind, record.id, now, after=after)
    elif before != after:
        changed = [k for k in after if before.get(k) != after[k]]
        audit.record(
            session,
            by,
            f"{kind}.changed",
            kind,
            record.id,
            now,
            {k: before.get(k) for k in changed},
            {k: after[k] for k in changed},
        )


def save_customer(
    session: Session, by: User, now: datetime, values: Mapping[str, Any], customer: Customer | None = None
) -> Customer:
    """Create a customer or rename one; names are unique."""
    check(by, "administer", FORBIDDEN)
    if _taken(session, select(Customer.id).where(Customer.name == values["name"]), customer):
        raise _refuse("name", lazy_gettext("Another customer already has this name."))
    before = None if customer is None else fields(customer)
    if customer is None:
        customer = Customer(name=values["name"], created_at=now)
        session.add(customer)
    customer.name = values["name"]
    _finish(session, customer, by, now, before)
    return customer


def _active_customer(session: Session, customer_id: int, field: str = "customer_id") -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None or customer.archived_at is not None:
        raise _refuse(field, lazy_gettext("Choose the customer from the list."))
    return customer


def save_site(
    session: Session, by: User, now: datetime, values: Mapping[str, Any], site: Site | None = None
) -> Site:
    """Create or change a site; names are unique per customer. A site does not change customer."""
    check(by, "administer", FORBIDDEN)
    customer = _active_customer(session, values["customer_id"])
    if site is not None and site.customer_id != customer.id:
        raise _refuse(
            "customer_id", lazy_gettext("A site stays with its customer; create a new site instead.")
        )
    taken = select(Site.id).where(Site.customer_id == customer.id, Site.name == values["name"])
    if _taken(session, taken, site):
        raise _refuse("name", lazy_gettext("This customer already has a site with this name."))
    before = None if site is None else fields(site)
    if site is None:
        site = Site(
            customer_id=customer.id,
            name=values["name"],
            kind=values["kind"],
            address="",
            city="",
            postal_code="",
            country=values["country"],
            timezone=values["timezone"],
        )
        session.add(site)
    for key in ("name", "kind", "address", "postal_code", "city", "country", "timezone"):
        setattr(site, key, values[key])
    _finish(session, site, by, now, before)
    return site


def save_asset(
    session: Session, by: User, now: datetime, values: Mapping[str, Any], asset: Asset | None = None
) -> Asset:
    """Create or change a unit. Its MQTT id is unique; moving it to another site keeps its
    history (outages, visits, telemetry follow the unit)."""
    check(by, "administer", FORBIDDEN)
    site = session.get(Site, values["site_id"])
    if site is None or site.archived_at is not None:
        raise _refuse("site_id", lazy_gettext("Choose the site from the list."))
    if _taken(session, select(Asset.id).where(Asset.mqtt_id == values["mqtt_id"]), asset):
        raise _refuse("mqtt_id", lazy_gettext("Another unit already uses this MQTT id."))
    if _taken(session, select(Asset.id).where(Asset.site_id == site.id, Asset.name == values["name"]), asset):
        raise _refuse("name", lazy_gettext("This site already has a unit with this name."))
    if asset is not None and asset.site_id != site.id and site.customer_id != asset.site.customer_id:
        listed = session.scalar(
            select(Contract.reference)
            .join(contract_assets)
            .where(contract_assets.c.asset_id == asset.id, Contract.customer_id != site.customer_id)
            .limit(1)
        )
        if listed is not None:
            raise _refuse(
                "site_id",
                lazy_gettext(
                    "This unit is listed on contract %(reference)s of its customer; take it off first.",
                    reference=listed,
                ),
            )
    before = None if asset is None else fields(asset)
    if asset is None:
        asset = Asset(mqtt_id=values["mqtt_id"], site_id=site.id)
        session.add(asset)
    for key in _KEYS["asset"]:
        setattr(asset, key, values[key])
    asset.site = site
    _finish(session, asset, by, now, before)
    return asset


def save_contract(
    session: Session, by: User, now: datetime, values: Mapping[str, Any], contract: Contract | None = None
) -> Contract:
    """Create or change a contract; what it covers belongs to its customer."""
    check(by, "administer", FORBIDDEN)
    customer = _active_customer(session, values["customer_id"])
    if contract is not None and contract.customer_id != customer.id:
        raise _refuse("customer_id", lazy_gettext("A contract stays with its customer."))
    taken = select(Contract.id).where(
        Contract.customer_id == customer.id, Contract.reference == values["reference"]
    )
    if _taken(session, taken, contract):
        raise _refuse("reference", lazy_gettext("This customer already has a contract with this reference."))
    sites = (
        list(session.scalars(select(Site).where(Site.id.in_(values["site_ids"]))))
        if values["site_ids"]
        else []
    )
    if len(sites) != len(values["site_ids"]) or any(s.customer_id != customer.id for s in sites):
        raise _refuse("site_ids", lazy_gettext("A contract covers only its customer's sites."))
    ids = values["asset_ids"]
    assets = list(session.scalars(select(Asset).join(Site).where(Asset.id.in_(ids)))) if ids else []
    if len(assets) != len(ids) or any(a.site.customer_id != customer.id for a in assets):
        raise _refuse("asset_ids", lazy_gettext("A contract covers only its customer's units."))
    before = None if contract is None else fields(contract)
    if contract is None:
        contract = Contract(customer_id=customer.id, created_at=now)
        session.add(contract)
    for key in _KEYS["contract"] - {"site_ids", "asset_ids", "customer_id"}:
        setattr(contract, key, values[key])
    if values.get("share_sensor_warnings") in ("yes", "no"):  # a CSV file without the column keeps it
        contract.share_sensor_warnings = values["share_sensor_warnings"] == "yes"
    contract.sites, contract.assets = sites, assets
    _finish(session, contract, by, now, before)
    return contract


def _same_batch(column: Any, archived: bool, was: datetime | None) -> Any:
    """Rows that go along: not archived yet (archiving), or archived at the same instant (restoring)."""
    return column.is_(None) if archived else column == was


def _set_archived(session: Session, record: Record, by: User, now: datetime, archived: bool) -> None:
    check(by, "administer", FORBIDDEN)
    kind = KIND[type(record)]
    was = record.archived_at
    if (was is not None) == archived:
        message = (
            lazy_gettext("This is already archived.") if archived else lazy_gettext("This is not archived.")
        )
        raise Refused(message, 409)
    if not archived and isinstance(record, Site | Asset):
        parent = record.customer if isinstance(record, Site) else record.site
        if parent.archived_at is not None:
            raise Refused(lazy_gettext("Restore what it belongs to first."), 409)
    stamp = now if archived else None
    record.archived_at = stamp
    session.flush()
    site_ids = None
    if isinstance(record, Customer):
        site_ids = select(Site.id).where(Site.customer_id == record.id)
        for model, owner in ((Site, Site.customer_id), (Contract, Contract.customer_id)):
            session.execute(
                update(model)
                .where(owner == record.id, _same_batch(model.archived_at, archived, was))
                .values(archived_at=stamp)
                .execution_options(synchronize_session=False)
            )
    elif isinstance(record, Site):
        site_ids = select(Site.id).where(Site.id == record.id)
    if site_ids is not None:
        session.execute(
            update(Asset)
            .where(Asset.site_id.in_(site_ids), _same_batch(Asset.archived_at, archived, was))
            .values(archived_at=stamp)
            .execution_options(synchronize_session=False)
        )
    session.expire_all()
    verb = "archived" if archived else "restored"
    audit.record(
        session, by, f"{kind}.{verb}", kind, record.id, now, {"archived_at": was}, {"archived_at": stamp}
    )
    logger.info("user %s %s %s %s", by.id, verb, kind, record.id)


def archive(session: Session, record: Record, by: User, now: datetime) -> None:
    """Hide a record (and what belongs to it) from daily views; its history stays."""
    _set_archived(session, record, by, now, True)


def restore(session: Session, record: Record, by: User, now: datetime) -> None:
    """Bring an archived record back (with what was archived along with it)."""
    _set_archived(session, record, by, now, False)


def rotate_resident_link(session: Session, asset: Asset, by: User, now: datetime) -> str:
    """A new resident link for the unit: the old one (and its printed sticker) stops working."""
    check(by, "administer", FORBIDDEN)
    asset.public_token = new_public_token()
    session.flush()
    audit.record(session, by, "asset.link_rotated", "asset", asset.id, now)
    logger.info("user %s rotated the resident link of asset %s", by.id, asset.id)
    return asset.public_token
