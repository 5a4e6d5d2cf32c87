"""Relationship health (0–100) from explainable factors whose points add up to 100.

A factor loses its points in proportion to how bad its value is, up to a cap where all are
lost: ``lost = points × min(1, value / cap)`` (values are oriented bigger = worse). The
score is 100 minus what was lost, so a worse lever can never raise it, and each loss is a
reason ("3 breakdowns in 30 days: −14"). Risk is 100 − health.

Three families: the **service levers** of :mod:`portal.health.levers`, the **voice** of the
group (latest score low, scores going down, unanswered feedback, residents' complaints), and
**relationship coverage** (an HOA president who has not met a technician in 12 months, no
answer from the group in 180 days, a building whose president changed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from portal.health.equations import Equation
from portal.health.levers import LEVERS

VOICE = ("low_last_score", "scores_falling", "unanswered_feedback", "resident_complaints")
COVERAGE = ("technician_not_met", "silent", "new_president")
FACTORS = (*LEVERS, *VOICE, *COVERAGE)

# Where a factor has lost all its points (value in the factor's own unit).
CAPS: dict[str, float] = {
    "availability_gap": 2.0,  # percentage points below target
    "outages": 2.0,  # per unit in 30 days
    "repeat_faults": 1.0,
    "restore_hours": 24.0,
    "response_over_hours": 8.0,
    "missed_arrivals": 1.0,
    "late_visits": 1.0,
    "open_feedback_days": 30.0,
    "warnings_confirmed": 1.0,
    "low_last_score": 1.0,  # 0 … 1: how far the latest answer sits below neutral
    "scores_falling": 1.0,  # 0 … 1: the drop between the last two answers, on a 0–1 scale
    "unanswered_feedback": 3.0,  # items waiting more than 7 days
    "resident_complaints": 1.0,  # per unit in 30 days
    "technician_not_met": 1.0,  # yes (1) or no (0)
    "silent": 1.0,
    "new_president": 1.0,
}
DEFAULT_POINTS: dict[str, int] = {
    "availability_gap": 10,
    "outages": 12,
    "repeat_faults": 8,
    "restore_hours": 6,
    "response_over_hours": 8,
    "missed_arrivals": 5,
    "late_visits": 5,
    "open_feedback_days": 4,
    "warnings_confirmed": 2,
    "low_last_score": 12,
    "scores_falling": 6,
    "unanswered_feedback": 6,
    "resident_complaints": 4,
    "technician_not_met": 4,
    "silent": 4,
    "new_president": 4,
}
assert sum(DEFAULT_POINTS.values()) == 100  # noqa: S101 - a constant, checked once at import


@dataclass(frozen=True)
class Reason:
    """One factor's share of the score: its value and the points it cost."""

    factor: str
    value: float
    lost: float


@dataclass(frozen=True)
class Health:
    """A score and the reasons behind it (the largest losses first)."""

    score: float
    reasons: tuple[Reason, ...]

    @property
    def risk(self) -> float:
        """100 − health."""
        return 100.0 - self.score


class BadPoints(ValueError):
    """Points that are not whole, not positive, unknown, or do not add up to 100."""


def check_points(points: Mapping[str, int]) -> dict[str, int]:
    """Staff-set points: every factor, whole numbers ≥ 0, 100 in all."""
    unknown = set(points) - set(FACTORS)
    if unknown:
        raise BadPoints(f"unknown factors: {', '.join(sorted(unknown))}")
    full = {f: int(points.get(f, 0)) for f in FACTORS}
    if any(v < 0 for v in full.values()) or sum(full.values()) != 100:
        raise BadPoints("points must be whole numbers of at least 0 that add up to 100")
    return full


def health(values: Mapping[str, float], points: Mapping[str, int] = DEFAULT_POINTS) -> Health:
    """The score of ``values`` (missing factors count as fine)."""
    reasons = []
    for factor in FACTORS:
        value = max(0.0, float(values.get(factor, 0.0)))
        if math.isnan(value):
            value = 0.0
        lost = points.get(factor, 0) * min(1.0, value / CAPS[factor])
        if lost > 0:
            reasons.append(Reason(factor, value, lost))
    reasons.sort(key=lambda r: -r.lost)
    return Health(round(100.0 - sum(r.lost for r in reasons), 1), tuple(reasons))


def voice(scores: Sequence[float], low: float, high: float) -> dict[str, float]:
    """The voice factors from a group's answers to one question, oldest first, on the
    question's scale ``[low, high]``: how far the latest sits below the middle (0 … 1) and
    how much it fell from the one before (0 … 1)."""
    if not scores:
        return {}
    middle = (low + high) / 2
    last = scores[-1]
    out = {"low_last_score": max(0.0, (middle - last) / (middle - low))}
    if len(scores) > 1:
        out["scores_falling"] = max(0.0, (scores[-2] - last) / (high - low))
    return out


def points_from(equation: Equation, voice_and_coverage: int = 40) -> dict[str, int]:
    """Default points for the service levers from a fitted equation: each lever's share of
    ``100 − voice_and_coverage`` in proportion to how many answer points it surely costs at its
    cap (the least harmful end of its band: a lever whose band reaches zero gets nothing);
    voice and coverage keep their default proportions. Without a fitted equation, or when no
    lever is surely harmful, the defaults."""
    if not equation.fitted:
        return dict(DEFAULT_POINTS)
    harm = {w.lever: max(0.0, -w.high) * CAPS[w.lever] for w in equation.weights}
    total = sum(harm.values())
    if total <= 0:
        return dict(DEFAULT_POINTS)
    service = 100 - voice_and_coverage
    shares = {lever: service * harm.get(lever, 0.0) / total for lever in LEVERS}
    rest = {f: DEFAULT_POINTS[f] for f in (*VOICE, *COVERAGE)}
    rest_total = sum(rest.values())
    points = {f: round(v) for f, v in shares.items()} | {
        f: round(voice_and_coverage * v / rest_total) for f, v in rest.items()
    }
    drift = 100 - sum(points.values())  # rounding: give the difference to the largest factor
    biggest = max(points, key=lambda f: points[f])
    points[biggest] += drift
    return points


def suggested_points(equations: Sequence[Equation]) -> dict[str, int]:
    """The points the fitted equations suggest: the mean of :func:`points_from` over every
    fitted equation, in whole points adding up to 100 (largest remainders); the defaults
    when none is fitted."""
    fitted = [points_from(e) for e in equations if e.fitted]
    if not fitted:
        return dict(DEFAULT_POINTS)
    mean = {f: sum(p[f] for p in fitted) / len(fitted) for f in FACTORS}
    whole = {f: math.floor(v) for f, v in mean.items()}
    by_remainder = sorted(FACTORS, key=lambda f: (-(mean[f] - whole[f]), FACTORS.index(f)))
    for f in by_remainder[: 100 - sum(whole.values())]:
        whole[f] += 1
    return whole
