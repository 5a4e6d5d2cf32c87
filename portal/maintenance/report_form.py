"""The technician's check-out report, validated field by field with WTForms: a refused
report names every problem at once and keeps what was typed (nothing is stored)."""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import lazy_gettext
from wtforms import Form, StringField
from wtforms.validators import AnyOf

from portal.web.forms import Text, as_formdata, strip

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
