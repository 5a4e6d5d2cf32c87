"""Survey scores, as defined in the domain notes (shared/domain.md).

- **CSAT** (1–5): % satisfied = share of 4 and 5 among responses.
- **CES** (1–7, 7 = very easy): the mean, and the share of 5–7.
- **NPS** (0–10): % promoters (9–10) − % detractors (0–6), from −100 to +100.

A score on fewer than :data:`SMALL_SAMPLE` responses is flagged, never hidden: the
count is always shown beside it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

SMALL_SAMPLE = 10
CSAT_RANGE = (1, 5)
CES_RANGE = (1, 7)
NPS_RANGE = (0, 10)


def _checked(values: Iterable[int], low: int, high: int, name: str) -> list[int]:
    out = list(values)
    bad = [v for v in out if not isinstance(v, int) or isinstance(v, bool) or not low <= v <= high]
    if bad:
        raise ValueError(f"{name} answers go from {low} to {high}; got {bad[:3]}")
    return out


@dataclass(frozen=True)
class Score:
    """A score with its response count; ``value`` is None without responses."""

    value: float | None
    responses: int

    @property
    def small_sample(self) -> bool:
        """True when there are too few responses to read much into the value."""
        return self.responses < SMALL_SAMPLE


def csat(answers: Iterable[int]) -> Score:
    """% satisfied: the share of 4 and 5 among 1–5 answers."""
    values = _checked(answers, *CSAT_RANGE, "CSAT")
    if not values:
        return Score(None, 0)
    return Score(100.0 * sum(1 for v in values if v >= 4) / len(values), len(values))


def ces(answers: Iterable[int]) -> tuple[Score, Score]:
    """(mean effort score on 1–7, % of answers 5–7)."""
    values = _checked(answers, *CES_RANGE, "CES")
    if not values:
        return Score(None, 0), Score(None, 0)
    n = len(values)
    return Score(sum(values) / n, n), Score(100.0 * sum(1 for v in values if v >= 5) / n, n)


def nps(answers: Iterable[int]) -> Score:
    """Net promoter score: % promoters (9–10) − % detractors (0–6)."""
    values = _checked(answers, *NPS_RANGE, "NPS")
    if not values:
        return Score(None, 0)
    promoters = sum(1 for v in values if v >= 9)
    detractors = sum(1 for v in values if v <= 6)
    return Score(100.0 * (promoters - detractors) / len(values), len(values))


def nps_band(answer: int) -> str:
    """``promoter``, ``passive`` or ``detractor`` for one 0–10 answer."""
    (value,) = _checked([answer], *NPS_RANGE, "NPS")
    return "promoter" if value >= 9 else "passive" if value >= 7 else "detractor"
