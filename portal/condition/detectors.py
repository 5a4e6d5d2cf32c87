"""Condition monitoring, the arithmetic: hourly values per signal, a robust baseline per unit,
an EWMA drift detector with hysteresis, and the traffic rule. Pure functions over plain
values (no database, no InfluxDB), so every rule is tested on series with known answers.

Parameters (documented in the README's "Early warning"):

- **Baseline**: over the 28 days before the last two days, at least 14 days apart and 168
  observed hours; centre = median, scale = 1.4826 × MAD (floored per signal). Motor
  temperature and vibration depend on how hard the unit works: their baseline is a curve of
  the typical value by its **driver** (medians in 8 bins of equal count: a motor does not
  heat in a straight line with load) and the median / MAD are taken of the residuals from
  it. Motor temperature's driver is the hour's mean load; vibration's is the trips made in
  the hour (its duty: a car vibrates while it runs, and the load sensor, read every few
  minutes, is mostly 0 between trips, so its hourly mean is a noisy measure of running).
- **EWMA** of the standardised residual ``z`` (clipped to ±4 so one odd hour cannot open a
  warning): ``e ← λ z + (1 − λ) e`` with λ = 0.05 per hour (a memory of about 20 hours:
  hourly values of one unit are noisy, and λ = 0.1–0.2 gave 2 to 60 false warnings per 100
  unit-months on the simulator), whose steady-state standard deviation is
  ``σₑ = √(λ / (2 − λ))``. A warning opens when ``e > 4 σₑ`` **and** the level, a faster
  EWMA (λ 0.1: about 9 hours behind a ramp instead of 19; λ 0.05 for the door re-opening
  rate, too noisy hour by hour) of the unclipped residual in the signal's unit, exceeds its
  minimum physical shift (a warning must be worth a technician's visit); it closes
  (hysteresis) after 12 observed hours with ``e < σₑ``.
  A warning's onset ("since") is where the running CUSUM ``S ← max(0, S + z − 0.5)``
  last left zero.
- **Trend** (Holt's linear smoothing) for the levelling error and vibration: the level also
  carries a smoothed slope ``T ← β (L − L₋₁) + (1 − β) T`` (β 0.05) and each hour starts
  from ``L₋₁ + T``, so it keeps up with a steady ramp instead of trailing it by
  ``(1 − λ) / λ`` hours. Door re-openings and motor temperature keep a plain level: on the
  simulator their trend opened warnings on healthy units (hourly rates of few door cycles;
  temperatures that follow the day's traffic).
- **Door re-openings** are a rate: their centre is the pooled rate over the baseline and
  an hour's spread is binomial in its door cycles (widened by the overdispersion seen), so
  a quiet hour with few cycles weighs less than a busy one.
- **Traffic**: the hour-of-week median of trips over the baseline weeks. A unit that makes
  no trip for 3 consecutive hours in which it usually makes at least 20 is stuck or silent;
  it clears as soon as it makes trips again. A holiday lowers traffic but rarely to zero,
  and the caller suppresses the rule when the site's other units are quiet too.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fleet.models.condition import Signal, WatchSeverity

LAMBDA = 0.05
SIGMA_E = math.sqrt(LAMBDA / (2 - LAMBDA))
# the level in the signal's unit: twice as fast as the EWMA of z (half the lag behind a ramp),
# except for the door re-opening rate, whose hourly values are too noisy for it
LEVEL_LAMBDA = {
    Signal.DOOR_REOPENINGS: LAMBDA,
    Signal.LEVELING: 0.1,
    Signal.MOTOR_TEMPERATURE: 0.1,
    Signal.VIBRATION: 0.1,
}
# the level's trend (Holt): 0 leaves a plain EWMA
TREND_BETA = {
    Signal.DOOR_REOPENINGS: 0.0,
    Signal.LEVELING: 0.05,
    Signal.MOTOR_TEMPERATURE: 0.0,
    Signal.VIBRATION: 0.05,
}
OPEN_LIMIT = 4.0  # in σₑ
CLOSE_LIMIT = 1.0  # in σₑ
CALM_HOURS_TO_CLOSE = 12
CUSUM_K = 0.5  # the CUSUM's allowance (in σ) that dates a warning's onset
ELEVATED = 2.0  # in σₑ: above it a baseline is not refitted
Z_CLIP = 4.0
BASELINE_DAYS = 28
BASELINE_GAP = timedelta(days=2)  # the freshest hours stay out of the baseline
MIN_BASELINE_SPAN = timedelta(days=14)
MIN_BASELINE_HOURS = 168
MIN_DOOR_CYCLES = 20  # fewer door cycles in an hour make its re-opening rate noise
TRAFFIC_BUSY_TRIPS = 20.0
TRAFFIC_QUIET_HOURS = 3

# the smallest shift worth a visit, and the floor of the baseline's scale, per signal
MIN_SHIFT = {
    Signal.DOOR_REOPENINGS: 1.8,  # re-openings per 100 door cycles
    Signal.LEVELING: 0.75,  # mm
    Signal.MOTOR_TEMPERATURE: 4.5,  # °C above what the load explains
    Signal.VIBRATION: 0.25,  # mm/s
}
MIN_SCALE = {
    Signal.DOOR_REOPENINGS: 0.3,
    Signal.LEVELING: 0.1,
    Signal.MOTOR_TEMPERATURE: 0.3,
    Signal.VIBRATION: 0.05,
}
# the signals whose baseline is a curve, and what it is a curve of: the hour's mean load, or
# its trips (duty)
DRIVER = {Signal.MOTOR_TEMPERATURE: "load", Signal.VIBRATION: "trips"}
LOAD_BINS = 8


@dataclass(frozen=True)
class HourlyAggregate:
    """One asset's telemetry over one hour ``[hour, hour + 1 h)``, as InfluxDB aggregated it:
    the counters' last values and the means of the analogue signals (None when absent)."""

    hour: datetime
    trips: float | None = None
    door_cycles: float | None = None
    door_reopenings: float | None = None
    motor_temp_c: float | None = None
    load_pct: float | None = None
    vibration_mm_s: float | None = None
    leveling_abs_mm: float | None = None


