"""Alembic migrations: upgrade, downgrade and re-upgrade, and no drift from the models."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import inspect, select

from fleet.db import Base, Database, make_engine
from fleet.models.condition import Signal, SignalMonitor
from fleet.schema import downgrade, model_drift, upgrade
from tests.fleet.conftest import add_assets


def test_migrations_match_models_and_round_trip(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        assert model_drift(engine) == []
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        downgrade(empty_db_url, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(empty_db_url)
        upgrade(empty_db_url)  # idempotent
        assert model_drift(engine) == []
    finally:
        engine.dispose()


def test_vibration_curves_by_load_are_dropped_and_refitted(empty_db_url: str) -> None:
    """0019: a stored vibration curve (by load) is dropped, the centre and spread stay, and
    the baseline is refitted at the next pass unless a warning is open; other signals keep
    theirs."""
    upgrade(empty_db_url, "0018")
    fitted = datetime(2026, 11, 30, tzinfo=UTC)
    curve = [[0.0, 0.9], [20.0, 1.4]]
    database = Database(empty_db_url)
    try:
        ids = add_assets(database, ["U1", "U2"])
        with database.session() as s:
            for unit, alarm in zip(ids.values(), (False, True), strict=True):
                for signal in (Signal.VIBRATION, Signal.MOTOR_TEMPERATURE):
                    monitor = SignalMonitor(asset_id=unit, signal=signal, fitted_at=fitted, alarm=alarm)
                    monitor.center, monitor.scale, monitor.knots = 1.2, 0.1, curve
                    s.add(monitor)
            s.commit()
        alarmed_unit = ids["U2"]
        upgrade(empty_db_url)
        with database.session() as s:
            rows = {(m.asset_id == alarmed_unit, m.signal): m for m in s.scalars(select(SignalMonitor))}
        for alarm in (False, True):
            vibration = rows[(alarm, Signal.VIBRATION)]
            assert vibration.knots is None
            assert (vibration.center, vibration.scale) == (1.2, 0.1)
            assert (vibration.fitted_at is None) is not alarm  # refitted now, unless under a warning
            motor = rows[(alarm, Signal.MOTOR_TEMPERATURE)]
            assert motor.knots == curve
            assert motor.fitted_at is not None
    finally:
        database.dispose()
