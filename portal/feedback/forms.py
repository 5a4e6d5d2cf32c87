"""The feedback form (asset, site, building and resident pages), validated field by field
with WTForms: a refused form names every problem at once and keeps what was typed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext
from wtforms import Form, StringField
from wtforms.validators import ValidationError

from fleet.models import FeedbackCategory
from portal.web.forms import OneOf, Text, WholeNumber, as_formdata, strip

MAX_TEXT = 2000
MIN_TEXT = 3
MAX_CONTACT = 200


class FeedbackForm(Form):
    """Free text, an optional category and 1–5 rating; a contact from residents only."""

    text = StringField(filters=[strip])
    category = StringField(
        filters=[strip],
        validators=[
            OneOf(FeedbackCategory, lazy_gettext("Please choose a category from the list."), optional=True)
        ],
    )
    rating = StringField(
        filters=[strip],
        validators=[WholeNumber(1, 5, *(lazy_gettext("The rating goes from 1 to 5."),) * 2, optional=True)],
    )
    contact = StringField(
        filters=[strip],
        validators=[
            Text(
                0,
                MAX_CONTACT,
                "",
                lazy_gettext("The contact must be under %(max)d characters.", max=MAX_CONTACT),
            )
        ],
    )
    submission_id = StringField(filters=[strip])

    def __init__(self, formdata: Mapping[str, str], *, resident: bool) -> None:
        super().__init__(as_formdata(formdata))
        self.resident = resident

    def validate_text(self, field: Any) -> None:
        """3 to 2,000 characters."""
        if len(field.data) < MIN_TEXT:
            raise ValidationError(
                str(lazy_gettext("Please write at least %(num)d characters.", num=MIN_TEXT))
            )
        if len(field.data) > MAX_TEXT:
            raise ValidationError(
                str(
                    lazy_gettext(
                        "Please keep your message under %(max)d characters (it has %(num)d).",
                        max=MAX_TEXT,
                        num=len(field.data),
                    )
                )
            )

    def validate_contact(self, field: Any) -> None:
        """Accounts are answered in the portal: only residents leave a contact."""
        if not self.resident or not field.data:
            field.data = None

    def validate_submission_id(self, field: Any) -> None:
        """The one-time id the page put in the form."""
        value = field.data
        if not 16 <= len(value) <= 64 or not value.replace("-", "").isalnum():
            raise ValidationError(
                str(lazy_gettext("The form is incomplete; please reload the page and try again."))
            )
