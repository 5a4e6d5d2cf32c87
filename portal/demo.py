"""Demo data: two customers, six sites, 26 elevators and 4 escalators, a year of history.

Deterministic (seeded) and idempotent: loading twice changes nothing. Used by
``make run`` and by the tests as a realistic fixture.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.broker_auth import mosquitto_hash
from fleet.db import utcnow
from fleet.models import (
    Asset,
    AssetKind,
    AssetStatus,
    Audience,
    Contract,
    ContractLevel,
    Customer,
    DetectedBy,
    Feedback,
    FeedbackCategory,
    FeedbackStatus,
    Gateway,
    IntervalUnit,
    MaintenancePlan,
    Moment,
    OperatingState,
    Outage,
    PlanKind,
    Site,
    SiteKind,
    StakeholderGroup,
    SurveyKind,
    SurveyResponse,
    UsageMetric,
    User,
    Visit,
    VisitKind,
    VisitStatus,
    WatchItem,
    WatchSeverity,
    WatchStatus,
)
from fleet.models.condition import Signal
from portal.auth.service import create_user
from portal.feedback.service import FeedbackInput, new_submission_id
from portal.feedback.service import reply as feedback_reply
from portal.feedback.service import submit as submit_feedback
from portal.health.relationships import run_daily
from portal.reports.monthly import due_reports, issue
from portal.reports.render import ReportRenderer
from portal.satisfaction.demo import load_demo_surveys

logger = logging.getLogger(__name__)

DEMO_PASSWORD = "demo-portal-2026"  # noqa: S105 - demo accounts only, printed on load
FAULTS = ["door_obstruction", "door_lock", "leveling", "drive_fault", "power_loss", "overspeed"]
MAKERS = [
    ("Ascenda", "A-3000"),
    ("Vertiga", "V-Lift 8"),
    ("Liftwerk", "LW Compact"),
    ("Ascenda", "A-5000 MRL"),
]


@dataclass(frozen=True)
class DemoLogin:
    """A demo account to print for the person running the demo."""

    group: str
    email: str
    scope: str


@dataclass(frozen=True)
class DemoResult:
    """What the loader did, and the logins and resident links to print."""

    created: bool
    logins: list[DemoLogin]
    resident_tokens: list[tuple[str, str]]


_SITES = [
    # customer, name, kind, address, city, postal code, country, tz, elevators, escalators
    (
        "Lumière Immobilier",
        "Tour Lumière",
        SiteKind.OFFICE,
        "1 esplanade du Général de Gaulle",
        "Puteaux",
        "92800",
        "FR",
        "Europe/Paris",
        8,
        2,
    ),
    (
        "Lumière Immobilier",
        "Centre d'affaires Part-Dieu",
        SiteKind.OFFICE,
        "40 rue de la Villette",
        "Lyon",
        "69003",
        "FR",
        "Europe/Paris",
        4,
        2,
    ),
    (
        "Habitat Rhône-Léman",
        "Résidence Les Tilleuls",
        SiteKind.RESIDENTIAL,
        "12 avenue des Tilleuls",
        "Lyon",
        "69006",
        "FR",
        "Europe/Paris",
        3,
        0,
    ),
    (
        "Habitat Rhône-Léman",
        "Résidence Le Belvédère",
        SiteKind.RESIDENTIAL,
        "8 chemin du Belvédère",
        "Genève",
        "1206",
        "CH",
        "Europe/Zurich",
        4,
        0,
    ),
    (
        "Habitat Rhône-Léman",
        "Résidence Bord du Lac",
        SiteKind.RESIDENTIAL,
        "3 quai de la Tournette",
        "Annecy",
        "74000",
        "FR",
        "Europe/Paris",
        3,
        0,
    ),
    (
        "Habitat Rhône-Léman",
        "Résidence Mont-Royal",
        SiteKind.RESIDENTIAL,
        "4500 avenue du Parc",
        "Montréal",
        "H2V 4E4",
        "CA",
        "America/Toronto",
        4,
        0,
    ),
]

_HOA = {
    "Résidence Les Tilleuls": ("hoa.tilleuls@demo.example", "Jean Dubois"),
    "Résidence Le Belvédère": ("hoa.belvedere@demo.example", "Sophie Favre"),
    "Résidence Bord du Lac": ("hoa.lac@demo.example", "Marc Perrin"),
    "Résidence Mont-Royal": ("hoa.montroyal@demo.example", "Isabelle Tremblay"),
}


def _asset_code(site_index: int, n: int, kind: AssetKind) -> str:
    prefix = "ESC" if kind is AssetKind.ESCALATOR else "ELV"
    return f"{prefix}-{site_index + 1:02d}{n:02d}"


def _contracts(session: Session, customers: dict[str, Customer], now: datetime) -> None:
    """One service contract per customer, covering all its sites, started two years ago."""
    for n, customer in enumerate(sorted(customers.values(), key=lambda c: c.name), start=1):
        start = date(now.year - 2, 1, 1)
        units = sum(len(site.assets) for site in customer.sites)
        session.add(
            Contract(
                customer=customer,
                reference=f"SC-{now.year - 2}-{n:03d}",
                start_date=start,
                end_date=date(now.year + 3, 12, 31),
                notice_days=180,
                yearly_value=Decimal(units * 2400),
                currency="EUR",
                availability_target=Decimal("99.5"),
                response_hours=4,
                units_owned=units + 2 * n,
                sites=list(customer.sites),
                created_at=now,
                share_sensor_warnings=customer.name == "Lumière Immobilier",
            )
        )


DEMO_GATEWAY = "demo-simulator"


def register_demo_gateway(session: Session, password: str, now: datetime | None = None) -> Gateway:
    """The gateway the simulator publishes as (every demo unit), with this password."""
    gateway = session.scalar(select(Gateway).where(Gateway.ident == DEMO_GATEWAY))
    if gateway is None:
        gateway = Gateway(
            ident=DEMO_GATEWAY, description="The demo's simulated devices", created_at=now or utcnow()
        )
        session.add(gateway)
    gateway.password_hash = mosquitto_hash(password)
    gateway.assets = list(session.scalars(select(Asset).where(Asset.archived_at.is_(None))))
    session.flush()
    return gateway


def load_demo(session: Session, *, now: datetime | None = None, seed: int = 42) -> DemoResult:
    """Create the demo portfolio, accounts and a year of outages and visits, once."""
    now = now or utcnow()
    existing = session.scalar(select(Customer).where(Customer.name == _SITES[0][0]))
    rng = random.Random(seed)
    if existing is None:
        _create(session, rng, now)
        created = True
    else:
        created = False
    session.flush()
    return DemoResult(created=created, logins=_logins(), resident_tokens=_tokens(session))


def _create(session: Session, rng: random.Random, now: datetime) -> None:
    customers: dict[str, Customer] = {}
    sites: dict[str, Site] = {}
    last_year = now.year - 1
    for index, (cust, name, kind, address, city, postal, country, tz, n_elev, n_esc) in enumerate(_SITES):
        customer = customers.get(cust)
        if customer is None:
            customer = customers[cust] = Customer(name=cust)
            session.add(customer)
        site = Site(
            customer=customer,
            name=name,
            kind=kind,
            address=address,
            city=city,
            postal_code=postal,
            country=country,
            timezone=tz,
        )
        sites[name] = site
        session.add(site)
        floors = 38 if name == "Tour Lumière" else rng.randint(6, 14)
        for n in range(n_elev + n_esc):
            is_esc = n >= n_elev
            akind = AssetKind.ESCALATOR if is_esc else AssetKind.ELEVATOR
            letter = chr(ord("A") + (n - n_elev if is_esc else n))
            maker, model = rng.choice(MAKERS)
            year = rng.randint(1985, last_year)
            asset = Asset(
                site=site,
                kind=akind,
                name=f"{'Escalator' if is_esc else 'Elevator'} {letter}",
                manufacturer=maker,
                model="Step 900" if is_esc else model,
                serial_number=f"{maker[:2].upper()}{year}{rng.randint(10000, 99999)}",
                mqtt_id=_asset_code(index, n + 1, akind),
                install_date=date(year, rng.randint(1, 12), rng.randint(1, 28)),
                rated_load_kg=None if is_esc else rng.choice([630, 800, 1000, 1275, 1600]),
                floors_served=2 if is_esc else floors,
                contract_level=ContractLevel.PREMIUM if kind is SiteKind.OFFICE else ContractLevel.STANDARD,
                availability_target=Decimal("99.8") if kind is SiteKind.OFFICE else Decimal("99.5"),
            )
            session.add(asset)
            _history(session, rng, asset, ZoneInfo(tz), now)
    session.flush()
    _current_states(session, now)
    _accounts(session, customers, sites)
    _contracts(session, customers, now)
    session.flush()
    _feedback(session, now)
    session.flush()
    answers = load_demo_surveys(session, rng, now)
    logger.info("demo: %d survey answers over the year", answers)
    _maintenance(session, rng, now)
    session.flush()
    _sensor_warnings(session, now)
    _relationship(session, now)
    _reports(session, now)


def _relationship(session: Session, now: datetime) -> None:
    """Accounts date from two years ago (but Mont-Royal's president, elected last month); Les
    Tilleuls' president answered 1 where she gave 5 a week before, and three residents'
    complaints have waited three weeks for an answer: that voice alone costs 32 points of
    health, so the story holds whatever the random history's breakdowns of the month add (with
    a milder voice the risk moved between 34.7 and 39 with the hour the demo was built, and
    below 35 no outreach opened); the worker opens the outreach (here at once, as its daily
    step would)."""
    for user in session.scalars(select(User)):
        user.created_at = now - timedelta(days=700)
    mont_royal = session.scalars(
        select(User)
        .join(User.sites)
        .where(Site.name == "Résidence Mont-Royal", User.group == StakeholderGroup.HOA_PRESIDENT)
    ).first()
    if mont_royal is not None:
        mont_royal.created_at = now - timedelta(days=40)
    tilleuls = session.scalars(select(Site).where(Site.name == "Résidence Les Tilleuls")).first()
    president = session.scalars(
        select(User)
        .join(User.sites)
        .where(Site.id == (tilleuls.id if tilleuls else -1), User.group == StakeholderGroup.HOA_PRESIDENT)
    ).first()
    if tilleuls is None or president is None:
        return
    for days, score in ((12, 5), (3, 1)):
        at = now - timedelta(days=days)
        session.add(
            SurveyResponse(
                kind=SurveyKind.CSAT,
                score=score,
                group=Audience.HOA_PRESIDENT,
                respondent_key=f"user:{president.id}",
                user_id=president.id,
                customer_id=tilleuls.customer_id,
                site_id=tilleuls.id,
                moment=Moment.OUTAGE_CLOSED,
                moment_key=f"demo-health:{days}",
                moment_at=at,
                created_at=at,
            )
        )
    for n, text in enumerate(
        (
            "The lift broke down again this week.",
            "Still waiting for an answer about the doors.",
            "The doors close too fast for my mother's walker.",
        )
    ):
        at = now - timedelta(days=20 + n)
        session.add(
            Feedback(
                site_id=tilleuls.id,
                author_group=Audience.RESIDENT,
                text=text,
                submission_id=f"demo-health-{n}",
                created_at=at,
                last_activity_at=at,
                language="en",
            )
        )
    session.flush()
    run_daily(session, now)


def _sensor_warnings(session: Session, now: datetime) -> None:
    """What the detection pass would have found on a year of telemetry: two open warnings (one
    on a unit whose contract shares them with the customer), one a technician confirmed, one
    that came before a breakdown. The live demo's own telemetry is too young for baselines."""
    by_code = {a.mqtt_id: a for a in session.scalars(select(Asset))}
    tilleuls = session.scalars(
        select(Asset).join(Site).where(Site.name == "Résidence Les Tilleuls").order_by(Asset.mqtt_id)
    ).first()

    def item(asset: Asset, signal: Signal, opened: datetime, since: datetime, **values: object) -> WatchItem:
        warning = WatchItem(
            asset_id=asset.id,
            signal=signal,
            opened_at=opened,
            since=since,
            updated_at=opened,
            notified_at=opened,
            **values,
        )
        session.add(warning)
        return warning

    hour = now.replace(minute=0, second=0, microsecond=0)
    item(
        by_code["ELV-0105"],
        Signal.DOOR_REOPENINGS,
        hour - timedelta(hours=30),
        hour - timedelta(hours=52),
        severity=WatchSeverity.MEDIUM,
        baseline=3.1,
        scale=1.2,
        level=7.4,
        peak_level=7.9,
    )
    if tilleuls is not None:
        item(
            tilleuls,
            Signal.MOTOR_TEMPERATURE,
            hour - timedelta(hours=9),
            hour - timedelta(hours=20),
            severity=WatchSeverity.LOW,
            baseline=41.5,
            scale=1.1,
            level=45.2,
            peak_level=45.6,
        )
    confirmed = item(
        by_code["ELV-0102"],
        Signal.LEVELING,
        hour - timedelta(days=15),
        hour - timedelta(days=16),
        severity=WatchSeverity.MEDIUM,
        baseline=1.2,
        scale=0.3,
        level=2.6,
        peak_level=2.9,
    )
    confirmed.status, confirmed.finding_code = WatchStatus.CONFIRMED, "levelling_sensor"
    confirmed.closed_at = hour - timedelta(days=13)
    outage = session.scalars(
        select(Outage)
        .where(Outage.ended_at.is_not(None), Outage.started_at < now - timedelta(days=3))
        .order_by(Outage.started_at.desc())
        .limit(1)
    ).first()
    if outage is not None:
        before = item(
            outage.asset,
            Signal.VIBRATION,
            outage.started_at - timedelta(hours=52),
            outage.started_at - timedelta(hours=70),
            severity=WatchSeverity.HIGH,
            baseline=1.4,
            scale=0.2,
            level=2.6,
            peak_level=2.8,
        )
        before.status, before.outage_id, before.closed_at = (
            WatchStatus.FOLLOWED_BY_OUTAGE,
            outage.id,
            outage.started_at,
        )


