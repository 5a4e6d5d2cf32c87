"""Where a page's time goes (``make profile-pages``): the mix's pages timed in one process.

Seeds the page mix's PostgreSQL database (``bench/mix.py``: three tenants of 500 units and
one of 5,000) or reuses one (``--url``, kept with ``--keep``), builds the portal in-process
with the page cache off, signs every person in, and times each (person, page) of the mix
``--repeat`` times without load: the CPU a page costs, not its wait in a queue. With
``--profile LABEL`` (for example ``vendor_staff:/satisfaction``) it writes a pyinstrument
profile of that page to ``--out`` (text, and HTML beside it).

The last line is ``key=value``: the slowest page, its median, and the mix's weighted mean
cost per page (the CPU a page of the mix takes on average, which bounds the throughput:
two cores ÷ that cost).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from bench.mix import MIX, PASSWORD, TENANTS, people_of, seed
from bench.portal import _database, _drop
from config import Settings
from portal.app import create_app


def build_app(url: str) -> Flask:
    """The portal over ``url`` as the mix serves it (page cache off, no live push)."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        portal_env="development",
        secret_key=uuid.uuid4().hex * 2,
        database_url=url,
        page_cache_s=0,
        live_enabled=False,
        availability_max_age_s=3600,
        login_max_failures_per_ip=100000,
        log_level="WARNING",
    )
    app = create_app(settings)
    app.config["WTF_CSRF_ENABLED"] = False
    return app


def sign_in(app: Flask, email: str) -> FlaskClient:
    """A test client signed in as ``email``."""
    client = app.test_client()
    resp = client.post("/auth/login", data={"email": email, "password": PASSWORD})
    assert resp.status_code == 302, f"login of {email}: {resp.status_code}"
    return client


def label_of(email: str, group: str, page: str) -> str:
    """The mix's label of a page (the portfolio's first page split by tenant size)."""
    tenant = "large" if ".large@" in email else "small"
    return f"{group}:{page}" + (f":{tenant}" if page == "/portfolio" else "")


def main() -> None:
    """Seed or reuse, time every page, optionally profile one."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="reuse this database (seeded by an earlier --keep run)")
    parser.add_argument(
        "--tenants",
        default=",".join(map(str, TENANTS)),
        help="units per tenant when seeding, multiples of 25, the large one last (default %(default)s)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the seeded database; print its URL")
    parser.add_argument("--repeat", type=int, default=3, help="times each page is fetched")
    parser.add_argument("--profile", help="label of the page to profile, e.g. vendor_staff:/satisfaction")
    parser.add_argument("--out", default="profile.txt", help="where the profile's text goes")
    args = parser.parse_args()

    url = args.url
    made = False
    if not url:
        url, backend = _database(Path(tempfile.mkdtemp(prefix="bench-profile-")))
        assert backend == "postgresql", "the profile runs on PostgreSQL (127.0.0.1:5432)"
        seed(url, tuple(int(n) for n in args.tenants.split(",")))
        made = True
        if args.keep:
            print(f"database: {url}", file=sys.stderr)
    try:
        app = build_app(url)
        people = people_of(url)
        costs: dict[str, list[float]] = {}
        weights: dict[str, float] = {}
        profiled: Any = None
        for email, group, units in people:
            client = sign_in(app, email)
            rng = random.Random(email)
            total = sum(MIX[group].values())
            for page, weight in MIX[group].items():
                label = label_of(email, group, page)
                weights[label] = weights.get(label, 0.0) + weight / total
                for _ in range(args.repeat):
                    path = page.replace("{asset}", str(rng.choice(units)))
                    started = time.perf_counter()
                    resp = client.get(path)
                    costs.setdefault(label, []).append((time.perf_counter() - started) * 1000)
                    assert resp.status_code == 200, f"{email} {path}: {resp.status_code}"
                if args.profile == label and profiled is None:
                    from pyinstrument import Profiler

                    profiler = Profiler(interval=0.0005)
                    with profiler:
                        client.get(page.replace("{asset}", str(units[0])))
                    profiled = profiler
        for label in sorted(costs, key=lambda k: -statistics.median(costs[k])):
            print(f"{label:55s} median={statistics.median(costs[label]):8.1f} ms", file=sys.stderr)
        if profiled is not None:
            Path(args.out).write_text(profiled.output_text(unicode=True, show_all=False))
            Path(args.out).with_suffix(".html").write_text(profiled.output_html())
        slowest = max(costs, key=lambda k: statistics.median(costs[k]))
        weighted = sum(statistics.median(costs[k]) * w for k, w in weights.items()) / sum(weights.values())
        print(
            f"slowest={slowest} slowest_ms={statistics.median(costs[slowest]):.1f} "
            f"mean_page_ms={weighted:.1f} bound_pages_per_s={2000 / weighted:.1f}"
        )
    finally:
        if made and not args.keep:
            _drop(url)


if __name__ == "__main__":
    main()
