"""The detectors on series with known answers: steps, ramps, noise only, a weekly traffic
pattern with a holiday, a counter reset, missing hours, too little history."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fleet.models.condition import Signal, WatchSeverity
from portal.condition import detectors as d

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
PARIS = ZoneInfo("Europe/Paris")
H = timedelta(hours=1)


def _hours(
    values: list[float | None], signal: Signal, start: datetime = T0, load: float = 20.0
) -> list[d.HourValues]:
    return [d.HourValues(start + i * H, load, {signal: v}) for i, v in enumerate(values)]


def _noise(rng: random.Random, n: int, mean: float, sd: float) -> list[float | None]:
    return [rng.gauss(mean, sd) for _ in range(n)]


def _run(
    signal: Signal, baseline: d.Baseline, values: list[float | None], start: datetime
) -> list[tuple[datetime, d.Change]]:
    state = d.DriftState()
    changes = []
    for i, value in enumerate(values):
        state, change = d.drift_step(state, signal, baseline, value, 20.0, start + i * H)
        if change.opened or change.closed:
            changes.append((start + i * H, change))
    return changes


def test_less_than_two_weeks_of_history_gives_no_baseline() -> None:
    rng = random.Random(1)
    short = _hours(_noise(rng, 13 * 24, 1.2, 0.3), Signal.LEVELING)
    assert d.fit_baseline(Signal.LEVELING, short) is None
    enough = _hours(_noise(rng, 15 * 24, 1.2, 0.3), Signal.LEVELING)
    baseline = d.fit_baseline(Signal.LEVELING, enough)
    assert baseline is not None
    assert baseline.center == pytest.approx(1.2, abs=0.05)
    assert baseline.scale == pytest.approx(0.3, rel=0.15)  # 1.4826 × MAD estimates σ


def test_steady_noise_never_warns() -> None:
    """The no-warning bound: 50 units × 60 days of Gaussian noise around the baseline."""
    opened = 0
    for seed in range(50):
        rng = random.Random(seed)
        history = _hours(_noise(rng, 28 * 24, 1.2, 0.3), Signal.LEVELING)
        baseline = d.fit_baseline(Signal.LEVELING, history)
        assert baseline is not None
        changes = _run(Signal.LEVELING, baseline, _noise(rng, 60 * 24, 1.2, 0.3), T0 + 28 * 24 * H)
        opened += sum(c.opened for _, c in changes)
    assert opened == 0


def test_a_step_opens_a_warning_within_a_day_and_its_return_closes_it_after_the_calm_hours() -> None:
    rng = random.Random(3)
    baseline = d.Baseline(center=1.2, scale=0.3)
    values = _noise(rng, 48, 1.2, 0.3) + _noise(rng, 48, 2.4, 0.3) + _noise(rng, 96, 1.2, 0.3)
    changes = _run(Signal.LEVELING, baseline, values, T0)
    opened = [t for t, c in changes if c.opened]
    closed = [t for t, c in changes if c.closed]
    assert len(opened) == 1
    assert len(closed) == 1
    assert T0 + 48 * H < opened[0] <= T0 + 72 * H
    # closes only after the EWMA has decayed and stayed under σₑ for 12 hours
    assert closed[0] >= T0 + (96 + d.CALM_HOURS_TO_CLOSE) * H


def test_a_slow_ramp_is_caught_and_its_start_is_dated_before_the_warning() -> None:
    rng = random.Random(4)
    baseline = d.Baseline(center=40.0, scale=1.5)
    ramp = [40 + rng.gauss(0, 1.5) + max(0, i - 24) * 0.2 for i in range(24 * 5)]  # +4.8 °C a day
    state = d.DriftState()
    opened_at = None
    for i, value in enumerate(ramp):
        state, change = d.drift_step(state, Signal.MOTOR_TEMPERATURE, baseline, value, 20.0, T0 + i * H)
        if change.opened:
            opened_at = T0 + i * H
            break
    assert opened_at is not None
    assert opened_at < T0 + 72 * H
    assert state.elevated_since is not None
    assert state.elevated_since < opened_at
    assert state.level is not None
    assert state.level > 40 + d.MIN_SHIFT[Signal.MOTOR_TEMPERATURE]


def test_a_ramp_is_warned_sooner_than_the_slow_smoothing_allowed() -> None:
    """The level in °C follows a ramp with about 9 hours' lag (λ 0.1), not 19 (λ 0.05): a
    motor heating 0.2 °C an hour from hour 24 is 4.5 °C up at hour 46.5."""
    for seed in range(10):
        rng = random.Random(seed)
        baseline = d.Baseline(center=40.0, scale=1.5)
        state = d.DriftState()
        opened_at = None
        for i in range(24 * 5):
            value = 40 + rng.gauss(0, 1.5) + max(0, i - 24) * 0.2
            state, change = d.drift_step(state, Signal.MOTOR_TEMPERATURE, baseline, value, None, T0 + i * H)
            if change.opened:
                opened_at = T0 + i * H
                break
        assert opened_at is not None
        assert opened_at - (T0 + 46.5 * H) < 15 * H, seed  # λ 0.05 took 15.5–19.5 h


def test_a_shift_too_small_to_matter_does_not_warn_however_steady() -> None:
    baseline = d.Baseline(center=1.2, scale=0.05)  # a very quiet signal
    values: list[float | None] = [1.2 + 0.3] * 200  # 6 σ, but below the 0.5 mm worth a visit
    assert _run(Signal.LEVELING, baseline, values, T0) == []


def test_hysteresis_a_signal_hovering_at_the_limit_opens_once() -> None:
    baseline = d.Baseline(center=0.0, scale=1.0)
    limit = d.OPEN_LIMIT * d.SIGMA_E
    state = d.DriftState(ewma=limit * 1.01, alarm=True, level=0.0)
    opened = closed = 0
    for i in range(500):  # alternate just above and just below the opening limit
        value = limit * (1.3 if i % 2 else 0.7)
        state, change = d.drift_step(state, Signal.MOTOR_TEMPERATURE, baseline, value + 3.0, None, T0 + i * H)
        opened += change.opened
        closed += change.closed
    assert (opened, closed) == (0, 0)


def test_missing_hours_leave_the_detector_as_it_was() -> None:
    baseline = d.Baseline(center=1.2, scale=0.3)
    state = d.DriftState(ewma=0.5, elevated_since=T0)
    after, change = d.drift_step(state, Signal.LEVELING, baseline, None, None, T0 + H)
    assert after == state
    assert change == d.Change()


def test_severity_grows_with_the_shift() -> None:
    baseline = d.Baseline(center=0.0, scale=1.0)
    shift = d.MIN_SHIFT[Signal.MOTOR_TEMPERATURE]
    assert d.severity(Signal.MOTOR_TEMPERATURE, baseline, d.DriftState(level=shift)) is WatchSeverity.LOW
    assert (
        d.severity(Signal.MOTOR_TEMPERATURE, baseline, d.DriftState(level=3 * shift)) is WatchSeverity.MEDIUM
    )
    assert d.severity(Signal.MOTOR_TEMPERATURE, baseline, d.DriftState(level=5 * shift)) is WatchSeverity.HIGH


def test_motor_temperature_is_judged_against_the_load_whatever_the_curve() -> None:
    """A hot motor under heavy load is normal; the same temperature when idle is not. The
    load effect need not be a straight line (here it flattens at high load)."""
    rng = random.Random(5)
    history = []
    for i in range(24 * 20):
        load = rng.uniform(0, 60)
        temp = 30 + 25 * (load / 60) ** 0.5 + rng.gauss(0, 0.5)
        history.append(d.HourValues(T0 + i * H, load, {Signal.MOTOR_TEMPERATURE: temp}))
    baseline = d.fit_baseline(Signal.MOTOR_TEMPERATURE, history)
    assert baseline is not None
    assert len(baseline.knots) == d.LOAD_BINS
    for load in (5, 15, 30, 45, 55):
        assert baseline.residual(30 + 25 * (load / 60) ** 0.5, load) == pytest.approx(0.0, abs=0.8)
    assert baseline.residual(55.0, 2.0) > 15  # that hot when idle: a problem
    assert baseline.expected(None) == pytest.approx(30 + 25 * 0.5**0.5, abs=1.0)  # at the typical load


def test_vibration_is_judged_against_the_trips_made_not_the_sampled_load() -> None:
    """A car vibrates while it runs: an hour of many trips vibrates more, whatever the load
    sensor happened to read (sampled every few minutes, mostly 0 between trips). A busy hour's
    vibration is normal; the same vibration in an hour without trips is not."""
    rng = random.Random(8)
    aggregates, trips = [], 0.0
    for i in range(24 * 20):
        made = rng.choice([0, 0, 10, 40, 80, 120])
        trips += made
        sampled_load = rng.choice([0.0, 0.0, 0.0, rng.uniform(0, 40)])  # unrelated to the trips
        vibration = 0.8 + 0.015 * made + rng.gauss(0, 0.1)
        aggregates.append(
            d.HourlyAggregate(T0 + i * H, trips=trips, load_pct=sampled_load, vibration_mm_s=vibration)
        )
    hours = d.series_values(aggregates)
    baseline = d.fit_baseline(Signal.VIBRATION, hours)
    assert baseline is not None
    assert len(baseline.knots) == d.LOAD_BINS
    busy = next(h for h in hours if h.values[Signal.TRAFFIC] == 120)
    assert busy.driver(Signal.VIBRATION) == 120
    assert busy.driver(Signal.MOTOR_TEMPERATURE) == busy.load  # the motor keeps its load
    assert busy.driver(Signal.LEVELING) is None
    assert baseline.residual(0.8 + 0.015 * 120, 120) == pytest.approx(0.0, abs=0.15)
    assert baseline.z(0.8 + 0.015 * 120, 0) > 10  # that much vibration standing still: a problem
    assert baseline.scale < 0.2  # the trips explain the spread; the sampled load would not


def test_a_counter_reset_is_an_unknown_hour_not_a_huge_one() -> None:
    before = d.HourlyAggregate(T0, trips=1_000_000, door_cycles=2_000_000, door_reopenings=60_000)
    after_reboot = d.HourlyAggregate(T0 + H, trips=40, door_cycles=80, door_reopenings=2)
    values = d.hour_values(before, after_reboot)
    assert values.values[Signal.TRAFFIC] is None
    assert values.values[Signal.DOOR_REOPENINGS] is None
    assert d.counter_increase(5, 9) == 4
    assert d.counter_increase(9, 5) is None
    assert d.counter_increase(None, 5) is None


def test_counters_across_a_missing_hour_are_not_one_hour_s_increase() -> None:
    first = d.HourlyAggregate(T0, trips=100, door_cycles=200, door_reopenings=6)
    two_hours_later = d.HourlyAggregate(T0 + 2 * H, trips=300, door_cycles=600, door_reopenings=18)
    assert d.hour_values(first, two_hours_later).values[Signal.TRAFFIC] is None
    next_hour = d.HourlyAggregate(T0 + 3 * H, trips=350, door_cycles=700, door_reopenings=21)
    hv = d.hour_values(two_hours_later, next_hour)
    assert hv.values[Signal.TRAFFIC] == 50
    assert hv.values[Signal.DOOR_REOPENINGS] == pytest.approx(3.0)
    assert hv.door_cycles == 100


def test_door_reopenings_baseline_is_the_pooled_rate_weighted_by_cycles() -> None:
    rng = random.Random(6)
    history = []
    for i in range(24 * 20):
        cycles = 20 + rng.randrange(200)
        reopenings = sum(rng.random() < 0.03 for _ in range(cycles))
        history.append(
            d.HourValues(
                T0 + i * H, None, {Signal.DOOR_REOPENINGS: 100 * reopenings / cycles}, door_cycles=cycles
            )
        )
    baseline = d.fit_baseline(Signal.DOOR_REOPENINGS, history)
    assert baseline is not None
    assert baseline.center == pytest.approx(3.0, abs=0.2)
    # an hour of few cycles is noisier: the same excess weighs less
    assert baseline.z(6.0, None, 25) < baseline.z(6.0, None, 200)


def _traffic_week(rng: random.Random, start: datetime, factor: float = 1.0) -> list[d.HourValues]:
    out = []
    for i in range(7 * 24):
        hour = start + i * H
        local = hour.astimezone(PARIS)
        busy = local.weekday() < 5 and 8 <= local.hour < 19
        trips = rng.gauss(120, 10) * factor if busy else rng.gauss(4, 1)
        out.append(d.HourValues(hour, None, {Signal.TRAFFIC: max(0.0, round(trips))}))
    return out


def test_traffic_pattern_learns_the_week_and_a_stuck_unit_warns_after_three_busy_hours() -> None:
    rng = random.Random(7)
    history = [h for week in range(3) for h in _traffic_week(rng, T0 + week * 7 * 24 * H)]
    pattern = d.fit_traffic(history, PARIS)
    assert pattern is not None
    monday_10 = d.hour_of_week(datetime(2026, 3, 23, 9, tzinfo=UTC), PARIS)  # 10:00 in Paris
    assert pattern[monday_10] == pytest.approx(120, abs=15)
    state = d.TrafficState()
    opened_at = None
    for i in range(8):
        hour = datetime(2026, 3, 23, 8, tzinfo=UTC) + i * H
        state, change = d.traffic_step(state, pattern.get(d.hour_of_week(hour, PARIS)), 0.0, hour)
        if change.opened:
            opened_at = hour
    assert opened_at == datetime(2026, 3, 23, 10, tzinfo=UTC)
    assert state.quiet_since == datetime(2026, 3, 23, 8, tzinfo=UTC)
    state, change = d.traffic_step(state, 120.0, 35.0, opened_at + 6 * H)
    assert change.closed
    assert not state.alarm


def test_a_holiday_with_little_traffic_does_not_warn_and_quiet_peers_excuse_a_silent_one() -> None:
    rng = random.Random(8)
    history = [h for week in range(3) for h in _traffic_week(rng, T0 + week * 7 * 24 * H)]
    pattern = d.fit_traffic(history, PARIS)
    assert pattern is not None
    holiday = _traffic_week(rng, T0 + 3 * 7 * 24 * H, factor=0.05)  # a week of holidays: 5 % of the traffic
    state = d.TrafficState()
    for hv in holiday:
        state, change = d.traffic_step(
            state, pattern.get(d.hour_of_week(hv.hour, PARIS)), hv.values[Signal.TRAFFIC], hv.hour
        )
        assert not change.opened
    for i in range(6):  # the building is closed: every unit is quiet, so this one is not suspect
        hour = datetime(2026, 3, 30, 8, tzinfo=UTC) + i * H
        state, change = d.traffic_step(state, 120.0, 0.0, hour, peers_quiet=True)
        assert not change.opened


def test_quiet_nights_neither_count_nor_clear_a_stuck_unit() -> None:
    state = d.TrafficState()
    state, _ = d.traffic_step(state, 100.0, 0.0, T0 + 17 * H)
    state, _ = d.traffic_step(state, 100.0, 0.0, T0 + 18 * H)
    state, _ = d.traffic_step(state, 2.0, 0.0, T0 + 19 * H)  # a quiet hour anyway
    assert state.quiet_hours == 2
    state, change = d.traffic_step(state, 100.0, 0.0, T0 + 32 * H)
    assert change.opened


def test_hour_of_week_follows_daylight_saving_time() -> None:
    before = datetime(2026, 3, 28, 8, tzinfo=UTC)  # Saturday 09:00 CET
    after = datetime(2026, 3, 30, 7, tzinfo=UTC)  # Monday 09:00 CEST
    assert d.hour_of_week(before, PARIS) == 5 * 24 + 9
    assert d.hour_of_week(after, PARIS) == 9


def test_the_trend_lets_the_level_keep_up_with_a_ramp() -> None:
    """Holt's level (levelling error) follows a steady ramp without lag; the plain level
    (motor temperature) trails it by (1 − λ) / λ hours' worth of slope."""
    slope = 0.02  # per hour
    hours = 300
    levels = {}
    for signal in (Signal.LEVELING, Signal.MOTOR_TEMPERATURE):
        baseline = d.Baseline(center=1.0, scale=10.0)  # a wide scale: the warning stays shut
        state = d.DriftState()
        for i in range(hours):
            state, _ = d.drift_step(state, signal, baseline, 1.0 + slope * i, None, T0 + i * H)
        levels[signal] = state.shift(baseline)
        if signal is Signal.LEVELING:
            assert state.trend == pytest.approx(slope, rel=0.05)
    truth = slope * (hours - 1)
    assert levels[Signal.LEVELING] == pytest.approx(truth, abs=0.1 * slope)
    lag = (1 - d.LEVEL_LAMBDA[Signal.MOTOR_TEMPERATURE]) / d.LEVEL_LAMBDA[Signal.MOTOR_TEMPERATURE]
    assert levels[Signal.MOTOR_TEMPERATURE] == pytest.approx(truth - lag * slope, abs=0.1 * slope)


def test_on_steady_noise_the_trend_stays_near_zero() -> None:
    rng = random.Random(8)
    baseline = d.Baseline(center=1.0, scale=0.12)
    state = d.DriftState()
    slopes = []
    for i in range(30 * 24):
        state, change = d.drift_step(
            state, Signal.VIBRATION, baseline, rng.gauss(1.0, 0.12), None, T0 + i * H
        )
        assert not change.opened
        slopes.append(abs(state.trend))
    # noise alone never makes a slope worth half a visit's shift a day, and on average a tenth
    assert max(slopes) * 24 < 0.5 * d.MIN_SHIFT[Signal.VIBRATION]
    assert sum(slopes) / len(slopes) * 24 < 0.1 * d.MIN_SHIFT[Signal.VIBRATION]