def _reports(session: Session, now: datetime) -> None:
    """Last month's service reports, as the worker issues them on the first of the month
    (demo accounts keep the default preferences: told in the portal, no e-mail, no PDF)."""
    renderer = ReportRenderer()
    for due in due_reports(session, now):
        issue(session, due, now, renderer.pdf, quiet=timedelta(minutes=15), base_url="")


# (device id or None for the site, author e-mail or None for a resident, site, hours ago,
#  text, category, rating, status, staff reply)
_FEEDBACK = [
    (
        "ELV-0302",
        None,
        "Résidence Les Tilleuls",
        20,
        "L'ascenseur est en panne depuis hier, ma voisine âgée ne peut plus sortir de chez elle.",
        FeedbackCategory.BREAKDOWN,
        1,
        FeedbackStatus.ACKNOWLEDGED,
        "Nous sommes désolés : la pièce du moteur arrive demain matin, un technicien est prévu à 9 h.",
    ),
    (
        "ELV-0101",
        None,
        "Tour Lumière",
        50,
        "Les portes se rouvrent sans arrêt au 12e étage, c'est pénible.",
        FeedbackCategory.DOORS,
        2,
        FeedbackStatus.NEW,
        None,
    ),
    (
        None,
        "hoa.tilleuls@demo.example",
        "Résidence Les Tilleuls",
        120,
        "Merci pour la visite de mardi, le technicien a été très poli et a tout expliqué.",
        FeedbackCategory.STAFF,
        5,
        FeedbackStatus.RESOLVED,
        "Merci pour votre retour, nous transmettons !",
    ),
    (
        "ELV-0103",
        "fm@demo.example",
        "Tour Lumière",
        2,
        "Elevator C stopped again this morning; tenants complain about the waiting time in the lobby.",
        FeedbackCategory.WAITING_TIME,
        2,
        FeedbackStatus.IN_PROGRESS,
        "A technician is on the way; we are also checking the door lock that failed last week.",
    ),
    (
        "ELV-0401",
        "tech@demo.example",
        "Résidence Le Belvédère",
        6,
        "Levelling error growing at floor 3 (about 12 mm); recommend adjusting the brake at the next visit.",
        FeedbackCategory.OTHER,
        None,
        FeedbackStatus.NEW,
        None,
    ),
]


