"""Health score, voice factors, default points and the Wallet Allocation Rule on
hand-computed fixtures; the score never improves when a lever worsens (a property)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.health import score as h
from portal.health.equations import Equation, Weight
from portal.health.levers import LEVERS
from portal.health.wallet import observed_share, war_share, war_shares


def test_a_factor_loses_its_points_in_proportion_up_to_its_cap() -> None:
    one = h.health({"outages": 1.0})  # 12 points, all lost at 2 per unit
    assert one.score == 94.0
    assert one.reasons == (h.Reason("outages", 1.0, 6.0),)
    assert one.risk == 6.0
    many = h.health({"outages": 4.0, "late_visits": 0.5, "technician_not_met": 1.0})
    assert many.score == pytest.approx(100 - 12 - 2.5 - 4)
    assert [r.factor for r in many.reasons] == [
        "outages",
        "technician_not_met",
        "late_visits",
    ]  # biggest first
    assert h.health({}).score == 100.0
    assert (
        h.health({"outages": -3.0, "restore_hours": float("nan")}).score == 100.0
    )  # nonsense counts as fine


def test_points_are_checked_whole_and_add_up_to_100() -> None:
    assert sum(h.check_points(h.DEFAULT_POINTS).values()) == 100
    with pytest.raises(h.BadPoints):
        h.check_points({**h.DEFAULT_POINTS, "outages": 13})
    with pytest.raises(h.BadPoints):
        h.check_points({"unknown": 100})
    with pytest.raises(h.BadPoints):
        h.check_points({**h.DEFAULT_POINTS, "outages": -1, "silent": 17})


values = st.dictionaries(
    st.sampled_from(h.FACTORS), st.floats(min_value=0, max_value=50), max_size=len(h.FACTORS)
)


@given(values=values, factor=st.sampled_from(h.FACTORS), worse=st.floats(min_value=0, max_value=50))
def test_a_score_never_improves_when_a_factor_worsens(
    values: dict[str, float], factor: str, worse: float
) -> None:
    before = h.health(values).score
    after = h.health({**values, factor: values.get(factor, 0.0) + worse}).score
    assert after <= before
    assert 0.0 <= after <= 100.0


def test_voice_factors_from_the_latest_answers() -> None:
    assert h.voice([4, 2], 1, 5) == {"low_last_score": 0.5, "scores_falling": 0.5}
    assert h.voice([5], 1, 5) == {"low_last_score": 0.0}
    assert h.voice([0, 10], 0, 10) == {"low_last_score": 0.0, "scores_falling": 0.0}
    assert h.voice([], 1, 5) == {}


def test_default_points_follow_the_fitted_weights() -> None:
    bands = {  # weight, band
        "outages": (-0.5, -0.7, -0.25),
        "late_visits": (-1.0, -1.6, -0.5),
        "restore_hours": (+0.1, 0.05, 0.15),  # better with more hours: not harmful
        "repeat_faults": (-0.8, -2.0, 0.3),  # the band reaches zero: the direction is not known
    }
    weights = tuple(Weight(lever, *bands.get(lever, (0.0, -0.1, 0.1))) for lever in LEVERS)
    points = h.points_from(Equation("hoa", "csat", 100, 4.0, weights, 0.5))
    assert sum(points.values()) == 100
    # sure harm at the cap: outages 0.25 × 2 = 0.5, late visits 0.5 × 1 = 0.5: equal shares of 60
    assert points["outages"] == points["late_visits"] == 30
    assert points["restore_hours"] == points["repeat_faults"] == 0
    assert {f: points[f] for f in (*h.VOICE, *h.COVERAGE)} == {
        f: h.DEFAULT_POINTS[f] for f in (*h.VOICE, *h.COVERAGE)
    }
    assert h.points_from(Equation("hoa", "csat", 10)) == h.DEFAULT_POINTS  # not fitted: defaults
    unsure = tuple(Weight(lever, -0.5, -1.0, 0.2) for lever in LEVERS)
    assert h.points_from(Equation("hoa", "csat", 60, 4.0, unsure, 0.1)) == h.DEFAULT_POINTS


def test_suggested_points_average_the_fitted_equations_in_whole_points() -> None:
    def equation(lever: str) -> Equation:
        ws = tuple(Weight(x, -1.0, -1.5, -0.5) if x == lever else Weight(x, 0.0, -0.1, 0.1) for x in LEVERS)
        return Equation("g", "csat", 100, 4.0, ws, 0.5)

    assert h.suggested_points([Equation("g", "csat", 3)]) == h.DEFAULT_POINTS  # nothing fitted
    mixed = h.suggested_points([equation("outages"), equation("late_visits"), equation("missed_arrivals")])
    assert sum(mixed.values()) == 100
    assert all(isinstance(v, int) for v in mixed.values())
    assert mixed["outages"] == mixed["late_visits"] == mixed["missed_arrivals"] == 20
    assert mixed["repeat_faults"] == 0


def test_wallet_allocation_rule() -> None:
    for n in (1, 2, 3, 7):
        assert sum(war_share(r, n) for r in range(1, n + 1)) == pytest.approx(1.0)
    assert war_share(1, 1) == 1.0
    assert war_share(1, 3) == pytest.approx(0.5)  # (1 − 1/4) × 2/3
    assert war_share(3, 3) == pytest.approx(1 / 6)
    tied = war_shares({"us": 1, "rival": 1, "third": 3})
    assert tied["us"] == tied["rival"] == pytest.approx((war_share(1, 3) + war_share(2, 3)) / 2)
    assert sum(tied.values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="rank must be between"):
        war_share(4, 3)
    assert observed_share(12, 40) == 0.3
    assert observed_share(5, 0) is None
