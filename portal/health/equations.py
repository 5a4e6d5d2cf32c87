"""Satisfaction equations: for each stakeholder group and question (CSAT, CES, NPS), a small
regularised linear model of the answers on the service levers of the 30 days before each
answer, with an uncertainty band per weight.

scikit-learn's ridge regression on standardised levers (so the penalty treats every lever
alike), its weights put back in each lever's own unit: "one more outage per unit in the
month costs 0.6 CSAT points". The band is the 5th–95th percentile of the weights over
bootstrap resamples of the answers. Below ``MIN_ANSWERS`` answers no weight is given: the
page says how many more are needed instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.utils import resample

from portal.health.levers import LEVERS

logger = logging.getLogger(__name__)

MIN_ANSWERS = 40
ALPHA = 1.0  # ridge penalty on standardised levers
BOOTSTRAPS = 200


@dataclass(frozen=True)
class Weight:
    """One lever's weight: answer points per unit of the lever, with its 90 % band."""

    lever: str
    weight: float
    low: float
    high: float

    @property
    def clear(self) -> bool:
        """The band does not include zero: the direction is known."""
        return self.low > 0 or self.high < 0


@dataclass(frozen=True)
class Equation:
    """A fitted equation, or the reason it was not fitted (``weights`` empty)."""

    group: str
    question: str
    answers: int
    intercept: float = 0.0
    weights: tuple[Weight, ...] = ()
    r2: float | None = None

    @property
    def fitted(self) -> bool:
        """Enough answers to show weights."""
        return bool(self.weights)

    def predict(self, levers: dict[str, float]) -> float:
        """The expected answer for these levers."""
        return self.intercept + sum(w.weight * levers.get(w.lever, 0.0) for w in self.weights)


def fit(
    group: str, question: str, levers: Sequence[dict[str, float]], answers: Sequence[float], seed: int = 0
) -> Equation:
    """Fit one group's equation for one question; ``levers[i]`` were measured before ``answers[i]``."""
    n = len(answers)
    if n < MIN_ANSWERS:
        return Equation(group, question, n)
    x = np.array([[row.get(lever, 0.0) for lever in LEVERS] for row in levers], dtype=float)
    y = np.array(answers, dtype=float)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0  # a lever that never moved gets no weight, not a division by zero
    z = (x - mean) / scale

    def weights_of(zs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, float]:
        model = Ridge(alpha=ALPHA).fit(zs, ys)
        per_unit = model.coef_ / scale
        return per_unit, float(model.intercept_ - per_unit @ mean)

    per_unit, intercept = weights_of(z, y)
    samples = []
    rng = np.random.RandomState(seed)
    for _ in range(BOOTSTRAPS):
        zs, ys = resample(z, y, random_state=rng)
        samples.append(weights_of(zs, ys)[0])
    low, high = np.percentile(np.array(samples), [5, 95], axis=0)
    r2 = float(Ridge(alpha=ALPHA).fit(z, y).score(z, y))
    weights = tuple(
        Weight(lever, float(per_unit[i]), float(low[i]), float(high[i])) for i, lever in enumerate(LEVERS)
    )
    return Equation(group, question, n, intercept, weights, r2)
