"""Bulk import and export of the registry as CSV: customers, sites, assets, contracts, people.

One file holds one kind. Rows are matched to what exists by their natural key (a
customer's name; customer + site name; an asset's MQTT id; customer + contract
reference; a person's e-mail) and created or updated through the same forms and services
as the admin pages, so a row is refused for the same reasons as a form. Every row is
checked; nothing is kept unless the whole file is valid, and a dry run keeps nothing
either (the caller commits or rolls back: :attr:`ImportReport.ok`). What a row changes is
read back from the stored record, so the dry run shows exactly what the import will do.

Files: UTF-8 with or without a byte-order mark, ``,`` or ``;`` between cells (French
spreadsheets write ``;``), a header row naming the columns. Lists inside a cell (a
contract's sites, a person's sites) are separated by ``|``. Exports write what imports
read, so exporting and importing the same file changes nothing.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext, lazy_gettext
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from werkzeug.datastructures import MultiDict

from fleet.models import Asset, Contract, Customer, Site, StakeholderGroup, User, normalise_email
from portal.admin import people
from portal.admin.forms import InviteForm
from portal.refusal import Refused
from portal.registry import service
from portal.registry.forms import AssetForm, ContractForm, CustomerForm, SiteForm, form_errors

logger = logging.getLogger(__name__)
LIST_SEPARATOR = "|"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("name",),
    "sites": ("customer", "name", "kind", "address", "postal_code", "city", "country", "timezone"),
    "assets": (
        "mqtt_id",
        "customer",
        "site",
        "name",
        "kind",
        "manufacturer",
        "model",
        "serial_number",
        "install_date",
        "rated_load_kg",
        "floors_served",
        "contract_level",
        "availability_target",
    ),
    "contracts": (
        "customer",
        "reference",
        "start_date",
        "end_date",
        "notice_days",
        "yearly_value",
        "currency",
        "availability_target",
        "response_hours",
        "units_owned",
        "sites",
        "assets",
        "share_sensor_warnings",
    ),
    "people": ("email", "name", "group", "customer", "sites", "locale", "is_admin"),
}
KINDS = tuple(COLUMNS)
# columns added later: a file without them is still read (the stored value is kept)
OPTIONAL = {"contracts": ("share_sensor_warnings",)}
# form field -> CSV column, where they differ
_COLUMN_OF = {"customer_id": "customer", "site_id": "site", "site_ids": "sites", "asset_ids": "assets"}


class BadFile(Refused):
    """The file as a whole cannot be read as this kind's CSV (nothing was looked at row by row)."""


@dataclass(frozen=True)
class Context:
    """Who imports, when, and what an invitation needs."""

    by: User
    now: datetime
    public_url: str
    invite_valid: timedelta = people.INVITE_VALID


