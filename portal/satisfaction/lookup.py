"""Availability over the 30 days before each survey answer, of its unit, site or customer.

A year of answers about thousands of units asks this thousands of times, each over up to
5,000 units. Summing :func:`portal.kpi.availability` per unit and answer cost seconds; here
each unit's records are reduced once to two sets of disjoint intervals (unplanned downtime
outside maintenance, and maintenance), and a site's or customer's intervals are pooled into
a :class:`IntervalMass`: the time they cover inside any window is then two binary searches,
whatever the number of units. The result is the sum over units of
:func:`portal.kpi.availability`'s downtime and maintenance (a test checks it).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import accumulate

from sqlalchemy.orm import Session

from fleet.models.read_model import ANSWER_LOOKBACK
from portal.kpi import merge, records_between

LOOKBACK = ANSWER_LOOKBACK
Span = tuple[float, float]  # POSIX seconds


class IntervalMass:
    """How much of a window a multiset of intervals covers, summed over the intervals
    (overlaps between different units' intervals count twice, as units add up)."""

    def __init__(self, spans: Iterable[Span]) -> None:
        pairs = list(spans)
        self.starts = sorted(s for s, _ in pairs)
        self.ends = sorted(e for _, e in pairs)
        self.start_sums = [0.0, *accumulate(self.starts)]
        self.end_sums = [0.0, *accumulate(self.ends)]

    def before(self, t: float) -> float:
        """Total length of the intervals' parts before ``t``."""
        began = bisect_left(self.starts, t)
        ended = bisect_left(self.ends, t)
        return (began * t - self.start_sums[began]) - (ended * t - self.end_sums[ended])

    def within(self, a: float, b: float) -> float:
        """Total length of the intervals' parts inside ``[a, b)``."""
        return self.before(b) - self.before(a)


def _minus(spans: Sequence[Span], holes: Sequence[Span]) -> list[Span]:
    """``spans`` without ``holes`` (both disjoint and sorted)."""
    out: list[Span] = []
    k = 0
    for s, e in spans:
        while k < len(holes) and holes[k][1] <= s:
            k += 1
        j, cursor = k, s
        while j < len(holes) and holes[j][0] < e:
            if holes[j][0] > cursor:
                out.append((cursor, holes[j][0]))
            cursor = max(cursor, holes[j][1])
            j += 1
        if cursor < e:
            out.append((cursor, e))
    return out


class AvailabilityLookup:
    """Availability over the 30 days before a moment, of an asset or of a site's assets.

    ``site_assets`` holds only the sites someone answered about (the records of the others
    are never read), ``units`` the units answered about (read wherever they are now: one
    may have moved to another site since); open records run to ``end``."""

    def __init__(
        self,
        session: Session,
        site_assets: dict[int, list[int]],
        start: datetime,
        end: datetime,
        units: Iterable[int] = (),
    ) -> None:
        self.site_assets = site_assets
        ids = list(dict.fromkeys([*(a for assets in site_assets.values() for a in assets), *units]))
        outages, maintenance_periods = records_between(session, ids, start - LOOKBACK, end)
        stop = end.timestamp()

        def spans(records: list[tuple[datetime, datetime | None]]) -> list[Span]:
            return [(s.timestamp(), min(e.timestamp(), stop) if e else stop) for s, e in records]

        self.down: dict[int, list[Span]] = {}
        self.maintenance: dict[int, list[Span]] = {}
        for asset_id in ids:
            maintenance = merge(spans(maintenance_periods[asset_id]))
            self.maintenance[asset_id] = maintenance
            self.down[asset_id] = _minus(merge(spans(outages[asset_id])), maintenance)
        self._masses: dict[tuple[str, int], tuple[int, IntervalMass, IntervalMass]] = {}

    def _mass(self, key: tuple[str, int], asset_ids: Sequence[int]) -> tuple[int, IntervalMass, IntervalMass]:
        if key not in self._masses:
            known = [a for a in asset_ids if a in self.down]
            self._masses[key] = (
                len(asset_ids),
                IntervalMass(span for a in known for span in self.down[a]),
                IntervalMass(span for a in known for span in self.maintenance[a]),
            )
        return self._masses[key]

    def before(
        self, asset_id: int | None, site_id: int | None, customer_sites: Sequence[int], at: datetime
    ) -> float | None:
        """Availability of the asset, else its site, else the customer's sites, over the 30
        days before ``at`` (to the hour), as a percentage; None without units or scope."""
        hour = at.replace(minute=0, second=0, microsecond=0)
        if asset_id is not None:
            key, ids = ("a", asset_id), [asset_id]
        elif site_id is not None:
            key, ids = ("s", site_id), self.site_assets.get(site_id, [])
        else:
            key = ("c", hash(tuple(customer_sites)))
            ids = [a for s in customer_sites for a in self.site_assets.get(s, [])]
        if not ids:
            return None
        units, down, maintenance = self._mass(key, ids)
        b = hour.timestamp()
        a = (hour - LOOKBACK).timestamp()
        scope = units * (b - a) - maintenance.within(a, b)
        if scope <= 0:
            return None
        return 100.0 * (scope - down.within(a, b)) / scope