@dataclass(frozen=True)
class HourValues:
    """What one hour says per signal (None: not observed or not meaningful), its load, and the
    door cycles the re-opening rate was counted over (its weight)."""

    hour: datetime
    load: float | None
    values: dict[Signal, float | None]
    door_cycles: float | None = None

    def driver(self, signal: Signal) -> float | None:
        """What ``signal``'s baseline curve is read at in this hour (see :data:`DRIVER`)."""
        if signal not in DRIVER:
            return None
        return self.load if DRIVER[signal] == "load" else self.values.get(Signal.TRAFFIC)


def counter_increase(previous: float | None, current: float | None) -> float | None:
    """How much a counter rose between two consecutive hours; None when unknown (either
    value missing, or the counter went backwards: a controller reboot reset it)."""
    if previous is None or current is None or current < previous:
        return None
    return current - previous


def hour_values(previous: HourlyAggregate | None, current: HourlyAggregate) -> HourValues:
    """The signals of ``current``; counters need the hour just before (``previous``), else
    their increase is unknown."""
    consecutive = previous is not None and current.hour - previous.hour == timedelta(hours=1)
    prev = previous if consecutive else None
    trips = counter_increase(prev.trips if prev else None, current.trips)
    cycles = counter_increase(prev.door_cycles if prev else None, current.door_cycles)
    reopenings = counter_increase(prev.door_reopenings if prev else None, current.door_reopenings)
    rate = (
        100.0 * reopenings / cycles
        if cycles and cycles >= MIN_DOOR_CYCLES and reopenings is not None
        else None
    )
    return HourValues(
        current.hour,
        current.load_pct,
        door_cycles=cycles if rate is not None else None,
        values={
            Signal.DOOR_REOPENINGS: rate,
            Signal.LEVELING: current.leveling_abs_mm,
            Signal.MOTOR_TEMPERATURE: current.motor_temp_c,
            Signal.VIBRATION: current.vibration_mm_s,
            Signal.TRAFFIC: trips,
        },
    )


def series_values(
    hours: Sequence[HourlyAggregate], before: HourlyAggregate | None = None
) -> list[HourValues]:
    """:func:`hour_values` over consecutive aggregates (``before``: the hour preceding the first)."""
    out = []
    previous = before
    for current in hours:
        out.append(hour_values(previous, current))
        previous = current
    return out


@dataclass(frozen=True)
class Baseline:
    """A signal's normal level: ``center``, or, for a signal with a driver, the curve through
    ``knots`` (driver, typical value) interpolated at the hour's driver (its ``load`` here);
    spread ``scale`` (for a rate, the spread of an hour with ``weight`` door cycles); fitted on
    ``hours`` hours."""

    center: float
    scale: float
    knots: tuple[tuple[float, float], ...] = ()
    hours: int = 0
    weight: float = 0.0  # door cycles of a typical hour (0: values are not rates)

    def residual(self, value: float, load: float | None) -> float:
        """``value`` minus what the baseline expects at ``load``."""
        return value - self.expected(load)

    def z(self, value: float, load: float | None, weight: float | None = None) -> float:
        """The standardised residual; a rate counted over fewer cycles than usual is noisier
        (binomial: its spread grows as 1 / √cycles)."""
        spread = self.scale
        if self.weight and weight:
            spread *= math.sqrt(self.weight / weight)
        return self.residual(value, load) / spread

    def expected(self, load: float | None) -> float:
        """The expected level at ``load`` (the usual level when unknown or not load-dependent)."""
        if not self.knots or load is None:
            return self.center
        if load <= self.knots[0][0]:
            return self.knots[0][1]
        for (x0, y0), (x1, y1) in itertools.pairwise(self.knots):
            if load <= x1:
                return y0 + (y1 - y0) * (load - x0) / (x1 - x0) if x1 > x0 else y1
        return self.knots[-1][1]


