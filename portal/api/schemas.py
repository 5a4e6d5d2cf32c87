"""The API's request and response models (pydantic). The OpenAPI document is generated
from them (:mod:`portal.api.openapi`), and every answer is built through them, so what
the API returns is exactly what the document describes.

Response models mark every field required (a field that may be empty is ``null``, never
missing). Request models are strict and refuse unknown fields: a request that does not
match its schema is refused, never half-understood.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, RootModel, TypeAdapter

from fleet.db import MAX_ID
from fleet.models import (
    AssetKind,
    ContractLevel,
    DetectedBy,
    ExportState,
    FeedbackCategory,
    FeedbackStatus,
    SiteKind,
    StakeholderGroup,
)

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339(value: Any) -> Any:
    """Only an RFC 3339 timestamp with its offset (no epoch numbers, no naive times), parsed
    here so that strict request bodies take it from its JSON string."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not RFC3339.match(value):
        raise ValueError("must be an RFC 3339 timestamp with a time zone, e.g. 2026-11-01T00:00:00Z")
    return _DATETIME.validate_python(value)


_DATETIME = TypeAdapter(datetime)


def _whole(value: Any) -> Any:
    """JSON Schema counts ``3.0`` as an integer, and so does the API (``3.5`` stays refused)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Timestamp = Annotated[datetime, BeforeValidator(_rfc3339)]
# whole numbers within bounds (the bounds first, so that the document shows them)
Id = Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(_whole)]
RatedLoad = Annotated[int, Field(ge=1, le=100_000), BeforeValidator(_whole)]
Floors = Annotated[int, Field(ge=2, le=300), BeforeValidator(_whole)]
Rating = Annotated[int, Field(ge=1, le=5), BeforeValidator(_whole)]


def _comma_list(value: Any) -> Any:
    """``1,2,3`` in a query string → ``["1", "2", "3"]`` (pydantic then checks each)."""
    if isinstance(value, str):
        return [] if value == "" else value.split(",")
    return value


class Reply(BaseModel):
    """A response body: every field is present (defaults included) in the document."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class Request(BaseModel):
    """A JSON request body: strict types, unknown fields refused."""

    model_config = ConfigDict(strict=True, extra="forbid")


class Query(BaseModel):
    """Query-string parameters (strings, converted; unknown parameters ignored)."""

    model_config = ConfigDict(extra="ignore")


# --- errors --------------------------------------------------------------------------------
class Error(BaseModel):
    """Every error answer: a sentence for people and, when input was refused, the reasons by field."""

    error: str = Field(description="What went wrong, in English")
    fields: dict[str, list[str]] | None = Field(
        default=None,
        description="Refused input: field (for a list item, items[index].field) → reasons",
    )


# --- reads ---------------------------------------------------------------------------------
class User(Reply):
    """The account making the request."""

    id: int
    email: str
    name: str
    group: StakeholderGroup
    customer_id: int | None
    site_ids: list[int]


class Customer(Reply):
    """A customer (contract holder)."""

    id: int
    name: str


class Site(Reply):
    """A site (building) with the number of units in service there."""

    id: int
    customer_id: int
    name: str
    kind: str
    address: str
    city: str
    postal_code: str
    country: str
    timezone: str = Field(description="IANA zone; times on pages are shown in it")
    asset_count: int


class CustomerDetail(Customer):
    """A customer with its sites in scope."""

    sites: list[Site]


class Outage(Reply):
    """An unplanned period out of service."""

    id: int
    started_at: datetime
    ended_at: datetime | None = Field(description="null while it lasts")
    fault_code: str | None
    cause: str | None
    detected_by: DetectedBy


class Visit(Reply):
    """A maintenance visit (the technician is not named)."""

    id: int
    kind: str
    status: str
    scheduled_start: datetime
    scheduled_end: datetime
    summary: str | None


State = Literal["in_service", "out_of_service", "maintenance", "degraded", "offline", "unknown"]


class Status(Reply):
    """The live status: ``unknown`` until the unit first reports."""

    state: State
    since: datetime | None
    fault_code: str | None


class Age(Reply):
    """Time since installation."""

    years: int
    months: int


class AvailabilityFigures(Reply):
    """Availability in percent over the last 30 and 90 days (null when all was maintenance)."""

    days_30: float | None
    days_90: float | None
    target: float


