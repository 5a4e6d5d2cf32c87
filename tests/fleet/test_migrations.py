"""Alembic migrations: upgrade, downgrade and re-upgrade, and no drift from the models."""

from __future__ import annotations

from sqlalchemy import inspect

from fleet.db import Base, make_engine
from fleet.schema import downgrade, model_drift, upgrade


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