def _has_history(times: Sequence[datetime]) -> bool:
    return len(times) >= MIN_BASELINE_HOURS and max(times) - min(times) >= MIN_BASELINE_SPAN


def fit_baseline(signal: Signal, history: Iterable[HourValues]) -> Baseline | None:
    """The robust baseline of ``signal`` over ``history``; None without two weeks of data."""
    points = [(h.hour, v, h.driver(signal)) for h in history if (v := h.values.get(signal)) is not None]
    if not _has_history([t for t, _, _ in points]):
        return None
    if signal is Signal.DOOR_REOPENINGS:
        return _fit_rate(signal, [h for h in history if h.values.get(signal) is not None])
    knots = _driver_curve(points) if signal in DRIVER else ()
    if knots:
        points = [p for p in points if p[2] is not None]
    base = Baseline(0.0, 1.0, knots)
    residuals = [v - base.expected(load) for _, v, load in points]
    middle = statistics.median(residuals)
    mad = statistics.median(abs(r - middle) for r in residuals)
    knots = tuple((x, y + middle) for x, y in knots)  # the curve through the middle of the residuals
    loads = [load for _, _, load in points if load is not None]
    center = Baseline(middle, 1.0, knots).expected(statistics.median(loads) if loads and knots else None)
    return Baseline(center, max(1.4826 * mad, MIN_SCALE[signal]), knots, len(points))


def _driver_curve(points: Sequence[tuple[datetime, float, float | None]]) -> tuple[tuple[float, float], ...]:
    """The typical value by driver (load or trips): the medians of driver and value in 8 bins
    of equal count, a curve that follows an effect of any shape (a motor heats with load, but
    not in a straight line) and shrugs off odd hours. Too few hours with a driver: no curve."""
    pairs = sorted((load, v) for _, v, load in points if load is not None)
    if len(pairs) < LOAD_BINS * 20:
        return ()
    size = len(pairs) / LOAD_BINS
    knots = []
    for i in range(LOAD_BINS):
        chunk = pairs[round(i * size) : round((i + 1) * size)]
        knots.append((statistics.median(p[0] for p in chunk), statistics.median(p[1] for p in chunk)))
    return tuple(knots)


def _fit_rate(signal: Signal, hours: Sequence[HourValues]) -> Baseline:
    """A rate's baseline: the pooled rate (all re-openings over all cycles: a median of hourly
    rates would sit below the mean of a skewed count) and the binomial spread of an hour of
    typical cycles, widened by the overdispersion the baseline shows (never narrowed: a MAD
    of small discrete counts would understate it)."""
    cycles = [h.door_cycles or 0.0 for h in hours]
    rates = [(h.values[signal] or 0.0) / 100 for h in hours]
    p = sum(r * c for r, c in zip(rates, cycles, strict=True)) / sum(cycles)
    p = min(max(p, 0.001), 0.999)
    squares = [min(25.0, (r - p) ** 2 * c / (p * (1 - p))) for r, c in zip(rates, cycles, strict=True)]
    dispersion = max(1.0, math.sqrt(statistics.fmean(squares)))
    typical = statistics.median(cycles)
    spread = 100 * dispersion * math.sqrt(p * (1 - p) / typical)
    return Baseline(100 * p, max(spread, MIN_SCALE[signal]), hours=len(hours), weight=typical)


def fit_traffic(history: Iterable[HourValues], zone: ZoneInfo) -> dict[int, float] | None:
    """Expected trips per local hour of week (0 = Monday 00:00), the median over the baseline
    weeks (hours seen at least twice); None without two weeks of data."""
    by_hour: dict[int, list[float]] = {}
    times = []
    for h in history:
        trips = h.values.get(Signal.TRAFFIC)
        if trips is None:
            continue
        times.append(h.hour)
        by_hour.setdefault(hour_of_week(h.hour, zone), []).append(trips)
    if not _has_history(times):
        return None
    return {how: statistics.median(v) for how, v in by_hour.items() if len(v) >= 2}