class ResidentAsset(Reply):
    """What a resident's link shows: no identifiers beyond the unit's own id."""

    id: int
    name: str
    kind: str
    status: Status
    age: Age
    open_outage: Outage | None
    next_visit: Visit | None
    availability: AvailabilityFigures


class Asset(ResidentAsset):
    """A unit with status, age, open outage, next visit and availability."""

    site_id: int
    customer_id: int
    manufacturer: str
    model: str
    serial_number: str
    mqtt_id: str
    install_date: date
    rated_load_kg: int | None
    floors_served: int | None
    contract_level: str
    availability_target: float


class AssetDetail(Asset):
    """A unit with its most recent outages (newest first, at most 50)."""

    outages: list[Outage]


class SiteDetail(Site):
    """A site with its units."""

    assets: list[Asset]


class FeedbackReply(Reply):
    """One message of a feedback thread."""

    author_group: str
    body: str
    created_at: datetime


class Feedback(Reply):
    """A feedback item. A resident's contact details are never included."""

    id: int
    site_id: int
    asset_id: int | None
    author_group: str
    category: FeedbackCategory | None
    rating: int | None = Field(ge=1, le=5)
    text: str
    tags: list[str] = Field(description="topics found in the text")
    status: FeedbackStatus
    owner_id: int | None
    created_at: datetime
    last_activity_at: datetime
    resolved_at: datetime | None


class FeedbackDetail(Feedback):
    """A feedback item with its thread."""

    replies: list[FeedbackReply]


class WarningPeriod(Reply):
    """A sensor warning on this signal (for those allowed to know of it)."""

    start: datetime = Field(description="when the signal started to move")
    end: datetime | None = Field(description="when the warning closed; null while open")
    severity: Literal["low", "medium", "high"]
    status: str


class Series(Reply):
    """One sensor signal, downsampled."""

    field: str
    label: str
    unit: str
    kind: Literal["gauge", "rate"]
    times: list[int] = Field(description="epoch milliseconds")
    values: list[float | None]
    band: list[float] | None = Field(
        default=None,
        description="[low, high]: the signal's usual range (± 2 spreads) as the last sensor warning on it "
        "measured it; null when there is none or the signal has no comparable band",
    )
    warnings: list[WarningPeriod] = Field(default_factory=list, description="sensor warnings over the window")


class Telemetry(Reply):
    """Downsampled sensor series of one unit over a window."""

    asset_id: int
    start: datetime
    end: datetime
    interval_s: int = Field(description="width of one bucket")
    series: list[Series]


class Notification(Reply):
    """An entry of the account's notification centre."""

    id: int
    event: str
    title: str
    body: str
    link: str | None
    count: int = Field(description="how many events this entry stands for")
    created_at: datetime
    updated_at: datetime
    read_at: datetime | None = Field(description="null until read or acknowledged")


class CustomerList(Reply):
    """Customers in scope."""

    items: list[Customer]


class SiteList(Reply):
    """Sites in scope."""

    items: list[Site]


class AssetList(Reply):
    """Units in scope."""

    items: list[Asset]


class FeedbackList(Reply):
    """Feedback the account may read."""

    items: list[Feedback]


class NotificationList(Reply):
    """The account's notifications, newest first."""

    items: list[Notification]
    unread: int


class OpenApiDocument(RootModel[dict[str, Any]]):
    """An OpenAPI 3.1 document."""


# --- exports (one row per line; CSV has the same columns in the same order) ----------------
class _UnitRow(Reply):
    """The first columns of a row about one unit's record: the record, the unit, its site."""

    id: int
    asset_id: int
    asset_mqtt_id: str
    asset_name: str
    site_id: int
    site_name: str


class OutageRow(_UnitRow):
    """An outage with its unit and site."""

    started_at: datetime
    ended_at: datetime | None
    duration_s: int | None = Field(description="null while the outage lasts")
    fault_code: str | None
    cause: str | None
    detected_by: DetectedBy


class VisitRow(_UnitRow):
    """A visit with its unit and site; the report only for accounts that may read reports."""

    kind: str
    status: str
    scheduled_start: datetime
    scheduled_end: datetime
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    summary: str
    report: str | None = Field(description="null for accounts that may not read reports")
    next_action: str | None


