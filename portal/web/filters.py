"""Jinja filters: status labels, durations, ages, percentages (all localised)."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.numbers import get_decimal_symbol
from flask import Flask
from flask_babel import gettext, lazy_gettext, ngettext
from flask_login import current_user

from fleet.models import Age
from portal import access, labels
from portal.i18n import locale_code

STATE_LABELS = {
    "in_service": lazy_gettext("Working"),
    "out_of_service": lazy_gettext("Out of service"),
    "maintenance": lazy_gettext("Under maintenance"),
    "degraded": lazy_gettext("Working, degraded"),
    "offline": lazy_gettext("No signal"),
    "unknown": lazy_gettext("Unknown"),
}
KIND_LABELS = {k: lazy_gettext(v) for k, v in labels.KINDS.items()}
VISIT_KIND_LABELS = {k: lazy_gettext(v) for k, v in labels.VISIT_KINDS.items()}

FAULT_LABELS = {k: lazy_gettext(v) for k, v in labels.FAULTS.items()}
FEEDBACK_STATUS_LABELS = {
    "new": lazy_gettext("New"),
    "acknowledged": lazy_gettext("Acknowledged"),
    "in_progress": lazy_gettext("In progress"),
    "resolved": lazy_gettext("Resolved"),
}
FEEDBACK_CATEGORY_LABELS = {
    "breakdown": lazy_gettext("Breakdown"),
    "noise": lazy_gettext("Noise"),
    "doors": lazy_gettext("Doors"),
    "speed": lazy_gettext("Speed"),
    "cleanliness": lazy_gettext("Cleanliness"),
    "waiting_time": lazy_gettext("Waiting time"),
    "staff": lazy_gettext("Staff"),
    "other": lazy_gettext("Other"),
}
AUDIENCE_LABELS = {k: lazy_gettext(v) for k, v in labels.AUDIENCES.items()}
TOPIC_LABELS = {
    "doors": lazy_gettext("doors"),
    "breakdown": lazy_gettext("breakdown"),
    "entrapment": lazy_gettext("someone trapped"),
    "noise": lazy_gettext("noise"),
    "vibration": lazy_gettext("vibration"),
    "leveling": lazy_gettext("levelling"),
    "speed": lazy_gettext("speed"),
    "waiting_time": lazy_gettext("waiting time"),
    "cleanliness": lazy_gettext("cleanliness"),
    "lighting": lazy_gettext("lighting"),
    "buttons": lazy_gettext("buttons and displays"),
    "staff": lazy_gettext("staff"),
    "temperature": lazy_gettext("temperature"),
}
RELATION_LABELS = {
    "none": lazy_gettext("no clear relationship"),
    "weak_positive": lazy_gettext("weak: higher availability, better answers"),
    "moderate_positive": lazy_gettext("moderate: higher availability, better answers"),
    "strong_positive": lazy_gettext("strong: higher availability, better answers"),
    "weak_negative": lazy_gettext("weak, in the unexpected direction"),
    "moderate_negative": lazy_gettext("moderate, in the unexpected direction"),
    "strong_negative": lazy_gettext("strong, in the unexpected direction"),
    "unknown": lazy_gettext("not enough answers"),
}
FOLLOW_UP_STATUS_LABELS = {
    "open": lazy_gettext("Open"),
    "in_progress": lazy_gettext("In progress"),
    "closed": lazy_gettext("Closed"),
}
MOMENT_LABELS = {
    "outage_closed": lazy_gettext("after an outage"),
    "visit_completed": lazy_gettext("after a maintenance visit"),
    "feedback_resolved": lazy_gettext("after their feedback was resolved"),
    "periodic": lazy_gettext("periodic (NPS)"),
}
SIGNAL_LABELS = {k: lazy_gettext(v) for k, v in labels.SIGNALS.items()}
SIGNAL_PLAIN_LABELS = {k: lazy_gettext(v) for k, v in labels.SIGNAL_PLAIN.items()}
SIGNAL_UNIT_LABELS = {k: lazy_gettext(v) for k, v in labels.SIGNAL_UNITS.items()}
WATCH_STATUS_LABELS = {k: lazy_gettext(v) for k, v in labels.WATCH_STATUSES.items()}
SEVERITY_LABELS = {k: lazy_gettext(v) for k, v in labels.SEVERITIES.items()}
FINDING_LABELS = {k: lazy_gettext(v) for k, v in labels.FINDINGS.items()}
DISMISS_REASON_LABELS = {k: lazy_gettext(v) for k, v in labels.DISMISS_REASONS.items()}
HEALTH_FACTOR_LABELS = {k: lazy_gettext(v) for k, v in labels.HEALTH_FACTORS.items()}
EVENT_LABELS = {
    "outage_opened": lazy_gettext("An outage starts on my equipment"),
    "outage_closed": lazy_gettext("My equipment is back in service"),
    "visit_scheduled": lazy_gettext("A maintenance visit is planned"),
    "report_available": lazy_gettext("A visit report is available"),
    "feedback_reply": lazy_gettext("Someone replies to my feedback"),
    "meet_request": lazy_gettext("Someone asks to meet me at a visit"),
    "monthly_report": lazy_gettext("Last month's service report is ready (by e-mail: with the PDF)"),
    "sensor_warning": lazy_gettext("The sensors warn of a unit drifting before it fails"),
}

# Plain-words sentences ({name}: the asset's name, {time}: when it started, site time).
STATUS_SENTENCES = {
    "in_service": lazy_gettext("{name} is working."),
    "out_of_service": lazy_gettext("{name} is out of service since {time}."),
    "maintenance": lazy_gettext("{name} is being serviced by a technician since {time}."),
    "degraded": lazy_gettext("{name} is working; a fault is being watched since {time}."),
    "offline": lazy_gettext("No signal from {name} since {time}; we are checking."),
    "unknown": lazy_gettext("The status of {name} is not known yet."),
}


@lru_cache(maxsize=1024)
def _label(locale: str, table: str, key: str) -> str | None:  # noqa: ARG001 - the cache key
    """A label translated once per locale (computed in a request of that locale)."""
    label = _TABLES[table].get(key)
    return None if label is None else str(label)


def _translated(table: str, key: str) -> str | None:
    return _label(locale_code(), table, key)


_TABLES = {
    "state": STATE_LABELS, "kind": KIND_LABELS, "visit": VISIT_KIND_LABELS, "fault": FAULT_LABELS,
    "feedback_status": FEEDBACK_STATUS_LABELS, "feedback_category": FEEDBACK_CATEGORY_LABELS,
    "audience": AUDIENCE_LABELS, "topic": TOPIC_LABELS, "relation": RELATION_LABELS,
    "follow_up_status": FOLLOW_UP_STATUS_LABELS, "moment": MOMENT_LABELS, "event": EVENT_LABELS,
    "signal": SIGNAL_LABELS, "signal_plain": SIGNAL_PLAIN_LABELS, "signal_unit": SIGNAL_UNIT_LABELS,
    "watch_status": WATCH_STATUS_LABELS,
    "severity": SEVERITY_LABELS, "finding": FINDING_LABELS, "dismiss_reason": DISMISS_REASON_LABELS,
    "health_factor": HEALTH_FACTOR_LABELS,
}  # fmt: skip


def _labelled(table: str, key: str | None) -> str:
    if not key:
        return ""
    label = _translated(table, key)
    return label if label is not None else key.replace("_", " ")


def relation_label(strength: str) -> str:
    """How strongly answers move with availability, in words."""
    return _labelled("relation", strength)


def follow_up_status_label(status: str) -> str:
    """Open / In progress / Closed."""
    return _labelled("follow_up_status", status)


def moment_label(moment: str) -> str:
    """Why a survey question was asked."""
    return _labelled("moment", moment)


def event_label(event: str) -> str:
    """A notification event type, in words."""
    return _labelled("event", event)


def health_reason(factor: str, value: float) -> str:
    """A health score's reason in words ("0.7 breakdowns per unit in 30 days")."""
    template = labels.HEALTH_REASONS.get(factor)
    if template is None:
        return factor.replace("_", " ")
    digits = 0 if factor in ("open_feedback_days", "unanswered_feedback") else 1
    return str(gettext(template)).replace("{value}", number(value, digits))


