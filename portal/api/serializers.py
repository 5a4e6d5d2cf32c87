"""Stored records → the API's response models (:mod:`portal.api.schemas`)."""

from __future__ import annotations

from fleet.models import Customer, Feedback, Notification, Outage, Site, User, Visit
from portal.api import schemas as s
from portal.assets.service import AssetSummary
from portal.condition.watch import HitRate


def _pct(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def customer(obj: Customer) -> s.Customer:
    """A customer."""
    return s.Customer(id=obj.id, name=obj.name)


def site(obj: Site, asset_count: int) -> s.Site:
    """A site (building) with its unit count."""
    return s.Site(
        id=obj.id,
        customer_id=obj.customer_id,
        name=obj.name,
        kind=obj.kind.value,
        address=obj.address,
        city=obj.city,
        postal_code=obj.postal_code,
        country=obj.country,
        timezone=obj.timezone,
        asset_count=asset_count,
    )


def outage(obj: Outage) -> s.Outage:
    """An outage."""
    return s.Outage(
        id=obj.id,
        started_at=obj.started_at,
        ended_at=obj.ended_at,
        fault_code=obj.fault_code,
        cause=obj.cause,
        detected_by=obj.detected_by,
    )


def visit(obj: Visit) -> s.Visit:
    """A maintenance visit (without technician identity)."""
    return s.Visit(
        id=obj.id,
        kind=obj.kind.value,
        status=obj.status.value,
        scheduled_start=obj.scheduled_start,
        scheduled_end=obj.scheduled_end,
        summary=obj.summary,
    )


def feedback(obj: Feedback) -> s.Feedback:
    """A feedback item (a resident's contact and the reader token are never included)."""
    return s.Feedback(
        id=obj.id,
        site_id=obj.site_id,
        asset_id=obj.asset_id,
        author_group=obj.author_group.value,
        category=obj.category,
        rating=obj.rating,
        text=obj.text,
        tags=obj.tag_list,
        status=obj.status,
        owner_id=obj.owner_id,
        created_at=obj.created_at,
        last_activity_at=obj.last_activity_at,
        resolved_at=obj.resolved_at,
    )


def feedback_detail(obj: Feedback) -> s.FeedbackDetail:
    """A feedback item with its thread."""
    replies = [
        s.FeedbackReply(author_group=r.author_group.value, body=r.body, created_at=r.created_at)
        for r in obj.replies
    ]
    return s.FeedbackDetail(**dict(feedback(obj)), replies=replies)


def resident_asset(row: AssetSummary) -> s.ResidentAsset:
    """What a resident's link shows of a unit."""
    a = row.asset
    return s.ResidentAsset(
        id=a.id,
        name=a.name,
        kind=a.kind.value,
        status=s.Status(state=row.state_label, since=row.state_since, fault_code=row.fault_code),
        age=s.Age(years=row.age.years, months=row.age.months),
        open_outage=outage(row.open_outage) if row.open_outage else None,
        next_visit=visit(row.next_visit) if row.next_visit else None,
        availability=s.AvailabilityFigures(
            days_30=_pct(row.availability_30d.percent),
            days_90=_pct(row.availability_90d.percent),
            target=float(a.availability_target),
        ),
    )


def asset(row: AssetSummary) -> s.Asset:
    """A unit with status, age, open outage, next visit, availability and its registry fields."""
    a = row.asset
    return s.Asset(
        **dict(resident_asset(row)),
        site_id=a.site_id,
        customer_id=row.customer.id,
        manufacturer=a.manufacturer,
        model=a.model,
        serial_number=a.serial_number,
        mqtt_id=a.mqtt_id,
        install_date=a.install_date,
        rated_load_kg=a.rated_load_kg,
        floors_served=a.floors_served,
        contract_level=a.contract_level.value,
        availability_target=float(a.availability_target),
    )


def user(obj: User) -> s.User:
    """The current user."""
    return s.User(
        id=obj.id,
        email=obj.email,
        name=obj.name,
        group=obj.group,
        customer_id=obj.customer_id,
        site_ids=[site.id for site in obj.sites],
    )


def notification(obj: Notification) -> s.Notification:
    """A notification-centre entry."""
    return s.Notification(
        id=obj.id,
        event=obj.event.value,
        title=obj.title,
        body=obj.body,
        link=obj.link,
        count=obj.count,
        created_at=obj.created_at,
        updated_at=obj.updated_at,
        read_at=obj.read_at,
    )


def hit_rate(customer_id: int | None, name: str | None, rate: HitRate) -> s.HitRateRow:
    """A hit rate as the API gives it (percentages with one decimal)."""
    return s.HitRateRow(
        customer_id=customer_id, customer=name, outages=rate.outages, announced=rate.announced,
        announced_percent=_round(rate.announced_share), median_lead_hours=_round(rate.median_lead_h),
        warnings=rate.warnings, settled=rate.settled, confirmed=rate.confirmed,
        confirmed_percent=_round(rate.confirmed_share), units=rate.units,
        warnings_per_100_unit_months=_round(rate.per_100_unit_months, 2),
    )  # fmt: skip


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)
