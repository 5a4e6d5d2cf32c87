"""vibration baselines are curves by trips per hour, no longer by load

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 16:50:00

A stored vibration curve has load (%) on its x axis; the detector now reads it at the
hour's trips. Each vibration baseline keeps its centre and spread but drops its curve (a
flat baseline at the typical level, still valid), and is refitted by trips at the next pass
(a monitor under a warning keeps measuring against its baseline until the warning ends).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    monitors = sa.table(
        "signal_monitors",
        sa.column("signal", sa.String),
        sa.column("knots", sa.JSON),
        sa.column("fitted_at", sa.DateTime),
        sa.column("alarm", sa.Boolean),
    )
    vibration = monitors.c.signal == "vibration"
    op.execute(monitors.update().where(vibration).values(knots=sa.null()))
    op.execute(monitors.update().where(vibration, monitors.c.alarm.is_(False)).values(fitted_at=None))


def downgrade() -> None:
    # the curves by trips mean nothing by load: drop them the same way for the older code
    upgrade()
