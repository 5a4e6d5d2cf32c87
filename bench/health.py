"""Relationship-health benchmark: ``make bench-health`` (``python -m bench.health --help``).

Generates a year of service for a fleet (outages with faults and repair times, technicians'
arrivals against the contract's commitment and the announced time, monthly visits, feedback)
in SQL, where each unit, building and customer has its own persistent quality, and CSAT
answers from facility managers (about their whole portfolio) and HOA presidents (about their
building) every few weeks. Each answer is drawn from **known coefficients** on the levers of
the 30 days before it, different for the two groups; a second year uses another seed and
other coefficients. The product's own code then measures the levers
(:mod:`portal.health.levers`), fits the equations (:mod:`portal.health.equations`) and scores
the risk (:mod:`portal.health.score`) 30 days before each answer.

Last line (``key=value``), per year ``y1`` / ``y2``: ``coef_err_fm`` / ``coef_err_hoa``
(largest relative error over the levers that truly drive the group), ``auc`` (risk 30 days
ahead against "this answer will be CSAT ≤ 2"), ``precision_at_10`` (each month's ten
riskiest relationships whose next answer, within 30 days, is CSAT ≤ 2), ``drivers_differ``.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sklearn.metrics import roc_auc_score

from fleet.db import Database
from fleet.models import (
    Asset,
    AssetKind,
    Audience,
    Contract,
    Customer,
    Feedback,
    Outage,
    Site,
    SiteKind,
    Visit,
    VisitKind,
    VisitStatus,
)
from fleet.schema import upgrade
from portal.health.equations import fit
from portal.health.levers import LEVERS, WINDOW, History, load_history, measure
from portal.health.score import health, points_from, voice

DAY = timedelta(days=1)
FAULTS = ["door_lock", "door_obstruction", "leveling", "drive_fault", "controller", "power_loss"]
YEARS = {
    # the truth: CSAT points per unit of each lever, different drivers for each group
    1: {
        "fm": {"availability_gap": -0.5, "response_over_hours": -0.15, "late_visits": -0.8},
        "hoa": {"outages": -0.9, "repeat_faults": -0.7, "open_feedback_days": -0.03},
    },
    2: {
        "fm": {"restore_hours": -0.05, "missed_arrivals": -0.6, "availability_gap": -0.3},
        "hoa": {"outages": -0.6, "late_visits": -0.5, "response_over_hours": -0.1},
    },
}
BASE, NOISE = 4.4, 0.35


@dataclass
class Relationship:
    """Who answers about which units."""

    group: str  # "fm" or "hoa"
    key: str
    units: list[int]
    answers: list[tuple[datetime, int]] = field(default_factory=list)


def generate(db: Database, seed: int, start: datetime, customers: int) -> list[Relationship]:
    """A year of service records, and the relationships whose answers the caller draws."""
    rng = random.Random(seed)
    end = start + 365 * DAY
    out: list[Relationship] = []
    with db.session() as s:
        for c in range(customers):
            customer = Customer(name=f"Customer {seed}-{c:03d}")
            s.add(customer)
            s.flush()
            s.add(
                Contract(
                    customer_id=customer.id,
                    reference=f"K-{c}",
                    start_date=start.date(),
                    end_date=date(2030, 1, 1),
                    notice_days=90,
                    yearly_value=Decimal(10000),
                    availability_target=Decimal("99.5"),
                    response_hours=4,
                    units_owned=10,
                )
            )
            fm_units: list[int] = []
            for b in range(rng.randint(1, 3)):
                site = Site(
                    customer_id=customer.id,
                    name=f"B{b}",
                    kind=SiteKind.RESIDENTIAL,
                    address="1 rue",
                    city="Lyon",
                    postal_code="69003",
                    country="FR",
                    timezone="Europe/Paris",
                )
                s.add(site)
                s.flush()
                response_h = rng.lognormvariate(math.log(3.5), 0.6)  # the building's technicians
                late_p = rng.uniform(0.0, 0.5)  # share of visits started late
                feedback_days = rng.lognormvariate(math.log(6), 0.8)
                units = []
                for u in range(rng.randint(2, 5)):
                    asset = Asset(
                        site_id=site.id,
                        kind=AssetKind.ELEVATOR,
                        name=f"L{u}",
                        manufacturer="A",
                        model="M",
                        serial_number=f"{seed}-{c}-{b}-{u}",
                        mqtt_id=f"H{seed}-{c}-{b}-{u}",
                        install_date=date(2000, 1, 1),
                        availability_target=Decimal("99.5"),
                    )
                    s.add(asset)
                    s.flush()
                    units.append(asset.id)
                    _unit_year(s, rng, asset.id, start, end, response_h, late_p)
                _feedback(s, rng, site.id, start, end, feedback_days)
                out.append(Relationship("hoa", f"site:{site.id}", units))
                fm_units += units
            out.append(Relationship("fm", f"customer:{customer.id}", fm_units))
    return out


def _unit_year(s, rng, asset_id, start, end, response_h, late_p):  # type: ignore[no-untyped-def]
    """Outages (a unit's own rate, waves of bad months, repeats of its weak spot) and visits."""
    rate = rng.lognormvariate(math.log(0.6), 0.8)  # outages per 30 days
    weak = rng.choice(FAULTS)
    weak_share = rng.uniform(0.0, 0.9)  # how often it is the unit's weak spot again: repeats
    restore = rng.lognormvariate(math.log(3), 0.6)
    t = start
    while t < end:
        month_rate = rate * rng.lognormvariate(0, 0.3)
        month_end = min(end, t + 30 * DAY)
        while True:
            t += timedelta(days=rng.expovariate(month_rate / 30))
            if t >= month_end:
                t = month_end
                break
            hours = rng.lognormvariate(math.log(restore), 0.7)
            arrive = timedelta(hours=rng.lognormvariate(math.log(response_h), 0.5))
            eta = timedelta(hours=response_h * rng.uniform(0.6, 1.3))
            s.add(
                Outage(
                    asset_id=asset_id,
                    started_at=t,
                    ended_at=t + timedelta(hours=hours),
                    fault_code=weak if rng.random() < weak_share else rng.choice(FAULTS),
                    on_site_at=t + min(arrive, timedelta(hours=hours)),
                    eta=t + eta,
                )
            )
    day = start + timedelta(days=rng.randint(0, 29), hours=9)
    while day < end:
        late = rng.random() < late_p
        s.add(
            Visit(
                asset_id=asset_id,
                kind=VisitKind.PREVENTIVE,
                status=VisitStatus.COMPLETED,
                scheduled_start=day,
                scheduled_end=day + timedelta(hours=2),
                summary="Monthly",
                checked_in_at=day + timedelta(hours=3 if late else 0.5),
                checked_out_at=day + timedelta(hours=4),
            )
        )
        day += 30 * DAY


def _feedback(s, rng, site_id, start, end, days):  # type: ignore[no-untyped-def]
    t = start
    while True:
        t += timedelta(days=rng.expovariate(1 / 20))
        if t >= end:
            return
        s.add(
            Feedback(
                site_id=site_id,
                author_group=Audience.RESIDENT,
                text="x",
                submission_id=uuid.uuid4().hex,
                created_at=t,
                last_activity_at=t,
                resolved_at=t + timedelta(days=rng.expovariate(1 / days)),
            )
        )


def draw_answers(
    relationships: list[Relationship],
    history: History,
    truth: dict[str, dict[str, float]],
    seed: int,
    start: datetime,
) -> None:
    """Each relationship answers every 10–30 days after its second month, from the truth."""
    rng = random.Random(seed + 1)
    for rel in relationships:
        t = start + 60 * DAY + timedelta(days=rng.uniform(0, 20))
        while t < start + 365 * DAY:
            levers = measure(history, rel.units, t - WINDOW, t)
            latent = BASE + sum(c * levers[k] for k, c in truth[rel.group].items()) + rng.gauss(0, NOISE)
            rel.answers.append((t, max(1, min(5, round(latent)))))
            t += timedelta(days=rng.uniform(10, 30))


def evaluate(
    relationships: list[Relationship], history: History, truth: dict[str, dict[str, float]], start: datetime
) -> dict[str, float]:
    """Fit, compare with the truth, and score the risk 30 days ahead."""
    figures: dict[str, float] = {}
    equations = {}
    for group in ("fm", "hoa"):
        rows, ys = [], []
        for rel in (r for r in relationships if r.group == group):
            for t, score in rel.answers:
                rows.append(measure(history, rel.units, t - WINDOW, t))
                ys.append(score)
        eq = fit(group, "csat", rows, ys)
        equations[group] = eq
        weights = {w.lever: w.weight for w in eq.weights}
        figures[f"coef_err_{group}"] = max(abs(weights[k] - c) / abs(c) for k, c in truth[group].items())
        top = max(LEVERS, key=lambda k: abs(weights[k]) * _spread(rows, k))
        figures[f"top_{group}"] = LEVERS.index(top)
        print(
            f"{group}: {len(ys)} answers, R² {eq.r2:.2f}, weights "
            + ", ".join(
                f"{w.lever} {w.weight:+.3f} [{w.low:+.3f}, {w.high:+.3f}]"
                for w in eq.weights
                if abs(w.weight) > 0.01
            )
        )
    figures["drivers_differ"] = float(figures["top_fm"] != figures["top_hoa"])
    risks, labels = [], []
    for rel in relationships:
        points = points_from(equations[rel.group])
        for t, score in rel.answers:
            ahead = t - WINDOW
            values = measure(history, rel.units, ahead - WINDOW, ahead) | _voice(rel, ahead)
            risks.append(health(values, points).risk)
            labels.append(score <= 2)
    figures["auc"] = float(roc_auc_score(labels, risks)) if any(labels) and not all(labels) else float("nan")
    hits = []
    for month in range(3, 12):
        at = start + month * 30 * DAY
        ranked = []
        for rel in relationships:
            upcoming = [score for t, score in rel.answers if at <= t < at + WINDOW]
            if upcoming:
                values = measure(history, rel.units, at - WINDOW, at) | _voice(rel, at)
                risk = health(values, points_from(equations[rel.group])).risk
                ranked.append((risk, upcoming[0] <= 2))
        ranked.sort(key=lambda r: -r[0])
        top = ranked[:10]
        if top:
            hits.append(sum(bad for _, bad in top) / len(top))
    figures["precision_at_10"] = statistics.mean(hits) if hits else float("nan")
    figures["low_share"] = sum(labels) / len(labels)
    return figures


def _voice(rel: Relationship, before: datetime) -> dict[str, float]:
    """The voice factors from the answers given before ``before`` (nothing from the future)."""
    return voice([score for t, score in rel.answers if t < before], 1, 5)


def _spread(rows: list[dict[str, float]], lever: str) -> float:
    values = [r[lever] for r in rows]
    return statistics.pstdev(values) if len(values) > 1 else 0.0


def main(argv: list[str] | None = None) -> None:
    """Generate two years, measure, fit and score; print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.health", description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=80)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.customers < 10:
        parser.error("--customers must be at least 10")
    out: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bench-health-") as tmp:
        for year, truth in YEARS.items():
            clock = time.perf_counter()
            url = f"sqlite:///{tmp}/year{year}.db"
            upgrade(url)
            db = Database(url)
            start = datetime(2024 + year, 1, 1, tzinfo=UTC)
            seed = args.seed * 100 + year
            relationships = generate(db, seed, start, args.customers)
            units = [u for r in relationships if r.group == "fm" for u in r.units]
            with db.sessionmaker() as s:
                history = load_history(s, units, start - 2 * WINDOW, start + 366 * DAY)
            draw_answers(relationships, history, truth, seed, start)
            figures = evaluate(relationships, history, truth, start)
            db.dispose()
            print(
                f"year {year}: {len(units)} units, {sum(len(r.answers) for r in relationships)} answers, "
                f"{figures['low_share']:.0%} CSAT ≤ 2, {time.perf_counter() - clock:.0f} s",
                flush=True,
            )
            for key in ("coef_err_fm", "coef_err_hoa", "auc", "precision_at_10", "drivers_differ"):
                out[f"y{year}_{key}"] = f"{figures[key]:.2f}"
    print(" ".join(f"{k}={v}" for k, v in out.items()) + f" seed={args.seed}")


if __name__ == "__main__":
    main()
