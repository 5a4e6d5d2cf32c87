"""Satisfaction equations recover known weights, give bands, and refuse small samples."""

from __future__ import annotations

import random

import pytest

from portal.health.equations import MIN_ANSWERS, fit
from portal.health.levers import LEVERS


def _answers(
    n: int, truth: dict[str, float], seed: int, base: float = 4.0, noise: float = 0.3
) -> tuple[list[dict[str, float]], list[float]]:
    """Answers on the CSAT scale: the latent value rounded, and kept between 1 and 5."""
    rng = random.Random(seed)
    rows, ys = [], []
    for _ in range(n):
        row = {lever: rng.expovariate(1.0) for lever in LEVERS}
        rows.append(row)
        latent = base + sum(c * row[k] for k, c in truth.items()) + rng.gauss(0, noise)
        ys.append(float(max(1, min(5, round(latent)))))
    return rows, ys


def test_known_weights_are_recovered_with_bands_that_hold_them() -> None:
    truth = {"outages": -0.8, "late_visits": -0.4}
    rows, ys = _answers(600, truth, 1)
    eq = fit("hoa", "csat", rows, ys)
    assert eq.fitted
    assert eq.answers == 600
    weights = {w.lever: w for w in eq.weights}
    for lever, value in truth.items():
        assert weights[lever].weight == pytest.approx(value, rel=0.1)
        assert weights[lever].low <= value <= weights[lever].high
        assert weights[lever].clear
    assert abs(weights["restore_hours"].weight) < 0.05  # a lever that does not matter
    assert eq.predict({"outages": 1.0}) == pytest.approx(3.2, abs=0.15)
    assert eq.r2 is not None
    assert eq.r2 > 0.6


def test_answers_piled_on_the_scale_s_floor_do_not_flatten_the_weights() -> None:
    """A fifth of the answers at 1 (the latent far lower): least squares on the answers would
    read the floor as a weaker effect; the interval model recovers the truth."""
    truth = {"outages": -1.2, "late_visits": -0.6}
    rows, ys = _answers(800, truth, 5, base=4.4, noise=0.35)
    assert sum(y == 1.0 for y in ys) / len(ys) > 0.15
    weights = {w.lever: w.weight for w in fit("fm", "csat", rows, ys).weights}
    for lever, value in truth.items():
        assert weights[lever] == pytest.approx(value, rel=0.1)


def test_each_question_is_read_on_its_own_scale() -> None:
    """NPS answers of 10 are "10 or more", not 10: the same latent truth on the 0–10 scale."""
    rng = random.Random(6)
    rows, ys = [], []
    for _ in range(600):
        row = {lever: rng.expovariate(1.0) for lever in LEVERS}
        rows.append(row)
        ys.append(float(max(0, min(10, round(9.5 - 2.0 * row["outages"] + rng.gauss(0, 1.0))))))
    assert sum(y == 10.0 for y in ys) / len(ys) > 0.1
    weights = {w.lever: w.weight for w in fit("fm", "nps", rows, ys).weights}
    assert weights["outages"] == pytest.approx(-2.0, rel=0.1)


def test_too_few_answers_give_no_weights() -> None:
    rows, ys = _answers(MIN_ANSWERS - 1, {"outages": -1.0}, 2)
    eq = fit("fm", "nps", rows, ys)
    assert not eq.fitted
    assert eq.answers == MIN_ANSWERS - 1
    assert eq.weights == ()


def test_a_lever_that_never_moved_gets_no_weight() -> None:
    rows, ys = _answers(200, {"outages": -0.5}, 3)
    for row in rows:
        row["warnings_confirmed"] = 0.0
    eq = fit("fm", "csat", rows, ys)
    assert {w.lever: w.weight for w in eq.weights}["warnings_confirmed"] == 0.0