class PortfolioRow(Reply):
    """A unit as the portfolio page shows it, now."""

    asset_id: int
    mqtt_id: str
    name: str
    kind: str
    customer_id: int
    customer_name: str
    site_id: int
    site_name: str
    state: State
    state_since: datetime | None
    fault_code: str | None
    install_date: date
    age_years: int
    open_outage_id: int | None
    open_outage_since: datetime | None
    next_visit_id: int | None
    next_visit_start: datetime | None
    availability_30d: float | None
    availability_90d: float | None
    availability_target: float
    contract_level: str
    manufacturer: str
    model: str
    serial_number: str


class KpiRow(Reply):
    """Service KPIs of one customer, site or unit over the period (see the KPI page)."""

    level: Literal["customer", "site", "asset"]
    id: int
    name: str
    customer_id: int
    site_id: int | None = Field(description="null on customer rows")
    assets: int
    availability_pct: float | None = Field(description="time in service ÷ (period − planned maintenance)")
    target_pct: float | None = Field(description="mean contract availability target")
    outages: int
    mtbf_h: float | None = Field(description="in-service hours per unplanned outage")
    mttr_min: float | None = Field(description="mean minutes to restore, outages closed in the period")
    callbacks_per_unit_year: float | None
    response_min: float | None = Field(description="mean minutes from detection to technician on site")
    visits_due: int
    visits_on_time_pct: float | None
    feedback_resolved: int
    feedback_median_resolution_h: float | None


class _Page(Reply):
    next_cursor: str | None = Field(description="pass as cursor for the next page; null on the last")


class _PeriodPage(_Page):
    start: datetime
    end: datetime


class OutagePage(_PeriodPage):
    """A page of outages."""

    items: list[OutageRow]


class VisitPage(_PeriodPage):
    """A page of visits."""

    items: list[VisitRow]


class KpiPage(_PeriodPage):
    """A page of KPI rows."""

    items: list[KpiRow]


class PortfolioPage(_Page):
    """A page of the portfolio."""

    items: list[PortfolioRow]


class HitRateRow(Reply):
    """How often the sensors warned before a failure, for one customer (or all in scope)."""

    customer_id: int | None = Field(description="null for the whole scope")
    customer: str | None
    outages: int = Field(description="unplanned outages that started in the period")
    announced: int = Field(
        description="of which a sensor warning opened in the 30 days before and still open then"
    )
    announced_percent: float | None
    median_lead_hours: float | None = Field(description="first warning → outage, over the announced outages")
    warnings: int = Field(description="warnings opened in the period")
    settled: int = Field(description="of which confirmed, dismissed or followed by an outage")
    confirmed: int = Field(description="of which confirmed by a technician or followed by an outage")
    confirmed_percent: float | None = Field(description="confirmed ÷ settled")
    units: int
    warnings_per_100_unit_months: float | None


class HitRateReply(Reply):
    """The published hit rate of the sensors' early warnings."""

    days: int
    start: datetime
    end: datetime
    overall: HitRateRow
    customers: list[HitRateRow]


# --- query strings -------------------------------------------------------------------------
class AssetsQuery(Query):
    """Narrow the list to some units."""

    ids: Annotated[list[Id], BeforeValidator(_comma_list)] | None = Field(
        default=None,
        max_length=1000,
        description="Comma-separated unit ids (at most 1000)",
        json_schema_extra={"x-comma-separated": True},
    )


class TelemetryQuery(Query):
    """A preset window or an explicit one (zoom)."""

    range: Literal["24h", "7d", "30d"] | None = Field(default=None, description="Default: 24h")
    start: Timestamp | None = Field(
        default=None, description="With end: an explicit window, at most 400 days"
    )
    end: Timestamp | None = None


class PageQuery(Query):
    """Paging and format, shared by every export."""

    format: Literal["json", "csv"] | None = Field(default=None, description="Or send Accept: text/csv")
    limit: int = Field(default=500, ge=1, le=1000)
    cursor: str | None = Field(default=None, max_length=200, description="next_cursor of the previous page")


class PeriodQuery(PageQuery):
    """A period and, optionally, one site."""

    start: Timestamp | None = Field(default=None, description="Default: 30 days before end")
    end: Timestamp | None = Field(default=None, description="Default: now; at most 400 days after start")
    site: Id | None = Field(default=None, description="Only this site")


class KpiQuery(PeriodQuery):
    """KPIs per unit, site or customer."""

    level: Literal["asset", "site", "customer"] = "asset"


class HitRateQuery(Query):
    """The period of the hit rate."""

    days: Literal["90", "365"] = Field(default="90", description="the last 90 or 365 days")


