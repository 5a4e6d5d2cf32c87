"""answer availability: the stored availability over the 30 days before each survey answer
(the satisfaction dashboard's drivers); empty at first, the worker fills it.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 16:57:55.301132
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import fleet.db


revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('answer_availability',
    sa.Column('response_id', sa.Integer(), nullable=False),
    sa.Column('computed_at', fleet.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('percent', sa.Double(), nullable=True),
    sa.ForeignKeyConstraint(['response_id'], ['survey_responses.id'], name=op.f('fk_answer_availability_response_id_survey_responses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('response_id', name=op.f('pk_answer_availability'))
    )


def downgrade() -> None:
    op.drop_table('answer_availability')
