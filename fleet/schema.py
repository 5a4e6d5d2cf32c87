"""Schema management through Alembic: upgrade, and compare migrations with the models."""

from __future__ import annotations

import logging
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine

import fleet.models  # noqa: F401  (registers every table)
from config import ROOT
from fleet.db import Base, make_engine

logger = logging.getLogger(__name__)


def alembic_config(url: str) -> Config:
    """An Alembic config bound to ``url``, independent of the working directory."""
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "fleet" / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _run(url: str, action: str, revision: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            getattr(command, action)(cfg, revision)
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` to ``revision`` (head by default)."""
    logger.info("upgrading database schema to %s", revision)
    _run(url, "upgrade", revision)


def downgrade(url: str, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision``."""
    _run(url, "downgrade", revision)


def model_drift(engine: Engine) -> list[Any]:
    """Differences between the migrated database and the models (empty when in sync)."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, Base.metadata))