@dataclass
class RowResult:
    """What one line does: ``create``, ``update``, ``unchanged``, or ``error`` with the reasons."""

    line: int
    key: str
    action: str
    changes: dict[str, tuple[str, str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    """Every line's outcome; the file is applied only when :attr:`ok`."""

    kind: str
    rows: list[RowResult]
    dry_run: bool

    @property
    def ok(self) -> bool:
        """True when no line has an error."""
        return not any(r.errors for r in self.rows)

    def count(self, action: str) -> int:
        """How many lines do ``action``."""
        return sum(1 for r in self.rows if r.action == action)


# --- reading ---------------------------------------------------------------------------
def read_rows(data: bytes, kind: str, max_bytes: int) -> list[tuple[int, dict[str, str]]]:
    """The file's rows as (line number, column -> text), or :class:`BadFile` with the reason."""
    if len(data) > max_bytes:
        raise BadFile(
            lazy_gettext("The file is larger than %(mb)s MB.", mb=f"{max_bytes / 1_000_000:g}"), 413
        )
    if b"\x00" in data:
        raise BadFile(lazy_gettext("This is not a CSV file (it holds binary data)."))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadFile(
            lazy_gettext("The file is not UTF-8 text (byte %(at)d); save it as CSV UTF-8.", at=exc.start + 1)
        ) from None
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise BadFile(lazy_gettext("The file is empty."))
        names = [h.strip().lower() for h in header]
        expected = COLUMNS[kind]
        missing = [c for c in expected if c not in names and c not in OPTIONAL.get(kind, ())]
        unknown = [h for h in names if h not in expected]
        if missing or unknown or len(set(names)) != len(names):
            raise BadFile(
                lazy_gettext(
                    "The columns of a %(kind)s file are: %(expected)s. "
                    "Missing: %(missing)s. Not known: %(unknown)s.",
                    kind=kind,
                    expected=", ".join(expected),
                    missing=", ".join(missing) or "-",
                    unknown=", ".join(u[:40] for u in unknown) or "-",
                )
            )
        rows: list[tuple[int, dict[str, str]]] = []
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(names):
                rows.append((reader.line_num, {"__cells__": str(len(cells))}))
                continue
            rows.append((reader.line_num, dict(zip(names, cells, strict=True))))
    except csv.Error as exc:
        raise BadFile(
            lazy_gettext(
                "Line %(line)d is not valid CSV: %(reason)s.", line=reader.line_num, reason=str(exc)[:100]
            )
        ) from None
    return rows


def _cell(text: str) -> str:
    """A cell's value: an apostrophe our exports put before formula-like text is removed."""
    text = text.strip()
    if text[:1] == "'" and text[1:2] in FORMULA_START:
        return text[1:]
    if text[:1] in FORMULA_START and text[:1] != "-":
        raise ValueError(gettext("a cell starting with %(char)s would run as a formula", char=text[:1]))
    return text


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(LIST_SEPARATOR) if part.strip()]


# --- natural keys ----------------------------------------------------------------------
class _Names:
    """Customers, sites and assets by their natural keys, read once per import."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.customers = {c.name: c for c in session.scalars(select(Customer))}
        self.sites = {
            (s.customer.name, s.name): s
            for s in session.scalars(select(Site).options(selectinload(Site.customer)))
        }

    def customer(self, name: str) -> Customer:
        found = self.customers.get(name)
        if found is None:
            raise ValueError(gettext("unknown customer %(name)s", name=name[:80]))
        return found

    def site(self, customer: str, name: str) -> Site:
        found = self.sites.get((customer, name))
        if found is None:
            raise ValueError(
                gettext("unknown site %(name)s of %(customer)s", name=name[:80], customer=customer[:80])
            )
        return found

    def asset(self, mqtt_id: str) -> Asset:
        found = self.session.scalar(select(Asset).where(Asset.mqtt_id == mqtt_id))
        if found is None:
            raise ValueError(gettext("unknown unit %(mqtt_id)s", mqtt_id=mqtt_id[:80]))
        return found

    def refresh(self, record: Any) -> None:
        """Keep the maps current as rows create records."""
        if isinstance(record, Customer):
            self.customers[record.name] = record
        elif isinstance(record, Site):
            self.sites[(record.customer.name, record.name)] = record


# --- export ----------------------------------------------------------------------------
def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _records(session: Session, kind: str) -> Iterable[Any]:
    if kind == "customers":
        return session.scalars(select(Customer).where(Customer.archived_at.is_(None)).order_by(Customer.name))
    if kind == "sites":
        sites = select(Site).join(Customer).where(Site.archived_at.is_(None))
        return session.scalars(sites.options(selectinload(Site.customer)).order_by(Customer.name, Site.name))
    if kind == "assets":
        assets = select(Asset).where(Asset.archived_at.is_(None))
        assets = assets.options(selectinload(Asset.site).selectinload(Site.customer))
        return session.scalars(assets.order_by(Asset.mqtt_id))
    if kind == "contracts":
        contracts = select(Contract).join(Customer).where(Contract.archived_at.is_(None))
        contracts = contracts.options(selectinload(Contract.sites), selectinload(Contract.assets))
        return session.scalars(contracts.order_by(Customer.name, Contract.reference))
    return session.scalars(select(User).options(selectinload(User.sites)).order_by(User.email))


def export_rows(session: Session, kind: str) -> list[list[str]]:
    """The header and one row per record not archived (people: every account), in key order."""
    return [list(COLUMNS[kind]), *(_export_one(kind, record) for record in _records(session, kind))]


def _optional(value: int | None) -> str:
    return "" if value is None else str(value)


def _site_ref(user: User, site: Site) -> str:
    return site.name if site.customer_id == user.customer_id else f"{site.customer.name} / {site.name}"


# --- import ----------------------------------------------------------------------------
def _key(kind: str, row: Mapping[str, str]) -> str:
    if kind in ("customers",):
        return row.get("name", "")
    if kind == "sites":
        return f"{row.get('customer', '')} / {row.get('name', '')}"
    if kind == "assets":
        return row.get("mqtt_id", "")
    if kind == "contracts":
        return f"{row.get('customer', '')} / {row.get('reference', '')}"
    return normalise_email(row.get("email", ""))


def _row_export(session: Session, kind: str, record: Any) -> dict[str, str]:
    """The record as its export row (column -> text), to diff before and after."""
    if record is None:
        return {}
    session.flush()
    session.refresh(record)
    return dict(zip(COLUMNS[kind], _export_one(kind, record), strict=True))


def _export_one(kind: str, record: Any) -> list[str]:
    if kind == "customers":
        return [record.name]
    if kind == "sites":
        s = record
        return [
            s.customer.name,
            s.name,
            s.kind.value,
            s.address,
            s.postal_code,
            s.city,
            s.country,
            s.timezone,
        ]
    if kind == "assets":
        a = record
        return [
            a.mqtt_id,
            a.site.customer.name,
            a.site.name,
            a.name,
            a.kind.value,
            a.manufacturer,
            a.model,
            a.serial_number,
            a.install_date.isoformat(),
            _optional(a.rated_load_kg),
            _optional(a.floors_served),
            a.contract_level.value,
            f"{a.availability_target:.2f}",
        ]
    if kind == "contracts":
        c = record
        return [
            c.customer.name,
            c.reference,
            c.start_date.isoformat(),
            c.end_date.isoformat(),
            str(c.notice_days),
            f"{c.yearly_value:.2f}",
            c.currency,
            f"{c.availability_target:.2f}",
            str(c.response_hours),
            str(c.units_owned),
            LIST_SEPARATOR.join(s.name for s in c.sites),
            LIST_SEPARATOR.join(sorted(a.mqtt_id for a in c.assets)),
            _yes(c.share_sensor_warnings),
        ]
    u = record
    return [
        u.email,
        u.name,
        u.group.value,
        u.customer.name if u.customer else "",
        LIST_SEPARATOR.join(_site_ref(u, s) for s in sorted(u.sites, key=lambda s: s.name)),
        u.locale,
        _yes(u.is_admin),
    ]


Handler = Callable[[Session, _Names, Context, dict[str, str]], tuple[Any, Any]]


def _errors_by_column(errors: Mapping[str, list[str]]) -> list[str]:
    return [
        f"{_COLUMN_OF.get(name, name)}: {message}"
        for name, messages in errors.items()
        for message in messages
    ]


def _validated(form: Any) -> dict[str, Any]:
    if not form.validate():
        raise Refused("", 400, form_errors(form))
    return dict(form.data)


def _customers(session: Session, names: _Names, ctx: Context, row: dict[str, str]) -> tuple[Any, Any]:
    existing = names.customers.get(row["name"])
    values = _validated(CustomerForm(row))
    return existing, lambda: service.save_customer(session, ctx.by, ctx.now, values, existing)


def _sites(session: Session, names: _Names, ctx: Context, row: dict[str, str]) -> tuple[Any, Any]:
    customer = names.customer(row["customer"])
    existing = names.sites.get((customer.name, row["name"]))
    values = _validated(SiteForm({**row, "customer_id": str(customer.id)}))
    return existing, lambda: service.save_site(session, ctx.by, ctx.now, values, existing)


def _assets(session: Session, names: _Names, ctx: Context, row: dict[str, str]) -> tuple[Any, Any]:
    site = names.site(row["customer"], row["site"])
    existing = session.scalar(select(Asset).where(Asset.mqtt_id == row["mqtt_id"]))
    today = ctx.now.astimezone(site.zone).date()
    values = _validated(AssetForm({**row, "site_id": str(site.id)}, today=today))
    return existing, lambda: service.save_asset(session, ctx.by, ctx.now, values, existing)


def _contracts(session: Session, names: _Names, ctx: Context, row: dict[str, str]) -> tuple[Any, Any]:
    customer = names.customer(row["customer"])
    existing = session.scalar(
        select(Contract).where(Contract.customer_id == customer.id, Contract.reference == row["reference"])
    )
    form = MultiDict({k: v for k, v in row.items() if k not in ("sites", "assets")})
    form["customer_id"] = str(customer.id)
    for name in _split(row["sites"]):
        form.add("site_ids", str(names.site(customer.name, name).id))
    for mqtt_id in _split(row["assets"]):
        form.add("asset_ids", str(names.asset(mqtt_id).id))
    values = _validated(ContractForm(form))
    return existing, lambda: service.save_contract(session, ctx.by, ctx.now, values, existing)


def _people(session: Session, names: _Names, ctx: Context, row: dict[str, str]) -> tuple[Any, Any]:
    email = normalise_email(row["email"])
    existing = session.scalar(select(User).where(User.email == email))
    form = MultiDict({k: v for k, v in row.items() if k not in ("sites", "customer", "is_admin")})
    customer = names.customer(row["customer"]) if row["customer"] else None
    form["customer_id"] = str(customer.id) if customer else ""
    for ref in _split(row["sites"]):
        owner, _, site_name = ref.rpartition(" / ")
        if not owner and customer is None:
            raise ValueError(gettext("write sites as 'Customer / Site' when the customer column is empty"))
        form.add("site_ids", str(names.site(owner or customer.name, site_name).id))  # type: ignore[union-attr]
    flag = row["is_admin"].strip().lower()
    if flag not in ("", "yes", "no", "oui", "non", "1", "0", "true", "false"):
        raise ValueError(gettext("is_admin: write yes or no"))
    if flag in ("yes", "oui", "1", "true"):
        form["is_admin"] = "y"
    invite_form = InviteForm(form)
    values = _validated(invite_form)
    data = people.Invitation(
        email,
        values["name"],
        StakeholderGroup(values["group"]),
        values["customer_id"],
        values["site_ids"],
        values["locale"],
        bool(values["is_admin"]),
    )
    if existing is None:
        return None, lambda: people.invite(session, data, ctx.by, ctx.now, ctx.public_url, ctx.invite_valid)
    return existing, lambda: people.change(session, existing, data, ctx.by, ctx.now)


HANDLERS: dict[str, Handler] = {
    "customers": _customers,
    "sites": _sites,
    "assets": _assets,
    "contracts": _contracts,
    "people": _people,
}


def import_rows(
    session: Session, kind: str, rows: Iterable[tuple[int, dict[str, str]]], ctx: Context, *, dry_run: bool
) -> ImportReport:
    """Create or update one record per row, in the caller's transaction, and say what each
    line does. The caller commits only when the report is :attr:`~ImportReport.ok` and this
    is not a dry run; otherwise it rolls back (nothing of the file is kept)."""
    names = _Names(session)
    handler = HANDLERS[kind]
    seen: dict[str, int] = {}
    report = ImportReport(kind, [], dry_run)
    for line, raw in rows:
        if "__cells__" in raw:
            n = len(COLUMNS[kind])
            report.rows.append(
                RowResult(
                    line,
                    "",
                    "error",
                    errors=[
                        gettext(
                            "%(found)s cells where the header has %(expected)d",
                            found=raw["__cells__"],
                            expected=n,
                        )
                    ],
                )
            )
            continue
        result = _import_row(session, names, ctx, kind, handler, line, raw, seen)
        report.rows.append(result)
    logger.info(
        "import of %s by user %s: %d lines, %s",
        kind,
        ctx.by.id,
        len(report.rows),
        "valid" if report.ok else "refused",
    )
    return report


def _import_row(
    session: Session,
    names: _Names,
    ctx: Context,
    kind: str,
    handler: Handler,
    line: int,
    raw: dict[str, str],
    seen: dict[str, int],
) -> RowResult:
    try:
        row = {k: _cell(v) for k, v in raw.items()}
    except ValueError as exc:
        return RowResult(line, _key(kind, raw)[:120], "error", errors=[str(exc)])
    key = _key(kind, row)
    if key in seen:
        return RowResult(
            line, key[:120], "error", errors=[gettext("the same key as line %(line)d", line=seen[key])]
        )
    seen[key] = line
    try:
        existing, save = handler(session, names, ctx, row)
        before = _row_export(session, kind, existing)
        record = save()
    except ValueError as exc:
        if isinstance(exc, Refused):
            messages = _errors_by_column(exc.errors) if exc.errors else [str(exc.message)]
            return RowResult(line, key[:120], "error", errors=messages)
        return RowResult(line, key[:120], "error", errors=[str(exc)])
    names.refresh(record)
    after = _row_export(session, kind, record if record is not None else existing)
    changes = {c: (before.get(c, ""), after[c]) for c in COLUMNS[kind] if before.get(c, "") != after[c]}
    action = "create" if existing is None else ("update" if changes else "unchanged")
    return RowResult(line, key[:120], action, changes if existing is not None else {})
