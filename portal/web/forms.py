"""What the portal's WTForms forms share: plain ``wtforms.Form`` over a request's fields
(CSRF is checked app-wide by Flask-WTF before any view runs), the portal's own translated
messages instead of WTForms' English defaults, and validators that turn a field's text
into the value the service needs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import LazyString
from werkzeug.datastructures import MultiDict
from wtforms import Form
from wtforms.validators import StopValidation


def strip(value: str | None) -> str:
    """A text field's value without surrounding blanks ('' when absent)."""
    return (value or "").strip()


def as_formdata(form: Mapping[str, str]) -> MultiDict[str, str]:
    """A request's form (or a plain dict in tests) as WTForms reads it."""
    return form if isinstance(form, MultiDict) else MultiDict(form)


class Text:
    """Text of ``low`` to ``high`` characters (after stripping); empty is allowed when ``low`` is 0."""

    def __init__(self, low: int, high: int, short: str | LazyString, long: str | LazyString) -> None:
        self.low, self.high, self.short, self.long = low, high, short, long

    def __call__(self, _form: Form, field: Any) -> None:
        if len(field.data) < self.low:
            raise StopValidation(str(self.short))
        if len(field.data) > self.high:
            raise StopValidation(str(self.long))


class WholeNumber:
    """A whole number within ``low``…``high`` (empty allowed when ``optional``); ``data`` becomes the int."""

    def __init__(
        self, low: int, high: int, message: str | LazyString, range_message: str | LazyString,
        *, optional: bool = False,
    ) -> None:  # fmt: skip
        self.low, self.high, self.message, self.range_message = low, high, message, range_message
        self.optional = optional

    def __call__(self, _form: Form, field: Any) -> None:
        if self.optional and not field.data:
            field.data = None
            raise StopValidation
        try:
            value = int(field.data)
        except (TypeError, ValueError):
            raise StopValidation(str(self.message)) from None
        if not self.low <= value <= self.high:
            raise StopValidation(str(self.range_message))
        field.data = value


class OneOf:
    """One of an enumeration's values (empty allowed when ``optional``); ``data`` becomes the member."""

    def __init__(self, enum: Any, message: str | LazyString, *, optional: bool = False) -> None:
        self.enum, self.message, self.optional = enum, message, optional

    def __call__(self, _form: Form, field: Any) -> None:
        if self.optional and not field.data:
            field.data = None
            raise StopValidation
        try:
            field.data = self.enum(field.data)
        except ValueError:
            raise StopValidation(str(self.message)) from None
