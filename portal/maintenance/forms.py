"""The maintenance plan form and the check-out report, validated field by field with WTForms.

A plain ``wtforms.Form`` (CSRF is checked app-wide by Flask-WTF before the view runs), so
the service that uses it stays free of the request. Every field is checked, and a refused
form lists every problem at once, each next to its field, with what was typed kept.
Shared pieces (messages of our own, number and choice validators) are in
:mod:`portal.web.forms`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from flask_babel import lazy_gettext
from wtforms import Form, StringField
from wtforms.validators import AnyOf, ValidationError

from fleet.db import parse_id
from fleet.models import IntervalUnit, PlanKind, UsageMetric, VisitKind
from portal.web.forms import OneOf, Text, WholeNumber, as_formdata, strip

MAX_INTERVAL = {IntervalUnit.DAYS: 730, IntervalUnit.WEEKS: 104, IntervalUnit.MONTHS: 24}
MAX_USAGE_INTERVAL = 10_000_000


class PlanForm(Form):
    """A calendar or usage plan for one asset."""

    kind = StringField(
        filters=[strip], validators=[OneOf(PlanKind, lazy_gettext("Choose a calendar or a usage plan."))]
    )
    interval = StringField(filters=[strip])
    interval_unit = StringField(filters=[strip])
    usage_metric = StringField(filters=[strip])
    usage_interval = StringField(filters=[strip])
    visit_kind = StringField(
        filters=[lambda v: strip(v) or VisitKind.PREVENTIVE.value],
        validators=[OneOf(VisitKind, lazy_gettext("Unknown kind of visit."))],
    )
    summary = StringField(filters=[strip])
    start_hour = StringField(
        filters=[strip],
        validators=[WholeNumber(0, 23, *(lazy_gettext("The start hour must be between 0 and 23."),) * 2)],
    )
    duration_minutes = StringField(
        filters=[strip],
        validators=[
            WholeNumber(
                15, 12 * 60,
                lazy_gettext("The duration must be a whole number of minutes."),
                lazy_gettext("A visit lasts between 15 minutes and 12 hours."),
            )
        ],
    )  # fmt: skip
    first_due = StringField(filters=[strip])
    technician_id = StringField(filters=[strip])

    def __init__(self, formdata: Mapping[str, str], *, today: date) -> None:
        super().__init__(as_formdata(formdata))
        self.today = today

    def _is(self, kind: PlanKind) -> bool:
        return self.kind.data is kind or self.kind.data == kind.value

    def validate_interval(self, field: Any) -> None:
        """Calendar plans: every N days, weeks or months, within the unit's maximum."""
        if not self._is(PlanKind.CALENDAR):
            field.data = None
            return
        try:
            unit = IntervalUnit(self.interval_unit.data)
        except ValueError:
            unit = None
        try:
            value = int(field.data)
        except ValueError:
            raise ValidationError(str(lazy_gettext("The interval must be a whole number."))) from None
        top = MAX_INTERVAL[unit] if unit else max(MAX_INTERVAL.values())
        if not 0 < value <= top:
            raise ValidationError(
                str(
                    lazy_gettext(
                        "The interval must be between 1 and %(max)d %(unit)s.",
                        max=top,
                        unit=unit.value if unit else "",
                    )
                )
            )
        field.data = value

    def validate_interval_unit(self, field: Any) -> None:
        """Days, weeks or months (calendar plans)."""
        if not self._is(PlanKind.CALENDAR):
            field.data = None
            return
        try:
            field.data = IntervalUnit(field.data)
        except ValueError:
            raise ValidationError(str(lazy_gettext("Choose days, weeks or months."))) from None

    def validate_usage_metric(self, field: Any) -> None:
        """Trips or door cycles (usage plans)."""
        if not self._is(PlanKind.USAGE):
            field.data = None
            return
        try:
            field.data = UsageMetric(field.data)
        except ValueError:
            raise ValidationError(str(lazy_gettext("Choose trips or door cycles."))) from None

    def validate_usage_interval(self, field: Any) -> None:
        """Every N counts (usage plans)."""
        if not self._is(PlanKind.USAGE):
            field.data = None
            return
        try:
            value = int(field.data)
        except ValueError:
            raise ValidationError(str(lazy_gettext("The usage interval must be a whole number."))) from None
        if not 0 < value <= MAX_USAGE_INTERVAL:
            raise ValidationError(
                str(lazy_gettext("The usage interval must be between 1 and %(max)d.", max=MAX_USAGE_INTERVAL))
            )
        field.data = value

    def validate_summary(self, field: Any) -> None:
        """What will be done, 3 to 300 characters."""
        if not 3 <= len(field.data) <= 300:
            raise ValidationError(str(lazy_gettext("Say what will be done (3 to 300 characters).")))

    def validate_first_due(self, field: Any) -> None:
        """A date, not more than a year ago."""
        try:
            day = date.fromisoformat(field.data)
        except ValueError:
            raise ValidationError(str(lazy_gettext("The first visit needs a date (YYYY-MM-DD)."))) from None
        if day < self.today - timedelta(days=366):
            raise ValidationError(str(lazy_gettext("The first visit cannot be more than a year ago.")))
        field.data = day

    def validate_technician_id(self, field: Any) -> None:
        """Optional: a technician from the list."""
        if not field.data:
            field.data = None
            return
        field.data = parse_id(field.data)
        if field.data is None:
            raise ValidationError(str(lazy_gettext("Choose the technician from the list.")))


MAX_REPORT = 4000


def _part() -> StringField:
    too_long = lazy_gettext("Each part of the report must be under %(max)d characters.", max=MAX_REPORT)
    return StringField(filters=[strip], validators=[Text(0, MAX_REPORT, "", too_long)])


class ReportForm(Form):
    """Work done (required), parts, findings, next action, and the state the equipment is left in."""

    work_done = StringField(
        filters=[strip],
        validators=[
            Text(3, MAX_REPORT, lazy_gettext("Say what was done (at least 3 characters)."),
                 lazy_gettext("Each part of the report must be under %(max)d characters.", max=MAX_REPORT)),
        ],
    )  # fmt: skip
    parts = _part()
    findings = _part()
    next_action = _part()
    state_after = StringField(
        filters=[lambda v: strip(v) or "in_service"],
        validators=[
            AnyOf(
                ["in_service", "out_of_service"],
                message=lazy_gettext("Say whether the equipment is back in service."),
            )
        ],
    )

    def __init__(self, formdata: Mapping[str, str]) -> None:
        super().__init__(as_formdata(formdata))
