"""What each registry form shows: its fields, labels and choices (one template draws them all)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.models import Asset, AssetKind, ContractLevel, Customer, Site, SiteKind
from portal.web.filters import KIND_LABELS


@dataclass(frozen=True)
class FieldSpec:
    """One form field: ``kind`` is text, date, number, select or multi."""

    name: str
    label: Any
    kind: str = "text"
    required: bool = True
    choices: tuple[tuple[str, Any], ...] = ()
    hint: Any = ""


SITE_KIND_LABELS = {
    SiteKind.OFFICE: lazy_gettext("Offices"),
    SiteKind.RESIDENTIAL: lazy_gettext("Residential"),
    SiteKind.COMMERCIAL: lazy_gettext("Shops and commerce"),
    SiteKind.PUBLIC: lazy_gettext("Public building"),
}
LEVEL_LABELS = {
    ContractLevel.BASIC: lazy_gettext("Basic"),
    ContractLevel.STANDARD: lazy_gettext("Standard"),
    ContractLevel.PREMIUM: lazy_gettext("Premium"),
}


def _enum(values: Any, labels: Any) -> tuple[tuple[str, Any], ...]:
    return tuple((v.value, labels[v]) for v in values)


def _customers(session: Session) -> tuple[tuple[str, str], ...]:
    stmt = select(Customer.id, Customer.name).where(Customer.archived_at.is_(None)).order_by(Customer.name)
    return tuple((str(i), n) for i, n in session.execute(stmt))


def _sites(session: Session, customer_id: int | None = None) -> tuple[tuple[str, str], ...]:
    stmt = select(Site.id, Site.name, Customer.name).join(Customer).where(Site.archived_at.is_(None))
    if customer_id is not None:
        stmt = stmt.where(Site.customer_id == customer_id)
    rows = session.execute(stmt.order_by(Customer.name, Site.name))
    return tuple((str(i), f"{c} — {n}") for i, n, c in rows)


def _assets(session: Session, customer_id: int | None = None) -> tuple[tuple[str, str], ...]:
    stmt = (
        select(Asset.id, Asset.mqtt_id, Asset.name, Site.name).join(Site).where(Asset.archived_at.is_(None))
    )
    if customer_id is not None:
        stmt = stmt.where(Site.customer_id == customer_id)
    rows = session.execute(stmt.order_by(Site.name, Asset.name))
    return tuple((str(i), f"{s} — {n} ({m})") for i, m, n, s in rows)


def customer_fields(_session: Session) -> list[FieldSpec]:
    """The customer form."""
    return [FieldSpec("name", lazy_gettext("Name"))]


def site_fields(session: Session) -> list[FieldSpec]:
    """The site form."""
    return [
        FieldSpec("customer_id", lazy_gettext("Customer"), "select", choices=_customers(session)),
        FieldSpec("name", lazy_gettext("Name")),
        FieldSpec(
            "kind", lazy_gettext("Kind of building"), "select", choices=_enum(SiteKind, SITE_KIND_LABELS)
        ),
        FieldSpec("address", lazy_gettext("Street address")),
        FieldSpec("postal_code", lazy_gettext("Postal code"), required=False),
        FieldSpec("city", lazy_gettext("City")),
        FieldSpec("country", lazy_gettext("Country"), hint=lazy_gettext("Two letters, e.g. FR")),
        FieldSpec("timezone", lazy_gettext("Time zone"), hint=lazy_gettext("IANA name, e.g. Europe/Paris")),
    ]


def asset_fields(session: Session) -> list[FieldSpec]:
    """The unit form: every registry field."""
    return [
        FieldSpec("site_id", lazy_gettext("Site"), "select", choices=_sites(session)),
        FieldSpec("name", lazy_gettext("Name")),
        FieldSpec(
            "kind",
            lazy_gettext("Kind of equipment"),
            "select",
            choices=_enum(AssetKind, {k: KIND_LABELS[k.value] for k in AssetKind}),
        ),
        FieldSpec("mqtt_id", lazy_gettext("MQTT id"), hint=lazy_gettext("The id the device publishes under")),
        FieldSpec("manufacturer", lazy_gettext("Manufacturer"), required=False),
        FieldSpec("model", lazy_gettext("Model"), required=False),
        FieldSpec("serial_number", lazy_gettext("Serial number"), required=False),
        FieldSpec("install_date", lazy_gettext("Install date"), "date"),
        FieldSpec("rated_load_kg", lazy_gettext("Rated load (kg)"), "number", required=False),
        FieldSpec("floors_served", lazy_gettext("Floors served"), "number", required=False),
        FieldSpec(
            "contract_level",
            lazy_gettext("Contract level"),
            "select",
            choices=_enum(ContractLevel, LEVEL_LABELS),
        ),
        FieldSpec("availability_target", lazy_gettext("Availability target (%)"), hint="99.5"),
    ]


def contract_fields(session: Session, customer_id: int | None) -> list[FieldSpec]:
    """The contract form (sites and units of its customer, once it is chosen)."""
    return [
        FieldSpec("customer_id", lazy_gettext("Customer"), "select", choices=_customers(session)),
        FieldSpec("reference", lazy_gettext("Reference")),
        FieldSpec("start_date", lazy_gettext("Start date"), "date"),
        FieldSpec("end_date", lazy_gettext("End date"), "date"),
        FieldSpec("notice_days", lazy_gettext("Notice period (days)"), "number"),
        FieldSpec("yearly_value", lazy_gettext("Yearly value"), hint="12500.00"),
        FieldSpec("currency", lazy_gettext("Currency"), hint="EUR"),
        FieldSpec("availability_target", lazy_gettext("Availability target (%)"), hint="99.5"),
        FieldSpec("response_hours", lazy_gettext("Response time commitment (hours)"), "number"),
        FieldSpec(
            "units_owned",
            lazy_gettext("Units the customer owns in total"),
            "number",
            hint=lazy_gettext("Ours or not: the share we maintain is worked out from it"),
        ),
        FieldSpec(
            "share_sensor_warnings",
            lazy_gettext("Tell the customer what the sensors see"),
            "select",
            choices=(
                ("no", lazy_gettext("No: sensor warnings stay with our technicians")),
                ("yes", lazy_gettext("Yes: a plain sentence on their unit and building pages")),
            ),
        ),
        FieldSpec("site_ids", lazy_gettext("Sites covered"), "multi", False, _sites(session, customer_id)),
        FieldSpec("asset_ids", lazy_gettext("Units covered"), "multi", False, _assets(session, customer_id)),
    ]


def gateway_fields(session: Session, creating: bool) -> list[FieldSpec]:
    """The gateway form (its name is its MQTT user name: fixed once created)."""
    name = [FieldSpec("ident", lazy_gettext("Name (MQTT user name)"))] if creating else []
    return [
        *name,
        FieldSpec("description", lazy_gettext("Description"), required=False),
        FieldSpec("asset_ids", lazy_gettext("Units it speaks for"), "multi", False, _assets(session)),
    ]
