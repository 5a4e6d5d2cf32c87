"""Realistic page mix (``make bench-mix``): 16 different people, each on their own session.

1. PostgreSQL (the machine's, 127.0.0.1:5432) with three tenants of 500 units and one of
   5,000 (90 days of outages and maintenance, visits, a year of survey answers), statistics
   gathered (``ANALYZE``) and the stored availability, monthly tallies and answers'
   availability written once, as the worker keeps them. ``--keep`` keeps that database and
   ``--url`` reuses one (this script's or ``make profile-pages``'s), migrated and its stored
   values brought up to date first: seeding takes minutes, a run 30 seconds.
2. The portal under gunicorn as deployed (2 workers, gthread), page cache **off**
   (``PAGE_CACHE_S=0``).
3. 16 closed-loop clients in one process, one per person: a facility manager, an HOA
   president and a technician of each tenant, a second HOA president and technician of the
   large tenant, and two vendor staff. Each opens the pages its group really uses, in the
   proportions of ``MIX`` below, for ``--seconds``.

The last line is ``key=value`` figures: mix_p50_ms, mix_p99_ms, mix_pages_per_s,
portfolio_500_p50_ms, portfolio_5000_p50_ms (a facility manager's portfolio, first page,
in the mix), per-page p50s, errors, cache=off.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import urllib3
from sqlalchemy import insert, select, text

from bench.portal import _database, _drop, _gunicorn, _pct, _wait_http, add_tenant
from devstack.servers import free_port
from fleet.db import Database
from fleet.models import (
    Asset,
    Audience,
    Moment,
    Site,
    StakeholderGroup,
    SurveyKind,
    SurveyResponse,
    User,
)
from fleet.schema import upgrade
from portal import kpi_months
from portal.assets.read_model import refresh_availability
from portal.auth.passwords import hash_password
from portal.satisfaction import answer_availability

PASSWORD = "bench-mix-2026"  # noqa: S105 - throw-away benchmark accounts
TENANTS = (500, 500, 500, 5000)
PER_SITE = 25
# page → weight, per group; "{asset}" is one of the person's units, chosen at random
MIX: dict[str, dict[str, int]] = {
    "facility_manager": {
        "/": 15,
        "/portfolio": 20,
        "/portfolio?sort=availability&page=2": 10,
        "/portfolio?state=out_of_service": 5,
        "/assets/{asset}": 25,
        "/outages": 10,
        "/kpis": 5,
        "/satisfaction": 10,
    },
    "hoa_president": {"/": 60, "/assets/{asset}": 40},
    "field_technician": {"/work": 40, "/assets/{asset}": 40, "/visits": 20},
    "vendor_staff": {
        "/outages": 25,
        "/work": 25,
        "/portfolio": 20,
        "/assets/{asset}": 20,
        "/satisfaction": 10,
    },
}


def seed(
    url: str, tenants: tuple[int, ...] = TENANTS, seed_value: int = 7
) -> list[tuple[str, str, list[int]]]:
    """The tenants (units each; the last is the large one) and their people; returns
    (e-mail, group, their unit ids) per person, the large tenant's marked by ``.large@``."""
    upgrade(url)
    rng = random.Random(seed_value)
    now = datetime.now(UTC).replace(microsecond=0)
    password = hash_password(PASSWORD)
    people: list[tuple[str, str, list[int]]] = []
    db = Database(url)
    with db.session() as s:
        every: list[int] = []
        for t, units in enumerate(tenants):
            ids = add_tenant(s, f"Tenant {t + 1} ({units} units)", units // PER_SITE, rng, now, "MIX")
            every += ids
            sites = list(
                s.scalars(select(Site).join(Asset).where(Asset.id.in_(ids)).distinct().order_by(Site.id))
            )
            customer_id = sites[0].customer_id
            accounts = [
                ("fm", StakeholderGroup.FACILITY_MANAGER, [], customer_id),
                ("hoa", StakeholderGroup.HOA_PRESIDENT, sites[:1], None),
                ("tech", StakeholderGroup.FIELD_TECHNICIAN, sites[1:4], None),
            ]
            large = t == len(tenants) - 1 and len(tenants) > 1
            if large:
                accounts.append(("hoa2", StakeholderGroup.HOA_PRESIDENT, sites[5:6], None))
                accounts.append(("tech2", StakeholderGroup.FIELD_TECHNICIAN, sites[6:9], None))
            for role, group, their_sites, customer in accounts:
                email = f"{role}.{t + 1}{'.large' if large else ''}@bench.example"
                s.add(
                    User(
                        email=email,
                        name=f"{role} {t + 1}",
                        group=group,
                        customer_id=customer,
                        sites=their_sites,
                        password_hash=password,
                        locale="en",
                    )
                )
                site_ids = {site.id for site in their_sites}
                units_of = (
                    ids if customer else list(s.scalars(select(Asset.id).where(Asset.site_id.in_(site_ids))))
                )
                people.append((email, group.value, units_of))
        for n in (1, 2):
            email = f"staff.{n}@bench.example"
            s.add(
                User(
                    email=email,
                    name=f"staff {n}",
                    group=StakeholderGroup.VENDOR_STAFF,
                    password_hash=password,
                    locale="en",
                )
            )
            people.append((email, "vendor_staff", every))
        s.flush()
        add_answers(s, rng, now)
        refresh_read_models(s)
    with db.engine.connect() as conn:  # the statistics autovacuum would gather in production
        conn.execute(text("ANALYZE"))
        conn.commit()
    db.dispose()
    return people


def people_of(url: str) -> list[tuple[str, str, list[int]]]:
    """The mix's people already in the database at ``url``: (e-mail, group, unit ids)."""
    db = Database(url)
    out = []
    with db.session() as s:
        every = list(s.scalars(select(Asset.id).order_by(Asset.id)))
        for user in s.scalars(select(User).where(User.email.like("%@bench.example")).order_by(User.id)):
            if user.customer_id:
                units = list(
                    s.scalars(select(Asset.id).join(Site).where(Site.customer_id == user.customer_id))
                )
            elif user.group is StakeholderGroup.VENDOR_STAFF:
                units = every
            else:
                units = list(s.scalars(select(Asset.id).where(Asset.site_id.in_([x.id for x in user.sites]))))
            if not units:
                raise SystemExit(f"{user.email} has no unit: seed more sites (--tenants)")
            out.append((user.email, user.group.value, units))
    db.dispose()
    return out


def refresh_read_models(session: Any) -> None:
    """What the worker keeps stored: availability, monthly tallies, answers' availability."""
    refresh_availability(session, datetime.now(UTC))
    kpi_months.refresh(session, datetime.now(UTC))
    while answer_availability.refresh(session, datetime.now(UTC)):
        pass


def add_answers(session: Any, rng: random.Random, now: datetime) -> int:
    """A year of survey answers, so the satisfaction dashboard reads what a fleet gives it: per
    site and month a resident's CSAT about one unit and a technician's CES; per site and quarter
    the HOA president's NPS; per customer and quarter the facility manager's NPS (customer-wide).
    Returns how many."""
    rows: list[dict[str, Any]] = []

    def answer(kind: SurveyKind, group: Audience, score: int, customer: int, site: int | None,
               asset: int | None, moment: Moment, days_ago: float) -> None:  # fmt: skip
        at = now - timedelta(days=days_ago)
        rows.append({"kind": kind, "score": score, "group": group, "respondent_key": f"bench:{len(rows)}",
                     "customer_id": customer, "site_id": site, "asset_id": asset, "moment": moment,
                     "moment_key": f"bench-{len(rows)}", "moment_at": at, "created_at": at})  # fmt: skip

    units: dict[int, list[int]] = {}
    for site_id, asset_id in session.execute(select(Asset.site_id, Asset.id)):
        units.setdefault(site_id, []).append(asset_id)
    customers: set[int] = set()
    for site_id, customer_id in session.execute(select(Site.id, Site.customer_id)):
        customers.add(customer_id)
        for month in range(12):
            day = month * 30.4 + rng.uniform(0, 30)
            answer(SurveyKind.CSAT, Audience.RESIDENT, rng.choice([1, 3, 4, 4, 5, 5]), customer_id, site_id,
                   rng.choice(units[site_id]), Moment.OUTAGE_CLOSED, day)  # fmt: skip
            answer(SurveyKind.CES, Audience.FIELD_TECHNICIAN, rng.randint(3, 7), customer_id, site_id,
                   None, Moment.VISIT_COMPLETED, day + 1)  # fmt: skip
            if month % 3 == 0:
                answer(SurveyKind.NPS, Audience.HOA_PRESIDENT, rng.randint(4, 10), customer_id, site_id,
                       None, Moment.PERIODIC, day + 2)  # fmt: skip
    for customer_id in customers:
        for quarter in range(4):
            answer(SurveyKind.NPS, Audience.FACILITY_MANAGER, rng.randint(5, 10), customer_id, None, None,
                   Moment.PERIODIC, quarter * 91 + rng.uniform(0, 90))  # fmt: skip
    session.execute(insert(SurveyResponse), rows)
    return len(rows)


def login(base: str, email: str) -> str:
    """Log in through the form; the session cookie."""
    http = urllib3.PoolManager()
    page = http.request("GET", f"{base}/auth/login")
    cookie = page.headers["Set-Cookie"].split(";", 1)[0]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.data.decode())
    assert token, "no CSRF token on the login page"
    resp = http.request(
        "POST",
        f"{base}/auth/login",
        fields={"csrf_token": token.group(1), "email": email, "password": PASSWORD},
        encode_multipart=False,
        headers={"Cookie": cookie},
        redirect=False,
    )
    assert resp.status == 302, f"login of {email} failed: {resp.status}"
    return resp.headers["Set-Cookie"].split(";", 1)[0]


