"""Jinja filters: durations, ages, local times, status labels."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask

from portal.models import Age

STATE_LABELS = {
    "in_service": "Working",
    "out_of_service": "Out of service",
    "maintenance": "Under maintenance",
    "degraded": "Working, degraded",
    "offline": "No signal",
    "unknown": "Unknown",
}


def state_label(state: str) -> str:
    """A plain-words label for an operating state value."""
    return STATE_LABELS.get(state, state.replace("_", " ").capitalize())


def duration(delta: timedelta) -> str:
    """``2 d 3 h``, ``3 h 05 min`` or ``12 min``."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins:02d} min"
    return f"{mins} min"


def age(value: Age) -> str:
    """``12 y 4 m``."""
    return f"{value.years} y {value.months} m"


def local_time(value: datetime | None, tz: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A timestamp shown in a site's time zone."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(tz)).strftime(fmt)


def percent(value: float | None) -> str:
    """``99.82 %``, or ``n/a`` when undefined (whole period under maintenance)."""
    return "n/a" if value is None else f"{value:.2f} %"


def register(app: Flask) -> None:
    """Install the filters on ``app``."""
    app.add_template_filter(state_label)
    app.add_template_filter(duration)
    app.add_template_filter(age)
    app.add_template_filter(local_time)
    app.add_template_filter(percent)