def health_factor_label(factor: str) -> str:
    """A health factor's (or a service lever's) name (``Breakdowns per unit``)."""
    return _labelled("health_factor", factor)


def outreach_channel_label(channel: str) -> str:
    """Call / E-mail / Meet at the next visit."""
    text = labels.OUTREACH_CHANNELS.get(channel)
    return str(gettext(text)) if text else channel


def signal_label(signal: str) -> str:
    """A watched signal's name (``Door re-openings``)."""
    return _labelled("signal", signal)


def signal_plain(signal: str) -> str:
    """What a warning's signal means, for facility managers and HOA presidents."""
    return _labelled("signal_plain", signal)


def signal_unit(signal: str) -> str:
    """A watched signal's unit (``per 100 door cycles``)."""
    return _labelled("signal_unit", signal)


def watch_status_label(status: str) -> str:
    """Open / Confirmed / Dismissed / Back to normal / Followed by an outage."""
    return _labelled("watch_status", status)


def severity_label(severity: str) -> str:
    """Low / Medium / High."""
    return _labelled("severity", severity)


def finding_label(code: str | None) -> str:
    """What a technician found behind a warning."""
    return _labelled("finding", code)


def dismiss_reason_label(code: str | None) -> str:
    """Why a warning was dismissed."""
    return _labelled("dismiss_reason", code)