def _clients(base: str, people: list[tuple[str, str, list[int], str]], seconds: float, out: Any) -> None:
    """One closed-loop client thread per person."""
    results: dict[str, list[float]] = {}
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(n: int, email: str, group: str, units: list[int], cookie: str) -> None:
        http = urllib3.PoolManager(maxsize=1)
        rng = random.Random(n)
        pages, weights = zip(*MIX[group].items(), strict=True)
        tenant = "large" if ".large@" in email else "small"
        while time.monotonic() < stop_at:
            page = rng.choices(pages, weights)[0]
            url = base + page.replace("{asset}", str(rng.choice(units)))
            t0 = time.perf_counter()
            resp = http.request("GET", url, headers={"Cookie": cookie}, redirect=False)
            ms = (time.perf_counter() - t0) * 1000
            label = f"{group}:{page}" + (f":{tenant}" if page == "/portfolio" else "")
            with lock:
                if resp.status == 200:
                    results.setdefault(label, []).append(ms)
                else:
                    errors.append(f"{email} {url} {resp.status}")

    threads = [threading.Thread(target=client, args=(n, *p)) for n, p in enumerate(people)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put({"results": results, "errors": errors})


def main() -> None:
    """Seed, serve, load, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="load duration")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--tenants",
        default=",".join(map(str, TENANTS)),
        help="units per tenant, multiples of 25, the large one last (default %(default)s)",
    )
    parser.add_argument("--url", help="reuse this database (seeded by an earlier --keep run)")
    parser.add_argument("--keep", action="store_true", help="keep the seeded database; print its URL")
    args = parser.parse_args()
    tenants = tuple(int(n) for n in args.tenants.split(","))
    tmp = Path(tempfile.mkdtemp(prefix="bench-mix-"))
    url, backend = (args.url, "postgresql") if args.url else _database(tmp)
    assert backend == "postgresql", "the mix runs on PostgreSQL (127.0.0.1:5432)"
    portal: subprocess.Popen[bytes] | None = None
    try:
        started = time.monotonic()
        if args.url:  # migrated and its stored values brought up to date, as a worker would
            upgrade(url)
            reused = Database(url)
            with reused.session() as s:
                refresh_read_models(s)
            reused.dispose()
            people = people_of(url)
            tenants = (len({a for _e, _g, units in people for a in units}),)
        else:
            people = seed(url, tenants)
            if args.keep:
                print(f"database: {url}", file=sys.stderr)
        seeded_s = time.monotonic() - started
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = dict(
            os.environ,
            DATABASE_URL=url,
            PORTAL_ENV="development",
            SECRET_KEY=uuid.uuid4().hex * 2,
            LOG_LEVEL="WARNING",
            LOGIN_MAX_FAILURES_PER_IP="100000",
            PAGE_CACHE_S="0",
            LIVE_ENABLED="false",
            AVAILABILITY_MAX_AGE_S="3600",
        )
        portal = _gunicorn(port, args.workers, env, tmp / "portal.log")
        _wait_http(f"{base}/auth/login")
        signed_in = [(email, group, units, login(base, email)) for email, group, units in people]
        http = urllib3.PoolManager()
        for _email, group, units, cookie in signed_in:  # warm each worker's connections once
            for page in MIX[group]:
                http.request("GET", base + page.replace("{asset}", str(units[0])), headers={"Cookie": cookie})
        out: Any = mp.get_context("spawn").Queue()
        worker = mp.get_context("spawn").Process(target=_clients, args=(base, signed_in, args.seconds, out))
        worker.start()
        found = out.get(timeout=args.seconds + 300)
        worker.join()
        results: dict[str, list[float]] = found["results"]
        every = [ms for values in results.values() for ms in values]
        figures: dict[str, Any] = {
            "mix_p50_ms": round(_pct(every, 0.50), 1),
            "mix_p99_ms": round(_pct(every, 0.99), 1),
            "mix_pages_per_s": round(len(every) / args.seconds, 1),
            # a facility manager's first portfolio page: a 500-unit tenant, the 5,000-unit one
            "portfolio_500_p50_ms": round(_pct(results.get("facility_manager:/portfolio:small", []), 0.5), 1),
            "portfolio_5000_p50_ms": round(
                _pct(results.get("facility_manager:/portfolio:large", []), 0.5), 1
            ),
            "errors": len(found["errors"]),
            "people": len(signed_in),
            "units": sum(tenants),
            "seed_s": round(seeded_s, 1),
            "cache": "off",
            "database": backend,
        }
        for label, values in sorted(results.items()):
            print(
                f"{label:55s} n={len(values):5d} p50={_pct(values, 0.5):7.1f} p99={_pct(values, 0.99):7.1f}",
                file=sys.stderr,
            )
        for line in found["errors"][:10]:
            print("error:", line, file=sys.stderr)
        print(" ".join(f"{k}={v}" for k, v in figures.items()))
    finally:
        if portal is not None and portal.poll() is None:
            os.killpg(portal.pid, signal.SIGTERM)
            portal.wait(15)
        if not (args.url or args.keep):
            _drop(url)


if __name__ == "__main__":
    main()
