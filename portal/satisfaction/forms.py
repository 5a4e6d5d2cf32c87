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
MAX_PROVIDERS = 20


class AnswerForm(Form):
    """``score`` within ``low``…``high``; ``comment`` optional, at most 1,000 characters; with
    ``ranking``, ``providers`` (1–20) and ``provider_rank`` (1 … providers), both or neither."""

    score = StringField(filters=[strip])
    comment = StringField(filters=[strip])
    providers = StringField(filters=[strip])
    provider_rank = StringField(filters=[strip])

    def __init__(self, formdata: Mapping[str, str], *, low: int, high: int, ranking: bool = False) -> None:
        super().__init__(as_formdata(formdata))
        self.low, self.high, self.ranking = low, high, ranking

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

    def validate_providers(self, field: Any) -> None:
        """How many maintenance providers (us included): optional, 1 to 20."""
        if not self.ranking or not (field.data or self.provider_rank.data):
            field.data = None
            return
        if not field.data.isdigit() or not 1 <= int(field.data) <= MAX_PROVIDERS:
            raise ValidationError(
                str(lazy_gettext("Say how many providers, from 1 to %(max)d.", max=MAX_PROVIDERS))
            )
        field.data = int(field.data)

    def validate_provider_rank(self, field: Any) -> None:
        """Where we rank (1 = preferred): with ``providers``, at most that many."""
        if not self.ranking or (not field.data and self.providers.data is None):
            field.data = None
            return
        providers = self.providers.data if isinstance(self.providers.data, int) else None
        if not field.data.isdigit() or int(field.data) < 1:
            raise ValidationError(str(lazy_gettext("Say where we rank: 1 is your preferred provider.")))
        if providers is not None and int(field.data) > providers:
            raise ValidationError(
                str(
                    lazy_gettext(
                        "We cannot rank below the number of providers you use (%(num)d).", num=providers
                    )
                )
            )
        field.data = int(field.data)
