"""Read models: values the pages sort, filter and count on, computed ahead of the request.

Their source of truth stays elsewhere (outage and maintenance records); the worker keeps
them fresh and pages fall back to computing from the source when a row is missing or older
than they accept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from fleet.db import Base


class AssetAvailability(Base):
    """An asset's rolling 30- and 90-day availability as of ``computed_at`` (see
    :func:`portal.kpi.availability`: percent is null when the whole window was maintenance)."""

    __tablename__ = "asset_availability"

    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    computed_at: Mapped[datetime]
    percent_30d: Mapped[float | None]
    downtime_30d_s: Mapped[float]
    maintenance_30d_s: Mapped[float]
    outages_30d: Mapped[int]
    percent_90d: Mapped[float | None]
    downtime_90d_s: Mapped[float]
    maintenance_90d_s: Mapped[float]
    outages_90d: Mapped[int]
