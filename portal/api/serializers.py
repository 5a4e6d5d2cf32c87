"""Plain-dict representations of models for the JSON API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fleet.models import Customer, Feedback, Outage, Site, User, Visit
from portal.assets.service import AssetSummary


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _pct(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def customer(obj: Customer) -> dict[str, Any]:
    """A customer."""
    return {"id": obj.id, "name": obj.name}


def site(obj: Site, asset_count: int | None = None) -> dict[str, Any]:
    """A site (building)."""
    data: dict[str, Any] = {
        "id": obj.id,
        "customer_id": obj.customer_id,
        "name": obj.name,
        "kind": obj.kind.value,
        "address": obj.address,
        "city": obj.city,
        "postal_code": obj.postal_code,
        "country": obj.country,
        "timezone": obj.timezone,
    }
    if asset_count is not None:
        data["asset_count"] = asset_count
    return data


def outage(obj: Outage) -> dict[str, Any]:
    """An outage."""
    return {
        "id": obj.id,
        "started_at": _ts(obj.started_at),
        "ended_at": _ts(obj.ended_at),
        "fault_code": obj.fault_code,
        "cause": obj.cause,
        "detected_by": obj.detected_by.value,
    }


def visit(obj: Visit) -> dict[str, Any]:
    """A maintenance visit (without technician identity)."""
    return {
        "id": obj.id,
        "kind": obj.kind.value,
        "status": obj.status.value,
        "scheduled_start": _ts(obj.scheduled_start),
        "scheduled_end": _ts(obj.scheduled_end),
        "summary": obj.summary,
    }


def feedback(obj: Feedback, *, with_thread: bool = False) -> dict[str, Any]:
    """A feedback item (a resident's contact and the reader-token are never included)."""
    data: dict[str, Any] = {
        "id": obj.id,
        "site_id": obj.site_id,
        "asset_id": obj.asset_id,
        "author_group": obj.author_group.value,
        "category": obj.category.value if obj.category else None,
        "rating": obj.rating,
        "text": obj.text,
        "tags": obj.tag_list,
        "status": obj.status.value,
        "owner_id": obj.owner_id,
        "created_at": _ts(obj.created_at),
        "last_activity_at": _ts(obj.last_activity_at),
        "resolved_at": _ts(obj.resolved_at),
    }
    if with_thread:
        data["replies"] = [
            {"author_group": r.author_group.value, "body": r.body, "created_at": _ts(r.created_at)}
            for r in obj.replies
        ]
    return data


def asset_summary(row: AssetSummary, *, public: bool = False) -> dict[str, Any]:
    """An asset with status, age, open outage and next visit; ``public`` hides identifiers."""
    a = row.asset
    data: dict[str, Any] = {
        "id": a.id,
        "name": a.name,
        "kind": a.kind.value,
        "status": {
            "state": row.state_label,
            "since": _ts(row.state_since),
            "fault_code": row.fault_code,
        },
        "age": {"years": row.age.years, "months": row.age.months},
        "open_outage": outage(row.open_outage) if row.open_outage else None,
        "next_visit": visit(row.next_visit) if row.next_visit else None,
        "availability": {
            "days_30": _pct(row.availability_30d.percent),
            "days_90": _pct(row.availability_90d.percent),
            "target": float(a.availability_target),
        },
    }
    if not public:
        data.update(
            site_id=a.site_id,
            customer_id=row.customer.id,
            manufacturer=a.manufacturer,
            model=a.model,
            serial_number=a.serial_number,
            mqtt_id=a.mqtt_id,
            install_date=a.install_date.isoformat(),
            rated_load_kg=a.rated_load_kg,
            floors_served=a.floors_served,
            contract_level=a.contract_level.value,
            availability_target=float(a.availability_target),
        )
    return data


def user(obj: User) -> dict[str, Any]:
    """The current user."""
    return {
        "id": obj.id,
        "email": obj.email,
        "name": obj.name,
        "group": obj.group.value,
        "customer_id": obj.customer_id,
        "site_ids": [s.id for s in obj.sites],
    }
