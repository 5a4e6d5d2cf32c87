"""Registry forms, validated field by field with WTForms.

The same forms check a web form and a CSV row (after :mod:`portal.registry.bulk` has
turned the row's names into ids), so both say the same thing about the same mistake.
Checks that need the database (a taken MQTT id, a site of another customer) are the
service's (:mod:`portal.registry.service`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flask_babel import lazy_gettext
from wtforms import Form, StringField
from wtforms.validators import StopValidation, ValidationError

from fleet.db import parse_id
from fleet.models import MQTT_ID_RE, AssetKind, ContractLevel, SiteKind
from portal.admin.forms import IdListField
from portal.web.forms import OneOf, Text, WholeNumber, as_formdata, strip

_LONG = lazy_gettext("This is too long.")


def _required(label: Any, high: int) -> Text:
    return Text(1, high, label, _LONG)


def _optional(high: int) -> Text:
    return Text(0, high, "", _LONG)


class Percentage:
    """A percentage in (0, 100] with at most two decimals; ``data`` becomes a Decimal."""

    def __call__(self, _form: Form, field: Any) -> None:
        try:
            value = Decimal(str(field.data).replace(",", "."))
        except InvalidOperation:
            value = Decimal(-1)
        if not value.is_finite() or not Decimal(0) < value <= Decimal(100) or value != round(value, 2):
            raise StopValidation(str(lazy_gettext("A percentage above 0 and at most 100, e.g. 99.5.")))
        field.data = value


class Day:
    """A date written YYYY-MM-DD; ``data`` becomes a :class:`date`."""

    def __init__(self, *, optional: bool = False) -> None:
        self.optional = optional

    def __call__(self, _form: Form, field: Any) -> None:
        if self.optional and not field.data:
            field.data = None
            raise StopValidation
        try:
            field.data = date.fromisoformat(field.data)
        except (TypeError, ValueError):
            raise StopValidation(str(lazy_gettext("Dates are written YYYY-MM-DD."))) from None


def _ids(field: Any, message: Any) -> None:
    ids = [parse_id(v) for v in field.data or []]
    if None in ids:
        raise ValidationError(str(message))
    field.data = sorted({i for i in ids if i is not None})


class _Registry(Form):
    def __init__(self, formdata: Mapping[str, Any]) -> None:
        super().__init__(as_formdata(formdata))


class CustomerForm(_Registry):
    """A customer: its name (unique)."""

    name = StringField(
        filters=[strip], validators=[_required(lazy_gettext("Give the customer's name."), 200)]
    )


class SiteForm(_Registry):
    """A site: its customer, name, kind, address and IANA time zone."""

    customer_id = StringField(filters=[strip])
    name = StringField(filters=[strip], validators=[_required(lazy_gettext("Give the site's name."), 200)])
    kind = StringField(
        filters=[strip], validators=[OneOf(SiteKind, lazy_gettext("Choose the kind of building."))]
    )
    address = StringField(
        filters=[strip], validators=[_required(lazy_gettext("Give the street address."), 300)]
    )
    postal_code = StringField(filters=[strip], validators=[_optional(20)])
    city = StringField(filters=[strip], validators=[_required(lazy_gettext("Give the city."), 120)])
    country = StringField(filters=[lambda v: strip(v).upper()])
    timezone = StringField(filters=[strip])

    def validate_customer_id(self, field: Any) -> None:
        """A customer from the list."""
        field.data = parse_id(field.data)
        if field.data is None:
            raise ValidationError(str(lazy_gettext("Choose the customer from the list.")))

    def validate_country(self, field: Any) -> None:
        """A two-letter ISO 3166 code."""
        if len(field.data) != 2 or not field.data.isascii() or not field.data.isalpha():
            raise ValidationError(str(lazy_gettext("A two-letter country code, e.g. FR.")))

    def validate_timezone(self, field: Any) -> None:
        """An IANA time zone name such as Europe/Paris."""
        if field.data not in available_timezones():
            raise ValidationError(str(lazy_gettext("An IANA time zone such as Europe/Paris.")))
        try:
            ZoneInfo(field.data)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(str(lazy_gettext("An IANA time zone such as Europe/Paris."))) from None


class AssetForm(_Registry):
    """Every registry field of an asset; ``today`` (the site's) bounds the install date."""

    site_id = StringField(filters=[strip])
    name = StringField(filters=[strip], validators=[_required(lazy_gettext("Give the unit's name."), 120)])
    kind = StringField(
        filters=[strip], validators=[OneOf(AssetKind, lazy_gettext("Choose the kind of equipment."))]
    )
    manufacturer = StringField(filters=[strip], validators=[_optional(120)])
    model = StringField(filters=[strip], validators=[_optional(120)])
    serial_number = StringField(filters=[strip], validators=[_optional(120)])
    mqtt_id = StringField(filters=[strip])
    install_date = StringField(filters=[strip], validators=[Day()])
    rated_load_kg = StringField(
        filters=[strip],
        validators=[
            WholeNumber(
                1,
                100_000,
                lazy_gettext("A whole number of kilograms."),
                lazy_gettext("Between 1 and 100000 kg."),
                optional=True,
            )
        ],
    )
    floors_served = StringField(
        filters=[strip],
        validators=[
            WholeNumber(
                2,
                300,
                lazy_gettext("A whole number of floors."),
                lazy_gettext("Between 2 and 300 floors."),
                optional=True,
            )
        ],
    )
    contract_level = StringField(
        filters=[lambda v: strip(v) or ContractLevel.STANDARD.value],
        validators=[OneOf(ContractLevel, lazy_gettext("Choose basic, standard or premium."))],
    )
    availability_target = StringField(filters=[lambda v: strip(v) or "99.5"], validators=[Percentage()])

    def __init__(self, formdata: Mapping[str, Any], *, today: date) -> None:
        super().__init__(formdata)
        self.today = today

    def validate_site_id(self, field: Any) -> None:
        """A site from the list."""
        field.data = parse_id(field.data)
        if field.data is None:
            raise ValidationError(str(lazy_gettext("Choose the site from the list.")))

    def validate_mqtt_id(self, field: Any) -> None:
        """1–64 letters, digits, '_', '.', '-', starting with a letter or digit."""
        if not MQTT_ID_RE.fullmatch(field.data):
            raise ValidationError(
                str(
                    lazy_gettext("1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit.")
                )
            )

    def validate_install_date(self, field: Any) -> None:
        """Not in the future."""
        if field.data > self.today:
            raise ValidationError(str(lazy_gettext("The install date cannot be in the future.")))


class ContractForm(_Registry):
    """A service contract: what it covers, when, for how much, and what it commits to."""

    customer_id = StringField(filters=[strip])
    reference = StringField(
        filters=[strip], validators=[_required(lazy_gettext("Give the contract's reference."), 80)]
    )
    start_date = StringField(filters=[strip], validators=[Day()])
    end_date = StringField(filters=[strip], validators=[Day()])
    notice_days = StringField(
        filters=[strip],
        validators=[
            WholeNumber(
                0, 3650, lazy_gettext("A whole number of days."), lazy_gettext("Between 0 and 3650 days.")
            )
        ],
    )
    yearly_value = StringField(filters=[strip])
    currency = StringField(filters=[lambda v: (strip(v) or "EUR").upper()])
    availability_target = StringField(filters=[strip], validators=[Percentage()])
    response_hours = StringField(
        filters=[strip],
        validators=[
            WholeNumber(
                1, 720, lazy_gettext("A whole number of hours."), lazy_gettext("Between 1 and 720 hours.")
            )
        ],
    )
    units_owned = StringField(
        filters=[strip],
        validators=[
            WholeNumber(
                0,
                1_000_000,
                lazy_gettext("A whole number of units."),
                lazy_gettext("Between 0 and 1000000 units."),
            )
        ],
    )
    share_sensor_warnings = StringField(filters=[lambda v: (strip(v) or "").lower() or None])  # None: keep

    def validate_share_sensor_warnings(self, field: Any) -> None:
        """yes, no, or nothing (a file without the column keeps what is stored)."""
        if field.data not in (None, "yes", "no"):
            raise ValidationError(str(lazy_gettext("Choose yes or no.")))

    site_ids = IdListField()
    asset_ids = IdListField()

    def validate_customer_id(self, field: Any) -> None:
        """A customer from the list."""
        field.data = parse_id(field.data)
        if field.data is None:
            raise ValidationError(str(lazy_gettext("Choose the customer from the list.")))

    def validate_end_date(self, field: Any) -> None:
        """After the start date."""
        if isinstance(self.start_date.data, date) and field.data <= self.start_date.data:
            raise ValidationError(str(lazy_gettext("The end date must come after the start date.")))

    def validate_yearly_value(self, field: Any) -> None:
        """An amount ≥ 0 with at most two decimals."""
        try:
            value = Decimal(field.data.replace(" ", "").replace(",", "."))
        except InvalidOperation:
            value = Decimal(-1)
        if not value.is_finite() or value < 0 or value != round(value, 2) or value >= Decimal(10) ** 12:
            raise ValidationError(str(lazy_gettext("An amount such as 12500.00.")))
        field.data = value

    def validate_currency(self, field: Any) -> None:
        """A three-letter ISO 4217 code."""
        if len(field.data) != 3 or not field.data.isascii() or not field.data.isalpha():
            raise ValidationError(str(lazy_gettext("A three-letter currency code, e.g. EUR.")))

    def validate_site_ids(self, field: Any) -> None:
        """Sites from the list."""
        _ids(field, lazy_gettext("Choose the sites from the list."))

    def validate_asset_ids(self, field: Any) -> None:
        """Units from the list; the contract covers at least one site or unit."""
        _ids(field, lazy_gettext("Choose the units from the list."))
        if not field.data and not self.site_ids.data:
            raise ValidationError(str(lazy_gettext("Choose the sites or units the contract covers.")))


class GatewayForm(_Registry):
    """A gateway: its MQTT user name and the units it speaks for."""

    ident = StringField(filters=[strip])
    description = StringField(filters=[strip], validators=[_optional(200)])
    asset_ids = IdListField()

    def validate_ident(self, field: Any) -> None:
        """Like an MQTT id: it is the gateway's user name and presence topic."""
        if not MQTT_ID_RE.fullmatch(field.data):
            raise ValidationError(
                str(
                    lazy_gettext("1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit.")
                )
            )

    def validate_asset_ids(self, field: Any) -> None:
        """Units from the list."""
        _ids(field, lazy_gettext("Choose the units from the list."))


def form_errors(form: Form) -> dict[str, list[str]]:
    """A validated form's errors as plain strings by field name."""
    return {name: [str(m) for m in messages] for name, messages in form.errors.items()}
