"""Registry pages for administrators: customers, sites, units, contracts and gateways (create,
change, archive, restore), bulk CSV import and export, cabin stickers and resident links.

An object outside the account's scope is not found (404) like a missing one; an object in
scope answers 403 to anyone but an administrator.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext, lazy_gettext
from flask_login import current_user, login_required
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from fleet.db import parse_id, utcnow
from fleet.models import Asset, Contract, Customer, Gateway, Site
from portal.access import check, requires
from portal.auth.scope import current_scope
from portal.extensions import db_session
from portal.refusal import Refused
from portal.registry import bulk, gateways, service, stickers
from portal.registry.fields import (
    FieldSpec,
    asset_fields,
    contract_fields,
    customer_fields,
    gateway_fields,
    site_fields,
)
from portal.registry.forms import AssetForm, ContractForm, CustomerForm, GatewayForm, SiteForm, form_errors
from portal.web.spreadsheet import csv_response

logger = logging.getLogger(__name__)
bp = Blueprint("registry", __name__, url_prefix="/admin")
ADMINS_ONLY = lazy_gettext("Only administrators change the fleet's registry.")


def _settings() -> Any:
    return current_app.config["SETTINGS"]


def _admin() -> None:
    check(current_user, "administer", ADMINS_ONLY)


def _typed(record: Any) -> MultiDict[str, str]:
    """A record's stored values as the form's text fields."""
    values = service.fields(record)
    out: MultiDict[str, str] = MultiDict()
    for key, value in values.items():
        if isinstance(value, list):
            for item in value:
                out.add(key, str(item))
        else:
            out[key] = "" if value is None else str(value)
    return out


def _show(
    template_fields: list[FieldSpec],
    title: str,
    typed: Any,
    errors: dict[str, list[str]],
    record: Any = None,
    kind: str = "",
    **extra: Any,
) -> ResponseReturnValue:
    if record is not None:
        extra["archive_url"] = archive_url(kind, record)
    html = render_template(
        "registry/record.html",
        fields=template_fields,
        title=title,
        form=typed,
        errors=errors,
        record=record,
        kind=kind,
        **extra,
    )
    return html, 400 if errors else 200


def _created(record: Any) -> str:
    return gettext("%(name)s is created.", name=record.name)


def _saved(_record: Any) -> str:
    return gettext("Saved.")


def _submitted(
    kind: str, form: Any, save: Callable[[dict[str, Any]], Any], message: Callable[[Any], str],
    after: Callable[[], None] | None = None,
) -> tuple[ResponseReturnValue | None, dict[str, list[str]]]:  # fmt: skip
    """A posted registry form, validated and saved: a redirect to the record's page with
    ``message`` (after ``after``), or None with the errors (nothing kept)."""
    if not form.validate():
        return None, form_errors(form)
    session = db_session()
    try:
        record = save(dict(form.data))
    except Refused as exc:
        session.rollback()
        return None, exc.errors or {"": [str(exc.message)]}
    session.commit()
    if after is not None:
        after()
    flash(message(record), "success")
    values: dict[str, Any] = {f"{kind}_id": record.id}
    return redirect(url_for(f"registry.{kind}", **values)), {}


# --- lists ---------------------------------------------------------------------------
@bp.get("/registry")
@login_required
@requires("administer", ADMINS_ONLY)
def overview() -> ResponseReturnValue:
    """Customers (with their sites, units and contracts counted) and gateways; archived ones on request."""
    session = db_session()
    archived = request.args.get("archived") == "1"
    site_count = select(func.count(Site.id)).where(
        Site.customer_id == Customer.id, Site.archived_at.is_(None)
    )
    unit_count = (
        select(func.count(Asset.id))
        .join(Site)
        .where(Site.customer_id == Customer.id, Asset.archived_at.is_(None))
    )
    contract_count = select(func.count(Contract.id)).where(
        Contract.customer_id == Customer.id, Contract.archived_at.is_(None)
    )
    stmt = select(
        Customer, site_count.scalar_subquery(), unit_count.scalar_subquery(), contract_count.scalar_subquery()
    ).order_by(Customer.name)
    stmt = stmt.where(Customer.archived_at.is_not(None) if archived else Customer.archived_at.is_(None))
    gateway_rows = session.scalars(select(Gateway).order_by(Gateway.ident)).all()
    return render_template(
        "registry/overview.html",
        customers=session.execute(stmt).all(),
        archived=archived,
        gateways=gateway_rows,
        kinds=bulk.KINDS,
    )


# --- customers -----------------------------------------------------------------------
@bp.route("/customers/new", methods=["GET", "POST"])
@login_required
@requires("administer", ADMINS_ONLY)
def customer_new() -> ResponseReturnValue:
    """Create a customer."""
    session = db_session()
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        done, errors = _submitted(
            "customer",
            CustomerForm(request.form),
            lambda v: service.save_customer(session, current_user, utcnow(), v),
            _created,
        )
        if done is not None:
            return done
    return _show(customer_fields(session), gettext("New customer"), request.form, errors)


@bp.route("/customers/<int:customer_id>", methods=["GET", "POST"])
@login_required
def customer(customer_id: int) -> ResponseReturnValue:
    """A customer: its name, sites and contracts."""
    session = db_session()
    record = current_scope().get_customer(session, customer_id)
    _admin()
    errors: dict[str, list[str]] = {}
    typed: Any = _typed(record)
    if request.method == "POST":
        typed = request.form
        done, errors = _submitted(
            "customer",
            CustomerForm(request.form),
            lambda v: service.save_customer(session, current_user, utcnow(), v, record),
            _saved,
        )
        if done is not None:
            return done
    sites = session.scalars(select(Site).where(Site.customer_id == record.id).order_by(Site.name)).all()
    contracts = session.scalars(
        select(Contract).where(Contract.customer_id == record.id).order_by(Contract.reference)
    ).all()
    return _show(
        customer_fields(session),
        record.name,
        typed,
        errors,
        record,
        "customer",
        sites=sites,
        contracts=contracts,
    )


# --- sites ---------------------------------------------------------------------------
@bp.route("/sites/new", methods=["GET", "POST"])
@login_required
@requires("administer", ADMINS_ONLY)
def site_new() -> ResponseReturnValue:
    """Create a site (for the customer given in the address, if any)."""
    session = db_session()
    errors: dict[str, list[str]] = {}
    typed: Any = (
        request.form
        if request.method == "POST"
        else MultiDict(
            {"customer_id": request.args.get("customer_id", ""), "country": "FR", "timezone": "Europe/Paris"}
        )
    )
    if request.method == "POST":
        done, errors = _submitted(
            "site",
            SiteForm(request.form),
            lambda v: service.save_site(session, current_user, utcnow(), v),
            _created,
        )
        if done is not None:
            return done
    return _show(site_fields(session), gettext("New site"), typed, errors)


@bp.route("/sites/<int:site_id>", methods=["GET", "POST"])
@login_required
def site(site_id: int) -> ResponseReturnValue:
    """A site: its fields, its units, its stickers."""
    session = db_session()
    record = current_scope().get_site(session, site_id)
    _admin()
    errors: dict[str, list[str]] = {}
    typed: Any = _typed(record)
    if request.method == "POST":
        typed = request.form
        done, errors = _submitted(
            "site",
            SiteForm(request.form),
            lambda v: service.save_site(session, current_user, utcnow(), v, record),
            _saved,
        )
        if done is not None:
            return done
    assets = session.scalars(select(Asset).where(Asset.site_id == record.id).order_by(Asset.name)).all()
    return _show(site_fields(session), record.name, typed, errors, record, "site", assets=assets)


@bp.get("/sites/<int:site_id>/stickers.pdf")
@login_required
def site_stickers(site_id: int) -> ResponseReturnValue:
    """A printable A4 PDF of the cabin stickers of the site's units (not archived)."""
    session = db_session()
    record = current_scope().get_site(session, site_id)
    _admin()
    units = session.scalars(
        select(Asset).where(Asset.site_id == record.id, Asset.archived_at.is_(None)).order_by(Asset.name)
    ).all()
    if not units:
        raise Refused(lazy_gettext("This site has no unit to print a sticker for."), 409)
    address = f"{record.address}, {record.postal_code} {record.city}".strip(", ")
    pdf = stickers.stickers_pdf(
        [
            stickers.Sticker(
                stickers.resident_url(_settings().public_url, a.public_token), a.name, record.name, address
            )
            for a in units
        ],
        gettext("Cabin stickers — %(site)s", site=record.name),
    )
    resp = Response(pdf, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'attachment; filename="stickers-site-{record.id}.pdf"'
    return resp


# --- units ---------------------------------------------------------------------------
def _today_at(site_id: str | None) -> date:
    """Today at the chosen site (an install date may not be later), or in UTC before one is chosen."""
    found = db_session().get(Site, parse_id(site_id or "") or 0)
    now = utcnow()
    return now.astimezone(found.zone).date() if found is not None else now.date()


@bp.route("/assets/new", methods=["GET", "POST"])
@login_required
@requires("administer", ADMINS_ONLY)
def asset_new() -> ResponseReturnValue:
    """Create a unit (on the site given in the address, if any)."""
    session = db_session()
    errors: dict[str, list[str]] = {}
    typed: Any = (
        request.form
        if request.method == "POST"
        else MultiDict(
            {
                "site_id": request.args.get("site_id", ""),
                "availability_target": "99.50",
                "contract_level": "standard",
            }
        )
    )
    if request.method == "POST":
        form = AssetForm(request.form, today=_today_at(request.form.get("site_id")))
        done, errors = _submitted(
            "asset", form, lambda v: service.save_asset(session, current_user, utcnow(), v), _created
        )
        if done is not None:
            return done
    return _show(asset_fields(session), gettext("New unit"), typed, errors)


@bp.route("/assets/<int:asset_id>", methods=["GET", "POST"])
@login_required
def asset(asset_id: int) -> ResponseReturnValue:
    """A unit: every registry field; moving it to another site keeps its history."""
    session = db_session()
    record = current_scope().get_asset(session, asset_id)
    _admin()
    errors: dict[str, list[str]] = {}
    typed: Any = _typed(record)
    if request.method == "POST":
        typed = request.form
        form = AssetForm(request.form, today=_today_at(request.form.get("site_id")))
        done, errors = _submitted(
            "asset",
            form,
            lambda v: service.save_asset(session, current_user, utcnow(), v, record),
            _saved,
            after=_broker_files,
        )
        if done is not None:
            return done
    link = stickers.resident_url(_settings().public_url, record.public_token)
    return _show(asset_fields(session), record.name, typed, errors, record, "asset", resident_link=link)


@bp.get("/assets/<int:asset_id>/sticker.svg")
@login_required
def asset_sticker(asset_id: int) -> ResponseReturnValue:
    """The unit's resident-link QR code as an SVG."""
    session = db_session()
    record = current_scope().get_asset(session, asset_id)
    _admin()
    url = stickers.resident_url(_settings().public_url, record.public_token)
    svg = stickers.sticker_svg(stickers.Sticker(url, record.name, record.site.name, record.site.address))
    resp = Response(svg, mimetype="image/svg+xml")
    resp.headers["Content-Disposition"] = f'attachment; filename="sticker-{record.mqtt_id}.svg"'
    return resp


@bp.post("/assets/<int:asset_id>/rotate-link")
@login_required
def rotate_link(asset_id: int) -> ResponseReturnValue:
    """A new resident link (after confirmation): the printed sticker stops working."""
    session = db_session()
    record = current_scope().get_asset(session, asset_id)
    _admin()
    if request.form.get("confirm") != "yes":
        raise Refused(lazy_gettext("Tick the box to confirm that the printed sticker will stop working."))
    service.rotate_resident_link(session, record, current_user, utcnow())
    session.commit()
    flash(gettext("The resident link is new: print and put up the new sticker."), "success")
    return redirect(url_for("registry.asset", asset_id=record.id))


# --- contracts -----------------------------------------------------------------------
@bp.route("/contracts/new", methods=["GET", "POST"])
@login_required
@requires("administer", ADMINS_ONLY)
def contract_new() -> ResponseReturnValue:
    """Create a contract (for the customer given in the address, if any)."""
    session = db_session()
    errors: dict[str, list[str]] = {}
    typed: Any = (
        request.form
        if request.method == "POST"
        else MultiDict(
            {
                "customer_id": request.args.get("customer_id", ""),
                "currency": "EUR",
                "notice_days": "90",
                "availability_target": "99.50",
                "response_hours": "4",
            }
        )
    )
    if request.method == "POST":
        done, errors = _submitted(
            "contract",
            ContractForm(request.form),
            lambda v: service.save_contract(session, current_user, utcnow(), v),
            lambda record: gettext("Contract %(reference)s is created.", reference=record.reference),
        )
        if done is not None:
            return done
    customer_id = parse_id(typed.get("customer_id") or "")
    return _show(contract_fields(session, customer_id), gettext("New contract"), typed, errors)


@bp.route("/contracts/<int:contract_id>", methods=["GET", "POST"])
@login_required
def contract(contract_id: int) -> ResponseReturnValue:
    """A contract: what it covers, its dates, value and commitments."""
    session = db_session()
    record = current_scope().get_contract(session, contract_id)
    _admin()
    errors: dict[str, list[str]] = {}
    typed: Any = _typed(record)
    if request.method == "POST":
        typed = request.form
        done, errors = _submitted(
            "contract",
            ContractForm(request.form),
            lambda v: service.save_contract(session, current_user, utcnow(), v, record),
            _saved,
        )
        if done is not None:
            return done
    return _show(
        contract_fields(session, record.customer_id),
        gettext("Contract %(reference)s", reference=record.reference),
        typed,
        errors,
        record,
        "contract",
        share=record.maintained_share(),
    )


# --- gateways ------------------------------------------------------------------------
def _broker_files() -> None:
    """Bring the broker's files up to date after a gateway change (when configured)."""
    gateways.publish_broker_files(db_session(), _settings())


@bp.route("/gateways/new", methods=["GET", "POST"])
@login_required
@requires("administer", ADMINS_ONLY)
def gateway_new() -> ResponseReturnValue:
    """Register a gateway; its password is shown once."""
    session = db_session()
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        form = GatewayForm(request.form)
        if form.validate():
            try:
                record, password = gateways.register(session, current_user, utcnow(), dict(form.data))
            except Refused as exc:
                session.rollback()
                errors = exc.errors
            else:
                session.commit()
                _broker_files()
                return render_template("registry/gateway_password.html", gateway=record, password=password)
        else:
            errors = form_errors(form)
    return _show(gateway_fields(session, True), gettext("New gateway"), request.form, errors)


@bp.route("/gateways/<int:gateway_id>", methods=["GET", "POST"])
@login_required
def gateway(gateway_id: int) -> ResponseReturnValue:
    """A gateway: the units it may publish for."""
    session = db_session()
    record = current_scope().get_gateway(session, gateway_id)
    _admin()
    errors: dict[str, list[str]] = {}
    typed: Any = _typed(record)
    if request.method == "POST":
        typed = request.form
        form = GatewayForm(MultiDict([*request.form.items(multi=True), ("ident", record.ident)]))
        done, errors = _submitted(
            "gateway",
            form,
            lambda v: gateways.change(session, current_user, utcnow(), record, v),
            lambda _r: gettext("Saved; the broker's access lists are updated."),
            after=_broker_files,
        )
        if done is not None:
            return done
    return _show(gateway_fields(session, False), record.ident, typed, errors, record, "gateway")


@bp.post("/gateways/<int:gateway_id>/password")
@login_required
def gateway_password(gateway_id: int) -> ResponseReturnValue:
    """A new password for the gateway, shown once."""
    session = db_session()
    record = current_scope().get_gateway(session, gateway_id)
    _admin()
    password = gateways.reset_password(session, current_user, utcnow(), record)
    session.commit()
    _broker_files()
    return render_template("registry/gateway_password.html", gateway=record, password=password)


# --- archive and restore -------------------------------------------------------------
def _archive(kind: str, record_id: int, action: str) -> ResponseReturnValue:
    """Archive (hide from daily views, keep the history) or restore a record."""
    session, scope = db_session(), current_scope()
    getters: dict[str, Callable[[Any, int], Any]] = {
        "customer": scope.get_customer, "site": scope.get_site, "asset": scope.get_asset,
        "contract": scope.get_contract, "gateway": scope.get_gateway,
    }  # fmt: skip
    record = getters[kind](session, record_id)
    _admin()
    (service.archive if action == "archive" else service.restore)(session, record, current_user, utcnow())
    session.commit()
    if kind != "contract":
        _broker_files()  # archived units and gateways lose their broker rights
    if action == "archive":
        flash(gettext("Archived: hidden from daily views, history kept."), "success")
    else:
        flash(gettext("Restored."), "success")
    values: dict[str, Any] = {f"{kind}_id": record_id}
    return redirect(url_for(f"registry.{kind}", **values))


def archive_url(kind: str, record: Any) -> str:
    """Where the archive (or restore) button of a record posts."""
    values: dict[str, Any] = {f"{kind}_id": record.id}
    action = "restore" if record.archived_at else "archive"
    return url_for(f"registry.{kind}_archive", action=action, **values)


def _register_archive_routes() -> None:
    for kind in ("customer", "site", "asset", "contract", "gateway"):

        def view(action: str, _kind: str = kind, **ids: int) -> ResponseReturnValue:
            return _archive(_kind, ids[f"{_kind}_id"], action)

        view.__doc__ = f"Archive or restore a {kind}."
        bp.add_url_rule(f"/{kind}s/<int:{kind}_id>/<any(archive, restore):action>", f"{kind}_archive",
                        login_required(view), methods=["POST"])  # fmt: skip


_register_archive_routes()


# --- import and export ---------------------------------------------------------------
@bp.route("/import", methods=["GET", "POST"])
@login_required
@requires("administer", ADMINS_ONLY)
def import_csv() -> ResponseReturnValue:
    """Upload a CSV of one kind; a dry run shows what would change, a real run applies all or nothing."""
    kind = request.values.get("kind", "assets")
    if kind not in bulk.KINDS:
        raise Refused(gettext("Unknown kind %(value)s.", value=kind[:20]))
    if request.method == "GET":
        return render_template(
            "registry/import.html",
            kinds=bulk.KINDS,
            kind=kind,
            columns=bulk.COLUMNS,
            report=None,
            dry_run=True,
        )
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise Refused(lazy_gettext("Choose a CSV file to import."))
    dry_run = request.form.get("dry_run") == "yes"
    settings = _settings()
    rows = bulk.read_rows(upload.read(), kind, int(settings.import_max_mb * 1_000_000))
    session = db_session()
    ctx = bulk.Context(current_user, utcnow(), settings.public_url)
    report = bulk.import_rows(session, kind, rows, ctx, dry_run=dry_run)
    if report.ok and not dry_run:
        session.commit()
        _broker_files()
        flash(gettext("The file is imported."), "success")
    else:
        session.rollback()
    return render_template(
        "registry/import.html",
        kinds=bulk.KINDS,
        kind=kind,
        columns=bulk.COLUMNS,
        report=report,
        dry_run=dry_run,
    ), 200 if report.ok else 400


@bp.get("/export/<any(customers, sites, assets, contracts, people):kind>.csv")
@login_required
@requires("administer", ADMINS_ONLY)
def export_csv(kind: str) -> ResponseReturnValue:
    """Every record of a kind (not archived) as CSV, in the columns the import reads."""
    return csv_response(bulk.export_rows(db_session(), kind), f"{kind}.csv", bom=True)
