"""In Chromium, as a vendor would onboard a new customer: staff creates a customer, a site,
a unit and a contract, invites a facility manager; the invitee sets a password from the
e-mail caught by a local SMTP server, logs in and sees exactly that customer; staff
deactivates them and their open page is refused on its next request. An import with errors
shows each line's reason and a dry run writes nothing. The site's sticker PDF is rendered
to PNG and its QR codes decode (zbarimg) to the exact resident links."""

from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from devstack.mailcatcher import MailCatcher
from devstack.servers import free_port
from fleet.db import Database, utcnow
from fleet.models import Asset, Customer, Site
from portal.notifications.outbox import SmtpSettings, send_due
from tests.e2e.conftest import LiveServer, login_page

pytestmark = pytest.mark.browser
PASSWORD = "my own portal password 8"


def _submit(page: Any, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).click()
    page.wait_for_load_state()


def test_a_vendor_onboards_a_customer_and_invites_its_facility_manager(
    browser: Any, live_portal: LiveServer, sqlite_demo_url: str, artifacts_dir: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    customer_name, email = f"Gare Centrale {tag}", f"fm.{tag}@example.org"
    admin_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    admin = admin_ctx.new_page()
    login_page(admin, live_portal.url, "staff@demo.example")
    admin.get_by_role("link", name="Registry").click()
    admin.get_by_role("link", name="New customer").click()
    admin.get_by_label("Name").fill(customer_name)
    _submit(admin, "Create")
    assert f"{customer_name} is created." in admin.locator(".flash").first.inner_text()

    admin.get_by_role("link", name="New site").click()
    admin.get_by_label("Name").fill("Hall A")
    admin.get_by_label("Kind of building").select_option("public")
    admin.get_by_label("Street address").fill("1 place de la Gare")
    admin.get_by_label("Postal code").fill("67000")
    admin.get_by_label("City").fill("Strasbourg")
    admin.get_by_label("Time zone").fill("Europe/Pariss")  # a typo first
    _submit(admin, "Create")
    assert admin.locator("#f-timezone[aria-invalid=true]").count() == 1
    assert admin.get_by_label("City").input_value() == "Strasbourg"  # what was typed stays
    admin.screenshot(path=str(artifacts_dir / "onboarding-site-refused.png"), full_page=True)
    admin.get_by_label("Time zone").fill("Europe/Paris")
    _submit(admin, "Create")

    admin.get_by_role("link", name="New unit").click()
    admin.get_by_label("Name", exact=True).fill("Elevator 1")
    admin.get_by_label("Kind of equipment").select_option("elevator")
    admin.get_by_label("MQTT id").fill(f"GC-{tag}")
    admin.get_by_label("Install date").fill("2019-04-15")
    admin.get_by_label("Rated load (kg)").fill("1000")
    _submit(admin, "Create")
    admin.screenshot(path=str(artifacts_dir / "onboarding-unit.png"), full_page=True)
    assert admin.locator("code.resident-link").inner_text().startswith("http")

    admin.get_by_role("link", name="Registry", exact=True).first.click()
    admin.get_by_role("link", name=customer_name).click()
    admin.get_by_role("link", name="New contract").click()
    admin.get_by_label("Reference").fill(f"GC-{tag}")
    admin.get_by_label("Start date").fill("2026-01-01")
    admin.get_by_label("End date").fill("2030-12-31")
    admin.get_by_label("Yearly value").fill("9600")
    admin.get_by_label("Units the customer owns in total").fill("3")
    admin.get_by_label("Sites covered").select_option(label=f"{customer_name} — Hall A")
    _submit(admin, "Create")
    assert "33 %" in admin.locator("main").inner_text()  # one unit of the three it owns

    admin.get_by_role("link", name="People").click()
    admin.get_by_role("link", name="Invite someone").click()
    admin.get_by_label("E-mail").fill(email)
    admin.get_by_label("Name").fill("Nadia Haddad")
    admin.get_by_label("Group").select_option("facility_manager")
    admin.get_by_label("Customer (sees all its sites)").select_option(label=customer_name)
    _submit(admin, "Send the invitation")

    catcher = MailCatcher(free_port()).start()
    db = Database(sqlite_demo_url)
    try:
        smtp = SmtpSettings(host="127.0.0.1", port=catcher.port, sender="Portal <portal@test.example>")
        send_due(db.sessionmaker, smtp, utcnow())
    finally:
        catcher.stop()
    mail = next(m for m in catcher.messages if m["To"] == email)
    link = re.search(r"http://[^/\s]+(/auth/invite/\S+)", mail.get_payload(decode=True).decode())
    assert link is not None

    invitee_ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    invitee = invitee_ctx.new_page()
    invitee.goto(f"{live_portal.url}{link.group(1)}")
    invitee.get_by_label("New password").fill(PASSWORD)
    invitee.get_by_label("The same again").fill(PASSWORD)
    invitee.get_by_role("button", name="Set the password").click()
    invitee.wait_for_url("**/auth/login")
    invitee.get_by_label("E-mail").fill(email)
    invitee.get_by_label("Password").fill(PASSWORD)
    invitee.locator("button[type=submit].primary").click()
    invitee.wait_for_load_state()
    invitee.goto(f"{live_portal.url}/portfolio")
    rows = invitee.locator("table.assets tbody tr[data-asset-id]")
    assert rows.count() == 1  # exactly the new customer's one unit
    assert "Elevator 1" in rows.first.inner_text()
    invitee.screenshot(path=str(artifacts_dir / "onboarding-invitee-portfolio.png"), full_page=True)

    admin.reload()
    admin.get_by_role("button", name="Deactivate").click()
    admin.wait_for_load_state()
    invitee.reload()
    assert "/auth/login" in invitee.url
    for page in (admin, invitee):
        page.wait_for_load_state("networkidle")
    admin_ctx.close()
    invitee_ctx.close()
    db.dispose()


def test_an_import_with_errors_names_each_line_and_a_dry_run_writes_nothing(
    browser: Any, live_portal: LiveServer, sqlite_demo_url: str, artifacts_dir: Path, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = ctx.new_page()
    login_page(page, live_portal.url, "staff@demo.example")
    page.goto(f"{live_portal.url}/admin/import")
    page.get_by_role("button", name="Français").click()  # a French administrator, a French spreadsheet
    page.wait_for_load_state()
    bad = tmp_path / "sites.csv"
    bad.write_text(
        "customer;name;kind;address;postal_code;city;country;timezone\n"
        f"Lumière Immobilier;Annexe {tag};office;3 rue X;69001;Lyon;FR;Europe/Paris\n"
        f"Lumière Immobilier;Annexe B {tag};castle;3 rue Y;69001;Lyon;FRA;Europe/Paris\n",
        encoding="utf-8-sig",
    )
    page.get_by_label("Contenu du fichier").select_option("sites")
    page.get_by_label("Fichier", exact=True).set_input_files(str(bad))
    page.get_by_role("button", name="Vérifier et importer").click()
    page.wait_for_load_state()
    report = page.locator("#import-report")
    assert report.get_attribute("data-ok") == "no"
    line3 = page.locator("tr[data-line='3']").inner_text()
    assert "Choisissez le type de bâtiment." in line3
    assert "Un code pays de deux lettres" in line3
    page.screenshot(path=str(artifacts_dir / "onboarding-import-errors.png"), full_page=True)

    good = tmp_path / "good.csv"
    header, first_line, _bad_line = bad.read_text(encoding="utf-8-sig").splitlines()
    good.write_text(f"{header}\n{first_line}\n", encoding="utf-8")
    page.get_by_label("Contenu du fichier").select_option("sites")
    page.get_by_label("Fichier", exact=True).set_input_files(str(good))
    page.get_by_label("Essai à blanc", exact=False).check()
    page.get_by_role("button", name="Vérifier et importer").click()
    page.wait_for_load_state()
    assert page.locator("tr[data-line='2'][data-action='create']").count() == 1
    db = Database(sqlite_demo_url)
    with db.sessionmaker() as s:
        assert s.scalar(select(func.count()).select_from(Site).where(Site.name == f"Annexe {tag}")) == 0
    db.dispose()
    page.wait_for_load_state("networkidle")
    ctx.close()


def test_the_sticker_sheet_decodes_to_the_exact_resident_links(
    browser: Any, live_portal: LiveServer, sqlite_demo_url: str, tmp_path: Path, artifacts_dir: Path
) -> None:
    db = Database(sqlite_demo_url)
    with db.sessionmaker() as s:
        site = s.scalars(select(Site).join(Customer).where(Site.name == "Tour Lumière")).one()
        in_service = select(Asset.public_token).where(Asset.site_id == site.id, Asset.archived_at.is_(None))
        tokens = s.scalars(in_service).all()
    db.dispose()
    public_url = live_portal.app.config["SETTINGS"].public_url.rstrip("/")
    ctx = browser.new_context(locale="en-GB")
    page = ctx.new_page()
    login_page(page, live_portal.url, "staff@demo.example")
    page.goto(f"{live_portal.url}/admin/sites/{site.id}")
    with page.expect_download() as download:
        page.locator("a[href$='/stickers.pdf']").click()
    pdf = tmp_path / "stickers.pdf"
    download.value.save_as(pdf)
    ctx.close()
    # crisp modules, as a printer prints them: with anti-aliased edges at 150 dpi zbar missed
    # about one code in a hundred (measured over 960 random links; none missed without)
    sheet = [
        "pdftoppm",
        "-r",
        "150",
        "-aa",
        "no",
        "-aaVector",
        "no",
        "-png",
        str(pdf),
        str(tmp_path / "sheet"),
    ]
    subprocess.run(sheet, check=True)
    pages = sorted(tmp_path.glob("sheet-*.png"))
    assert len(pages) == -(-len(tokens) // 8)
    (artifacts_dir / "stickers-page-1.png").write_bytes(pages[0].read_bytes())
    zbar = subprocess.run(["zbarimg", "--quiet", "--raw", *map(str, pages)], capture_output=True, text=True,
                          check=True)  # fmt: skip
    decoded = zbar.stdout.split()
    assert sorted(decoded) == sorted(f"{public_url}/r/{token}" for token in tokens)
    text = " ".join(
        subprocess.run(
            ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert "Scan to see if this unit works" in text
    assert "Scannez pour savoir" in text
