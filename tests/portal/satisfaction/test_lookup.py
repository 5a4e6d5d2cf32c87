"""The availability before an answer, pooled per site or customer, equals the sum over units
of :func:`portal.kpi.availability` (the reference) for random overlapping outages and
maintenance, open records included, at random instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.kpi import availability
from portal.satisfaction.lookup import LOOKBACK, AvailabilityLookup, IntervalMass

START = datetime(2028, 1, 1, tzinfo=UTC)
END = datetime(2028, 4, 1, tzinfo=UTC)

record = st.tuples(
    st.integers(0, 5),  # unit
    st.booleans(),  # maintenance?
    st.floats(-40, 90),  # days after START it began
    st.none() | st.floats(0.01, 30 * 24),  # hours long; None: still open
)


class _Rows:
    """A stand-in for the session: answers the lookup's two queries from lists."""

    def __init__(self, rows: dict[bool, list[tuple[int, datetime, datetime | None]]]) -> None:
        self.rows = rows

    def get_bind(self) -> SimpleNamespace:
        return SimpleNamespace(dialect=SimpleNamespace(name="sqlite"))  # plain IN lists

    def execute(self, statement: object) -> list[tuple[int, datetime, datetime | None]]:
        maintenance = "maintenance_periods" in str(statement)
        wanted = set(statement.compile().params["asset_id_1"])  # type: ignore[attr-defined]
        return [r for r in self.rows[maintenance] if r[0] in wanted]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(records=st.lists(record, max_size=25), moments=st.lists(st.floats(0, 90), min_size=1, max_size=5))
def test_the_pooled_lookup_equals_the_sum_of_the_reference(
    records: list[tuple[int, bool, float, float | None]], moments: list[float]
) -> None:
    rows: dict[bool, list[tuple[int, datetime, datetime | None]]] = {False: [], True: []}
    for n, (unit, maintenance, days, hours) in enumerate(records):
        began = START + timedelta(days=days, microseconds=n)
        rows[maintenance].append((unit, began, None if hours is None else began + timedelta(hours=hours)))
    sites = {1: [0, 1, 2], 2: [3, 4, 5]}
    lookup = AvailabilityLookup(_Rows(rows), sites, START, END)  # type: ignore[arg-type]
    for day in moments:
        at = START + timedelta(days=day)
        hour = at.replace(minute=0, second=0, microsecond=0)
        for asset, site, customer, units in (
            (4, 2, [], [4]),
            (None, 1, [], [0, 1, 2]),
            (None, None, [1, 2], list(range(6))),
        ):
            scope, down = timedelta(), timedelta()
            for unit in units:
                figures = availability(
                    [(s, e) for u, s, e in rows[False] if u == unit and s < hour],
                    [(s, e) for u, s, e in rows[True] if u == unit and s < hour],
                    hour - LOOKBACK,
                    hour,
                )
                scope += LOOKBACK - figures.maintenance
                down += figures.downtime
            expected = None if scope <= timedelta() else 100.0 * (scope - down) / scope
            found = lookup.before(asset, site, customer, at)
            if expected is None:
                assert found is None
            else:
                assert found == pytest.approx(expected, abs=1e-6)


def test_the_mass_of_overlapping_intervals_inside_a_window() -> None:
    mass = IntervalMass([(0, 10), (5, 15), (20, 30)])
    assert mass.within(0, 30) == 30
    assert mass.within(8, 22) == 2 + 7 + 2
    assert mass.within(15, 20) == 0
    assert mass.within(-5, 0) == 0