def _feedback(session: Session, now: datetime) -> None:
    """A few feedback items from each kind of author, some answered."""
    staff = session.scalars(select(User).where(User.email == "staff@demo.example")).one()
    for device, email, site_name, hours, text, category, rating, status, answer in _FEEDBACK:
        site = session.scalars(select(Site).where(Site.name == site_name)).one()
        asset = session.scalars(select(Asset).where(Asset.mqtt_id == device)).one() if device else None
        author = session.scalars(select(User).where(User.email == email)).one() if email else None
        at = now - timedelta(hours=hours)
        data = FeedbackInput(text, category, rating, None, new_submission_id())
        item, _ = submit_feedback(
            session,
            site=site,
            asset=asset,
            author=author,
            data=data,
            now=at,
            language="en" if text.isascii() else "fr",
        )
        if answer:
            feedback_reply(session, item, staff, answer, at + timedelta(minutes=40))
        item.status = status
        if status is not FeedbackStatus.NEW:
            item.owner_id = staff.id
        if status is FeedbackStatus.RESOLVED:
            item.resolved_at = at + timedelta(hours=2)


def _history(session: Session, rng: random.Random, asset: Asset, zone: ZoneInfo, now: datetime) -> None:
    """A year of outages (about 1.5 a year, ~4 h each) and monthly preventive visits."""
    start = now - timedelta(days=365)
    for _ in range(rng.choice([0, 1, 1, 2, 2, 3])):
        began = start + timedelta(minutes=rng.randint(0, 360 * 24 * 60))
        hours = rng.lognormvariate(1.1, 0.8)
        session.add(
            Outage(
                asset=asset,
                started_at=began,
                ended_at=min(began + timedelta(hours=hours), now - timedelta(hours=1)),
                fault_code=rng.choice(FAULTS),
                detected_by=DetectedBy.SENSOR if rng.random() < 0.7 else DetectedBy.REPORT,
            )
        )
    day = (now - timedelta(days=360)).astimezone(zone).date()
    offset = rng.randint(0, 27)
    for month in range(14):  # a year back and the next visit or two ahead
        d = date(day.year + (day.month - 1 + month) // 12, (day.month - 1 + month) % 12 + 1, 1 + offset)
        begin = datetime.combine(d, time(8 + rng.randint(0, 6), 0), zone).astimezone(UTC)
        # most technicians arrive within the window; about one visit in 15 starts late
        arrival = timedelta(
            minutes=rng.choice([5, 10, 20, 35]) if rng.random() > 0.07 else rng.randint(130, 300)
        )
        past = begin + arrival + timedelta(minutes=90) < now
        session.add(
            Visit(
                asset=asset,
                kind=VisitKind.PREVENTIVE if month % 6 else VisitKind.INSPECTION,
                status=VisitStatus.COMPLETED if past else VisitStatus.SCHEDULED,
                scheduled_start=begin,
                scheduled_end=begin + timedelta(hours=2),
                summary="Monthly preventive maintenance: doors, brakes, ropes, leveling"
                if month % 6
                else "Semi-annual safety inspection",
                checked_in_at=begin + arrival if past else None,
                checked_out_at=begin + arrival + timedelta(minutes=90) if past else None,
                report="All checks passed; door rollers cleaned and adjusted." if past else None,
            )
        )


FINDINGS = [
    "Slight wear on the landing door rollers.",
    "Brake lining at 60 %; fine until the next inspection.",
]
NEXT_ACTIONS = ["Replace the car door belt at the next visit.", "Check the levelling at floor 3 again."]
ROUTE = ("Tour Lumière", "Résidence Les Tilleuls", "Résidence Le Belvédère")  # the demo technician's sites


def _maintenance(session: Session, rng: random.Random, now: datetime) -> None:
    """Plans behind the monthly visits, the technician's route, reports, response times,
    a visit today for the technician and an HOA president's request to meet them."""
    tech = session.scalars(select(User).where(User.email == "tech@demo.example")).one()
    hoa = session.scalars(select(User).where(User.email == "hoa.tilleuls@demo.example")).one()
    assets = list(session.scalars(select(Asset).order_by(Asset.mqtt_id)))
    for asset in assets:
        zone = ZoneInfo(asset.site.timezone)
        on_route = asset.site.name in ROUTE
        visits = list(
            session.scalars(select(Visit).where(Visit.asset_id == asset.id).order_by(Visit.scheduled_start))
        )
        plan = MaintenancePlan(
            asset_id=asset.id,
            kind=PlanKind.CALENDAR,
            interval=1,
            interval_unit=IntervalUnit.MONTHS,
            summary="Monthly preventive maintenance: doors, brakes, ropes, leveling",
            start_hour=9,
            duration_minutes=120,
            first_due=visits[0].scheduled_start.astimezone(zone).date(),
            technician_id=tech.id if on_route else None,
        )
        session.add(plan)
        session.flush()
        for visit in visits:
            visit.plan_id = plan.id
            visit.technician_id = tech.id if on_route else None
            if visit.report and rng.random() < 0.25:
                visit.parts = rng.choice(["2 door rollers", "car door belt", "landing door lock contact"])
                visit.findings = rng.choice(FINDINGS)
                visit.next_action = rng.choice(NEXT_ACTIONS)
            visit.scheduled_notified_at = visit.report_notified_at = now  # history: nobody to tell
        closed = select(Outage).where(Outage.asset_id == asset.id, Outage.ended_at.is_not(None))
        for outage in session.scalars(closed):
            arrival = outage.started_at + timedelta(minutes=rng.randint(25, 120))
            if outage.ended_at is not None and arrival < outage.ended_at:
                outage.on_site_at = arrival
                outage.assigned_at = outage.started_at + timedelta(minutes=10)
                outage.technician_id = tech.id if on_route else None
    for code in ("ELV-0101", "ELV-0102"):
        asset = next(a for a in assets if a.mqtt_id == code)
        session.add(
            MaintenancePlan(
                asset_id=asset.id,
                kind=PlanKind.USAGE,
                usage_metric=UsageMetric.DOOR_CYCLES,
                usage_interval=150_000,
                summary="Door operator service (every 150,000 door cycles)",
                start_hour=7,
                duration_minutes=90,
                first_due=(now - timedelta(days=20)).date(),
                technician_id=tech.id,
            )
        )
    lumiere = next(a for a in assets if a.mqtt_id == "ELV-0104")
    start = now + timedelta(hours=1)
    session.add(
        Visit(
            asset_id=lumiere.id,
            kind=VisitKind.REPAIR,
            status=VisitStatus.SCHEDULED,
            technician_id=tech.id,
            scheduled_start=start,
            scheduled_end=start + timedelta(hours=2),
            summary="Check the door re-opening sensor after tenants' complaints",
        )
    )
    tilleuls = next(a for a in assets if a.mqtt_id == "ELV-0301")
    day = (now + timedelta(days=2)).astimezone(ZoneInfo(tilleuls.site.timezone)).date()
    begin = datetime.combine(day, time(10), ZoneInfo(tilleuls.site.timezone)).astimezone(UTC)
    session.add(
        Visit(
            asset_id=tilleuls.id,
            kind=VisitKind.INSPECTION,
            status=VisitStatus.SCHEDULED,
            technician_id=tech.id,
            scheduled_start=begin,
            scheduled_end=begin + timedelta(hours=2),
            summary="Annual safety inspection with the inspection body",
            meet_requested_by=hoa.id,
            meet_requested_at=now - timedelta(hours=3),
            meet_note="Je serai dans le hall ; code de la porte 4512B.",
        )
    )
    session.flush()


def _current_states(session: Session, now: datetime) -> None:
    assets = list(session.scalars(select(Asset).order_by(Asset.mqtt_id)))
    special = {
        "ELV-0103": (OperatingState.OUT_OF_SERVICE, "door_lock", timedelta(hours=2, minutes=10)),
        "ELV-0302": (OperatingState.OUT_OF_SERVICE, "drive_fault", timedelta(hours=26)),
        "ELV-0201": (OperatingState.MAINTENANCE, None, timedelta(minutes=40)),
        "ELV-0401": (OperatingState.DEGRADED, "leveling", timedelta(hours=5)),
    }
    for asset in assets:
        state, fault, ago = special.get(asset.mqtt_id, (OperatingState.IN_SERVICE, None, timedelta(days=3)))
        since = now - ago
        session.add(
            AssetStatus(
                asset=asset, state=state, fault_code=fault, since=since, reported_at=since, last_seen_at=now
            )
        )
        if state is OperatingState.OUT_OF_SERVICE:
            session.add(
                Outage(asset=asset, started_at=since, fault_code=fault, detected_by=DetectedBy.SENSOR)
            )


def _accounts(session: Session, customers: dict[str, Customer], sites: dict[str, Site]) -> None:
    office = customers["Lumière Immobilier"]
    residential = customers["Habitat Rhône-Léman"]
    create_user(
        session,
        email="fm@demo.example",
        name="Claire Martin",
        password=DEMO_PASSWORD,
        group=StakeholderGroup.FACILITY_MANAGER,
        customer_id=office.id,
        locale="fr",
    )
    create_user(
        session,
        email="fm.habitat@demo.example",
        name="Paul Girard",
        password=DEMO_PASSWORD,
        group=StakeholderGroup.FACILITY_MANAGER,
        customer_id=residential.id,
        locale="fr",
    )
    for site_name, (email, name) in _HOA.items():
        create_user(
            session,
            email=email,
            name=name,
            password=DEMO_PASSWORD,
            group=StakeholderGroup.HOA_PRESIDENT,
            site_ids=[sites[site_name].id],
            locale="fr",
        )
    route = [sites["Tour Lumière"].id, sites["Résidence Les Tilleuls"].id, sites["Résidence Le Belvédère"].id]
    create_user(
        session,
        email="tech@demo.example",
        name="Karim Benali",
        password=DEMO_PASSWORD,
        group=StakeholderGroup.FIELD_TECHNICIAN,
        site_ids=route,
    )
    create_user(
        session,
        email="staff@demo.example",
        is_admin=True,
        name="Nadia Roux",
        password=DEMO_PASSWORD,
        group=StakeholderGroup.VENDOR_STAFF,
    )


def _logins() -> list[DemoLogin]:
    return [
        DemoLogin("facility manager", "fm@demo.example", "Lumière Immobilier (2 office sites)"),
        DemoLogin("facility manager", "fm.habitat@demo.example", "Habitat Rhône-Léman (4 residences)"),
        DemoLogin("HOA president", "hoa.tilleuls@demo.example", "Résidence Les Tilleuls"),
        DemoLogin("field technician", "tech@demo.example", "Tour Lumière, Les Tilleuls, Le Belvédère"),
        DemoLogin("vendor service / CX", "staff@demo.example", "every customer"),
    ]


def _tokens(session: Session) -> list[tuple[str, str]]:
    stmt = select(Asset.mqtt_id, Asset.public_token).where(Asset.mqtt_id.in_(["ELV-0103", "ELV-0301"]))
    return [(m, t) for m, t in session.execute(stmt)]
