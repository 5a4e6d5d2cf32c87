"""The dispatch form on the outage board (a technician and an expected arrival in the
site's time), validated field by field with WTForms."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext
from wtforms import Form, StringField
from wtforms.validators import ValidationError

from fleet.db import parse_id
from portal.web.forms import as_formdata, strip


class DispatchForm(Form):
    """``technician_id`` from the list, ``eta`` as a local date and time, and ``expected``:
    the technician the form was showing (empty when none), so the first writer wins."""

    technician_id = StringField(filters=[strip])
    eta = StringField(filters=[strip])
    expected = StringField(filters=[strip])

    def __init__(self, formdata: Mapping[str, str], *, timezone: str) -> None:
        super().__init__(as_formdata(formdata))
        self.zone = ZoneInfo(timezone)

    def validate_technician_id(self, field: Any) -> None:
        """A technician chosen from the list."""
        field.data = parse_id(field.data)
        if field.data is None:
            raise ValidationError(str(lazy_gettext("Choose an active field technician.")))

    def validate_eta(self, field: Any) -> None:
        """A date and time in the site's time zone."""
        try:
            field.data = datetime.fromisoformat(field.data).replace(tzinfo=self.zone)
        except ValueError:
            raise ValidationError(
                str(lazy_gettext("Choose a technician and an arrival date and time."))
            ) from None

    def validate_expected(self, field: Any) -> None:
        """Empty, or the id of the technician the form was showing."""
        if not field.data:
            field.data = None
            return
        field.data = parse_id(field.data)
        if field.data is None:
            raise ValidationError(str(lazy_gettext("Choose a technician and an arrival date and time.")))