class NotificationsQuery(Query):
    """Which notifications."""

    unread: bool = Field(default=False, description="Only those not yet read")


# --- writes --------------------------------------------------------------------------------
# lines of text; the "Name" ones hold at least one visible character
Name120 = Annotated[str, Field(min_length=1, max_length=120, pattern=r"\S")]
Name200 = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]
Address = Annotated[str, Field(min_length=1, max_length=300, pattern=r"\S")]
Zone = Annotated[str, Field(min_length=1, max_length=60, pattern=r"\S")]
Text20 = Annotated[str, Field(max_length=20)]
Text120 = Annotated[str, Field(max_length=120)]


class SiteIn(Request):
    """A site, matched by customer name + site name (created or updated)."""

    customer: Name200 = Field(description="The customer's name, as registered")
    name: Name200
    kind: SiteKind = SiteKind.RESIDENTIAL
    address: Address
    postal_code: Text20 = ""
    city: Name120
    country: Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")] = Field(
        default="FR", description="ISO 3166 code"
    )
    timezone: Zone = Field(default="Europe/Paris", description="IANA zone")


class AssetIn(Request):
    """A unit, matched by its MQTT id (created or updated)."""

    mqtt_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    customer: Name200 = Field(description="The customer's name, as registered")
    site: Name200 = Field(description="The site's name at that customer")
    name: Name120
    kind: AssetKind = AssetKind.ELEVATOR
    manufacturer: Text120 = ""
    model: Text120 = ""
    serial_number: Text120 = ""
    install_date: date = Field(description="Not after today at the site")
    rated_load_kg: RatedLoad | None = None
    floors_served: Floors | None = None
    contract_level: ContractLevel = ContractLevel.STANDARD
    availability_target: Annotated[float, Field(gt=0, le=100)] = Field(
        default=99.5, description="Contract availability target, percent"
    )


class SiteSync(Request):
    """Sites to create or update, all or nothing."""

    items: list[SiteIn] = Field(min_length=1, max_length=1000)
    dry_run: bool = Field(default=False, description="Check and report, change nothing")


class AssetSync(Request):
    """Units to create or update, all or nothing."""

    items: list[AssetIn] = Field(min_length=1, max_length=1000)
    dry_run: bool = Field(default=False, description="Check and report, change nothing")


class SyncItem(Reply):
    """What one item did."""

    index: int
    key: str
    action: Literal["create", "update", "unchanged"]
    changes: dict[str, list[str]] = Field(description="field → [before, after], on updates")


class SyncResult(Reply):
    """What a sync did (or, on a dry run, would do)."""

    dry_run: bool
    created: int
    updated: int
    unchanged: int
    items: list[SyncItem]


class OutageReportIn(Request):
    """A person reports the unit out of service."""

    description: Annotated[str, Field(min_length=3, max_length=300)] = Field(
        description="What they see, e.g. 'stuck at floor 3, doors closed'"
    )


class FeedbackIn(Request):
    """Feedback from the account about a site or one of its units."""

    site_id: Id
    asset_id: Id | None = None
    category: FeedbackCategory | None = None
    rating: Rating | None = None
    text: Annotated[str, Field(min_length=3, max_length=2000, pattern=r"\S")]
    submission_id: Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] | None = (
        Field(default=None, description="Your id for this submission: sending it twice stores it once (409)")
    )


# --- data exports --------------------------------------------------------------------------
class ExportIn(Request):
    """What to export: a whole customer, one of its sites, or chosen units of one customer
    (give one of the three), over ``[start, end)``."""

    customer_id: Id | None = None
    site_id: Id | None = None
    asset_ids: Annotated[list[Id], Field(max_length=1000)] = Field(default_factory=list)
    start: Timestamp
    end: Timestamp = Field(description="Excluded; a period of at most EXPORT_MAX_DAYS (400 by default)")


class DataExport(Reply):
    """An export and where it stands: ``queued``, ``running`` (with its progress), ``done``
    (``download_url`` until ``expires_at``) or ``failed`` (with the ``error``)."""

    id: int
    state: ExportState
    progress: int = Field(description="Percent written")
    customer_id: int
    asset_count: int
    start: datetime
    end: datetime
    requested_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None
    size_bytes: int | None
    error: str | None
    download_url: str | None = Field(description="The ZIP, while it is kept; null before and after")
