"""Satisfaction equations: for each stakeholder group and question (CSAT, CES, NPS), a small
regularised linear model of the answers on the service levers of the 30 days before each
answer, with an uncertainty band per weight.

The model: a latent satisfaction ``intercept + Σ weight × lever + noise`` (Gaussian), of
which an answer is the rounded value, bounded by the scale — an answer of 3 says the latent
was in [2.5, 3.5), the lowest answer says "this low or lower", the highest "this high or
higher". The weights maximise that likelihood (interval regression) with a small ridge
penalty on standardised levers (so the penalty treats every lever alike); they are given
back in each lever's own unit: "one more outage per unit in the month costs 0.6 CSAT
points". Least squares on the answers themselves (scikit-learn's ``Ridge``, the first
version) reads the scale's floor and ceiling as a flattening of the effect: on the health
benchmark a lever worth −0.5 points came out at +0.07 once a tenth of the answers sat on
the floor. The likelihood is a few lines over SciPy's normal distribution function and optimiser;
no maintained library fits a regression with known, fixed cut points.

The band is the 5th–95th percentile of the weights over bootstrap resamples of the answers
(scikit-learn's ``resample``). Below ``MIN_ANSWERS`` answers no weight is given: the page
says how many more are needed instead.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import ndtr
from sklearn.utils import resample

from portal.health.levers import LEVERS

logger = logging.getLogger(__name__)

MIN_ANSWERS = 40
ALPHA = 1.0  # ridge penalty on standardised levers
BOOTSTRAPS = 200
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
SCALES = {"csat": (1, 5), "ces": (1, 7), "nps": (0, 10)}  # each question's lowest and highest answer


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


def _pdf(x: np.ndarray) -> np.ndarray:
    """The standard normal density (scipy.stats' generic one costs a millisecond a call)."""
    return np.exp(-0.5 * np.square(x)) * _INV_SQRT_2PI


def _interval_fit(z: np.ndarray, lo: np.ndarray, hi: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Maximise the penalised likelihood of latent values within ``[lo, hi)`` from ``start``;
    returns the intercept, the weights on ``z`` and the log of the noise's standard deviation."""
    k = z.shape[1]

    def objective(p: np.ndarray) -> tuple[float, np.ndarray]:
        mu, sigma = p[0] + z @ p[1 : k + 1], np.exp(p[-1])
        a, b = (lo - mu) / sigma, (hi - mu) / sigma
        upper = a > 0  # far in the upper tail, Φ(b) − Φ(a) loses its digits: use the other tail
        prob = np.where(upper, ndtr(-a) - ndtr(-b), ndtr(b) - ndtr(a))
        prob = np.maximum(prob, 1e-300)
        pdf_a, pdf_b = _pdf(a), _pdf(b)  # 0 at ±∞
        d_mu = (pdf_a - pdf_b) / (sigma * prob)
        finite_a, finite_b = np.where(np.isfinite(a), a, 0.0), np.where(np.isfinite(b), b, 0.0)
        d_tau = (finite_a * pdf_a - finite_b * pdf_b) / prob
        beta = p[1 : k + 1]
        value = -float(np.log(prob).sum()) + ALPHA * float(beta @ beta)
        grad = np.concatenate([[-d_mu.sum()], -(z.T @ d_mu) + 2 * ALPHA * beta, [-d_tau.sum()]])
        return value, grad

    return np.asarray(minimize(objective, start, jac=True, method="BFGS").x)


def fit(
    group: str, question: str, levers: Sequence[dict[str, float]], answers: Sequence[float], seed: int = 0
) -> Equation:
    """Fit one group's equation for one question; ``levers[i]`` were measured before ``answers[i]``."""
    n = len(answers)
    if n < MIN_ANSWERS:
        return Equation(group, question, n)
    low_end, high_end = SCALES.get(question, (min(answers), max(answers)))
    x = np.array([[row.get(lever, 0.0) for lever in LEVERS] for row in levers], dtype=float)
    y = np.array(answers, dtype=float)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0  # a lever that never moved gets no weight, not a division by zero
    z = (x - mean) / scale
    lo = np.where(y <= low_end, -np.inf, y - 0.5)
    hi = np.where(y >= high_end, np.inf, y + 0.5)

    start = np.concatenate([[y.mean()], np.zeros(len(LEVERS)), [np.log(max(float(y.std()), 0.1))]])
    full = _interval_fit(z, lo, hi, start)
    per_unit = full[1:-1] / scale
    intercept = float(full[0] - per_unit @ mean)
    samples = []
    rng = np.random.RandomState(seed)
    for _ in range(BOOTSTRAPS):
        zs, los, his = resample(z, lo, hi, random_state=rng)
        samples.append(_interval_fit(zs, los, his, full)[1:-1] / scale)
    low, high = np.percentile(np.array(samples), [5, 95], axis=0)
    expected = np.clip(full[0] + z @ full[1:-1], low_end, high_end)
    total = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(((y - expected) ** 2).sum()) / total if total > 0 else None
    weights = tuple(
        Weight(lever, float(per_unit[i]), float(low[i]), float(high[i])) for i, lever in enumerate(LEVERS)
    )
    return Equation(group, question, n, intercept, weights, r2)