def hour_of_week(hour: datetime, zone: ZoneInfo) -> int:
    """The local hour of week of an instant (Monday 00:00 → 0); DST-aware."""
    local = hour.astimezone(zone)
    return local.weekday() * 24 + local.hour


@dataclass(frozen=True)
class DriftState:
    """An EWMA detector's memory between hours (stored in SQL per asset and signal)."""

    ewma: float = 0.0
    alarm: bool = False
    elevated_since: datetime | None = None  # onset: first hour of the current CUSUM excursion
    calm_hours: int = 0
    level: float | None = None  # the smoothed level in the signal's unit (at the typical load)
    cusum: float = 0.0
    trend: float = 0.0  # the level's smoothed slope, in the signal's unit per hour

    def shift(self, baseline: Baseline) -> float:
        """How far the smoothed level sits above the baseline, in the signal's unit."""
        return 0.0 if self.level is None else self.level - baseline.center


@dataclass(frozen=True)
class Change:
    """What one step decided: ``opened``, ``closed`` or neither (an open warning updated)."""

    opened: bool = False
    closed: bool = False


def drift_step(
    state: DriftState, signal: Signal, baseline: Baseline, value: float | None, load: float | None,
    hour: datetime, weight: float | None = None,
) -> tuple[DriftState, Change]:  # fmt: skip
    """Advance the EWMA by one hour; a missing value leaves the state as it was."""
    if value is None:
        return state, Change()
    z = max(-Z_CLIP, min(Z_CLIP, baseline.z(value, load, weight)))
    ewma = LAMBDA * z + (1 - LAMBDA) * state.ewma
    # a faster smoothing in the signal's unit, unclipped: how far it has really moved by now
    # (Holt: from where the trend says it should be now, so a ramp is followed without lag)
    speed, beta = LEVEL_LAMBDA[signal], TREND_BETA[signal]
    previous = state.shift(baseline)
    shift = speed * baseline.residual(value, load) + (1 - speed) * (previous + state.trend)
    trend = beta * (shift - previous) + (1 - beta) * state.trend if state.level is not None else 0.0
    level = baseline.center + shift
    # the onset: where the current CUSUM excursion began (the standard change-point estimate)
    cusum = max(0.0, state.cusum + z - CUSUM_K)
    elevated_since = (state.elevated_since or hour) if cusum > 0 else None
    new = replace(state, ewma=ewma, elevated_since=elevated_since, level=level, cusum=cusum, trend=trend)
    if not state.alarm:
        if ewma > OPEN_LIMIT * SIGMA_E and shift >= MIN_SHIFT[signal]:
            return replace(new, alarm=True, calm_hours=0), Change(opened=True)
        return new, Change()
    calm = state.calm_hours + 1 if ewma < CLOSE_LIMIT * SIGMA_E else 0
    if calm >= CALM_HOURS_TO_CLOSE:
        return replace(new, alarm=False, calm_hours=0), Change(closed=True)
    return replace(new, calm_hours=calm), Change()


def severity(signal: Signal, baseline: Baseline, state: DriftState) -> WatchSeverity:
    """How far the signal has moved, in multiples of its minimum shift: < 2 low, < 4 medium."""
    if signal not in MIN_SHIFT:
        return WatchSeverity.HIGH  # a stuck unit
    ratio = state.shift(baseline) / MIN_SHIFT[signal]
    if ratio < 2:
        return WatchSeverity.LOW
    return WatchSeverity.MEDIUM if ratio < 4 else WatchSeverity.HIGH


@dataclass(frozen=True)
class TrafficState:
    """The traffic rule's memory: consecutive busy hours without a trip."""

    quiet_hours: int = 0
    alarm: bool = False
    quiet_since: datetime | None = None


def traffic_step(
    state: TrafficState,
    expected: float | None,
    trips: float | None,
    hour: datetime,
    peers_quiet: bool = False,
) -> tuple[TrafficState, Change]:
    """Advance the traffic rule by one hour. ``expected`` is the hour of week's usual trips,
    ``peers_quiet`` says the site's other units made few trips too (a holiday, a closed
    building): then a quiet hour is not the unit's fault."""
    if trips is None:
        return state, Change()
    if trips > 0:
        return TrafficState(), Change(closed=state.alarm)
    if state.alarm or expected is None or expected < TRAFFIC_BUSY_TRIPS or peers_quiet:
        return state, Change()  # a quiet night neither counts nor clears
    quiet = state.quiet_hours + 1
    since = state.quiet_since or hour
    if quiet >= TRAFFIC_QUIET_HOURS:
        return TrafficState(quiet, True, since), Change(opened=True)
    return TrafficState(quiet, False, since), Change()
