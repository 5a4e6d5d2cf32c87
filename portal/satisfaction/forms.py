"""A survey answer (a score on the question's scale and an optional comment), validated
field by field with WTForms: a refused answer names every problem and keeps the comment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext
from wtforms import Form, StringField
from wtforms.validators import ValidationError

from portal.web.forms import as_formdata, strip

MAX_COMMENT = 1000


class AnswerForm(Form):
    """``score`` within ``low``…``high``; ``comment`` optional, at most 1,000 characters."""

    score = StringField(filters=[strip])
    comment = StringField(filters=[strip])

    def __init__(self, formdata: Mapping[str, str], *, low: int, high: int) -> None:
        super().__init__(as_formdata(formdata))
        self.low, self.high = low, high

    def validate_score(self, field: Any) -> None:
        """A whole number on the question's scale."""
        if not field.data:
            raise ValidationError(str(lazy_gettext("Please choose a score.")))
        if not field.data.isdigit() or not self.low <= int(field.data) <= self.high:
            raise ValidationError(
                str(lazy_gettext("The score goes from %(low)d to %(high)d.", low=self.low, high=self.high))
            )
        field.data = int(field.data)

    def validate_comment(self, field: Any) -> None:
        """Optional; under 1,000 characters."""
        if len(field.data) > MAX_COMMENT:
            raise ValidationError(
                str(
                    lazy_gettext(
                        "Please keep your comment under %(max)d characters (it has %(num)d).",
                        max=MAX_COMMENT,
                        num=len(field.data),
                    )
                )
            )
        field.data = field.data or None