def number(value: float | None, digits: int = 1) -> str:
    """A decimal number with the locale's separator (``4.2`` / ``4,2``)."""
    if value is None:
        return "—"
    return f"{value:.{digits}f}".replace(".", _decimal_symbol(locale_code()))


def feedback_status_label(status: str) -> str:
    """``In progress`` / ``En cours``."""
    return _labelled("feedback_status", status)


def feedback_category_label(category: str | None) -> str:
    """``Waiting time`` / ``Temps d'attente``."""
    return _labelled("feedback_category", category)


def audience_label(audience: str) -> str:
    """``HOA president`` / ``Président du conseil syndical``."""
    return _labelled("audience", audience)


def topic_label(topic: str) -> str:
    """A topic tag in plain words."""
    return _labelled("topic", topic)


def fault_label(code: str | None) -> str:
    """A fault code in plain words (``door_lock`` → ``door lock``)."""
    if not code:
        return ""
    label = _translated("fault", code)
    return label if label is not None else code.replace("_", " ")


def status_sentence(state: str, name: str, time: str) -> str:
    """``Elevator B is out of service since 14:05.`` in the page's language."""
    template = str(STATUS_SENTENCES.get(state, STATUS_SENTENCES["unknown"]))
    return template.replace("{name}", name).replace("{time}", time)


def state_label(state: str) -> str:
    """A plain-words label for an operating state value."""
    label = _translated("state", state)
    return label if label is not None else state.replace("_", " ").capitalize()


def kind_label(kind: str) -> str:
    """``Elevator`` / ``Ascenseur``."""
    label = _translated("kind", kind)
    return label if label is not None else kind.capitalize()


def visit_kind_label(kind: str) -> str:
    """What a visit is for, in plain words."""
    label = _translated("visit", kind)
    return label if label is not None else kind.capitalize()


def duration(delta: timedelta) -> str:
    """``2 d 3 h``, ``3 h 05 min`` or ``12 min`` (``2 j 3 h`` in French)."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return gettext("%(days)d d %(hours)d h", days=days, hours=hours)
    if hours:
        return gettext("%(hours)d h %(minutes)02d min", hours=hours, minutes=mins)
    return gettext("%(minutes)d min", minutes=mins)


def age(value: Age) -> str:
    """``12 years 4 months`` / ``12 ans 4 mois``."""
    years = ngettext("%(num)d year", "%(num)d years", value.years)
    if not value.months:
        return years
    return years + " " + ngettext("%(num)d month", "%(num)d months", value.months)


def local_time(value: datetime | None, tz: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A timestamp in a site's time zone with a fixed strftime pattern (machine-readable uses)."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(tz)).strftime(fmt)


def percent(value: float | None, digits: int = 2) -> str:
    """``99.82 %`` / ``99,82 %``, or ``n/a`` when undefined (whole period under maintenance)."""
    if value is None:
        return gettext("n/a")
    number = f"{value:.{digits}f}"  # plain digits: no grouping below 1000, so only the separator varies
    return number.replace(".", _decimal_symbol(locale_code())) + "\u202f%"


@lru_cache(maxsize=16)
def _decimal_symbol(locale: str) -> str:
    return str(get_decimal_symbol(locale))


def can_user(rule: str) -> bool:
    """Template helper ``can('rule')``: may the signed-in user do what the named rule of
    :mod:`portal.access` allows? (Anonymous visitors may do nothing.)"""
    return access.can(current_user._get_current_object(), rule)


def register(app: Flask) -> None:
    """Install the filters on ``app``."""
    for f in (state_label, kind_label, visit_kind_label, fault_label, duration, age, local_time, percent,
              feedback_status_label, feedback_category_label, audience_label, topic_label, relation_label,
              follow_up_status_label, moment_label, number, event_label, signal_label, signal_unit,
              signal_plain, watch_status_label, severity_label, finding_label,
              dismiss_reason_label, outreach_channel_label, health_factor_label):  # fmt: skip
        app.add_template_filter(f)
    app.add_template_global(status_sentence)
    app.add_template_global(health_reason)
    app.add_template_global(can_user, "can")
