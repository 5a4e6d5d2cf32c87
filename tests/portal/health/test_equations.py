"""Satisfaction equations recover known weights, give bands, and refuse small samples."""

from __future__ import annotations

import random

import pytest

from portal.health.equations import MIN_ANSWERS, fit
from portal.health.levers import LEVERS


def _answers(n: int, truth: dict[str, float], seed: int) -> tuple[list[dict[str, float]], list[float]]:
    rng = random.Random(seed)
    rows, ys = [], []
    for _ in range(n):
        row = {lever: rng.expovariate(1.0) for lever in LEVERS}
        rows.append(row)
        ys.append(4.0 + sum(c * row[k] for k, c in truth.items()) + rng.gauss(0, 0.3))
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
    assert eq.r2 > 0.8


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
