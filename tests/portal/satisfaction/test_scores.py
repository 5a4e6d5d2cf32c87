"""Survey score formulas on hand-computed fixtures."""

from __future__ import annotations

import pytest

from portal.satisfaction.scores import ces, csat, nps, nps_band


def test_nps_only_promoters_only_detractors_and_mixed() -> None:
    assert nps([9, 10, 10, 9]).value == 100.0
    assert nps([0, 3, 6, 6]).value == -100.0
    # 10 answers: 4 promoters (9, 9, 10, 10), 3 passives (7, 7, 8), 3 detractors (0, 5, 6)
    mixed = nps([9, 9, 10, 10, 7, 7, 8, 0, 5, 6])
    assert mixed.value == pytest.approx(10.0)
    assert mixed.responses == 10
    assert not mixed.small_sample
    assert nps([7, 8, 8]).value == 0.0  # passives only


def test_csat_counts_four_and_five_as_satisfied() -> None:
    assert csat([5, 4, 3, 2, 1]).value == pytest.approx(40.0)
    assert csat([4, 4, 4]).value == 100.0
    assert csat([3, 3]).value == 0.0
    assert csat([]).value is None
    assert csat([5]).small_sample


def test_ces_mean_and_share_easy() -> None:
    mean, easy = ces([7, 6, 5, 2, 1, 3])
    assert mean.value == pytest.approx(4.0)
    assert easy.value == pytest.approx(50.0)
    assert ces([])[0].value is None


BANDS = [
    (0, "detractor"),
    (6, "detractor"),
    (7, "passive"),
    (8, "passive"),
    (9, "promoter"),
    (10, "promoter"),
]


@pytest.mark.parametrize(("answer", "band"), BANDS)
def test_nps_bands(answer: int, band: str) -> None:
    assert nps_band(answer) == band


@pytest.mark.parametrize(
    ("formula", "answers"),
    [
        (csat, [0]),
        (csat, [6]),
        (ces, [8]),
        (ces, [0]),
        (nps, [11]),
        (nps, [-1]),
        (nps, [True]),
        (csat, [4.5]),
    ],
)
def test_out_of_range_answers_are_refused(formula: object, answers: list[object]) -> None:
    with pytest.raises(ValueError, match="answers go from"):
        formula(answers)  # type: ignore[operator]
