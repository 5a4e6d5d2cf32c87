"""The invitation form, validated field by field with WTForms (choices from the database)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext
from wtforms import BooleanField, Field, Form, StringField
from wtforms.validators import AnyOf, ValidationError

from fleet.db import parse_id
from fleet.models import StakeholderGroup, normalise_email
from portal.access import RULES
from portal.web.forms import Text, as_formdata, strip


class IdListField(Field):
    """Every value sent under the field's name (a multiple select), as strings (ids once validated)."""

    data: Any

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Keep all the values, not only the first."""
        self.data = [str(v) for v in valuelist]

    def _value(self) -> str:
        return ""


class InviteForm(Form):
    """E-mail, name, group, scope (a customer and/or sites), language, administrator right."""

    email = StringField(filters=[strip])
    name = StringField(
        filters=[strip],
        validators=[
            Text(2, 200, lazy_gettext("Give the person's name."), lazy_gettext("The name is too long."))
        ],
    )
    group = StringField(filters=[strip])
    customer_id = StringField(filters=[strip])
    site_ids = IdListField()
    locale = StringField(
        filters=[lambda v: strip(v) or "en"],
        validators=[AnyOf(["en", "fr"], message=lazy_gettext("Choose English or French."))],
    )
    is_admin = BooleanField()

    def __init__(self, formdata: Mapping[str, Any]) -> None:
        super().__init__(as_formdata(formdata))

    def validate_email(self, field: Any) -> None:
        """An e-mail address."""
        field.data = normalise_email(field.data)
        if "@" not in field.data or len(field.data) > 254 or " " in field.data:
            raise ValidationError(str(lazy_gettext("Enter a valid e-mail address.")))

    def validate_customer_id(self, field: Any) -> None:
        """Optional: a customer from the list."""
        if not field.data:
            field.data = None
            return
        field.data = parse_id(field.data)
        if field.data is None:
            raise ValidationError(str(lazy_gettext("Choose the customer from the list.")))

    def validate_site_ids(self, field: Any) -> None:
        """Sites from the list."""
        ids = [parse_id(v) for v in field.data or []]
        if None in ids:
            raise ValidationError(str(lazy_gettext("Choose the sites from the list.")))
        field.data = [i for i in ids if i is not None]

    def validate_group(self, field: Any) -> None:
        """A stakeholder group; everyone but vendor staff needs a customer or sites."""
        try:
            field.data = StakeholderGroup(field.data).value
        except ValueError:
            raise ValidationError(str(lazy_gettext("Choose the group from the list."))) from None
        sees_everything = StakeholderGroup(field.data) in RULES["see_every_customer"]
        if not sees_everything and not self.customer_id.data and not self.site_ids.data:
            raise ValidationError(str(lazy_gettext("Choose the customer or the sites this person sees.")))


class PersonForm(InviteForm):
    """The same fields without the e-mail address, which stays as it is."""

    email = None  # WTForms: a subclass removes a field this way
