"""Portfolio sort and filter, the HOA building view, and the OpenAPI description."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

ROW = re.compile(r'<tr data-asset-id="(\d+)">')


def _rows(client: FlaskClient, query: str = "") -> tuple[int, list[int], str]:
    resp = client.get(f"/portfolio{query}", headers={"Accept-Language": "en"})
    html = resp.get_data(as_text=True)
    return resp.status_code, [int(i) for i in ROW.findall(html)], html


def _assets(client: FlaskClient) -> dict[int, dict[str, object]]:
    return {a["id"]: a for a in client.get("/api/v1/assets").get_json()["items"]}


def test_filters_narrow_the_portfolio(login: Callable[[str], FlaskClient]) -> None:
    client = login("staff@demo.example")
    assets = _assets(client)
    status, all_ids, _ = _rows(client)
    assert status == 200
    assert sorted(all_ids) == sorted(assets)
    _, down, html = _rows(client, "?state=out_of_service")
    assert sorted(down) == sorted(i for i, a in assets.items() if a["status"]["state"] == "out_of_service")
    assert f"Showing {len(down)} of {len(assets)} assets." in html
    _, escalators, _ = _rows(client, "?kind=escalator")
    assert sorted(escalators) == sorted(i for i, a in assets.items() if a["kind"] == "escalator")
    assert len(escalators) == 4
    site_id = next(iter(assets.values()))["site_id"]
    _, on_site, _ = _rows(client, f"?site={site_id}")
    assert sorted(on_site) == sorted(i for i, a in assets.items() if a["site_id"] == site_id)
    _, old, _ = _rows(client, "?age=30%2B")
    assert sorted(old) == sorted(i for i, a in assets.items() if a["age"]["years"] >= 30)  # type: ignore[index]
    _, young_elevators, _ = _rows(client, "?age=0-9&kind=elevator")
    assert all(assets[i]["age"]["years"] < 10 and assets[i]["kind"] == "elevator" for i in young_elevators)  # type: ignore[index]


def test_sorts(login: Callable[[str], FlaskClient]) -> None:
    client = login("staff@demo.example")
    assets = _assets(client)
    _, oldest, _ = _rows(client, "?sort=oldest")
    installs = [assets[i]["install_date"] for i in oldest]
    assert installs == sorted(installs)  # type: ignore[type-var]
    _, newest, _ = _rows(client, "?sort=newest")
    assert [assets[i]["install_date"] for i in newest] == sorted(installs, reverse=True)  # type: ignore[type-var]
    _, by_status, _ = _rows(client, "?sort=status")
    states = [assets[i]["status"]["state"] for i in by_status]  # type: ignore[index]
    assert states[0] == "out_of_service"
    assert states[-1] == "in_service"
    _, by_avail, _ = _rows(client, "?sort=availability")
    values = [assets[i]["availability"]["days_30"] for i in by_avail]  # type: ignore[index]
    numbers = [v for v in values if v is not None]
    assert numbers == sorted(numbers)


@pytest.mark.parametrize(
    ("query", "message"),
    [("?state=exploded", "Unknown status exploded."), ("?kind=rocket", "Unknown kind rocket."),
     ("?sort=random", "Unknown sort order random."), ("?site=abc", "The site must be chosen from the list."),
     ("?age=200-300", "Unknown age band 200-300.")],
)  # fmt: skip
def test_bad_filters_are_reported_not_ignored_silently(
    login: Callable[[str], FlaskClient], query: str, message: str
) -> None:
    status, ids, html = _rows(login("staff@demo.example"), query)
    assert status == 400
    assert message in html
    assert len(ids) == 30  # the rest of the page still works


def test_filter_on_a_site_outside_the_scope_shows_nothing(login: Callable[[str], FlaskClient]) -> None:
    staff = _assets(login("staff@demo.example"))
    fm_ids = set(_assets(login("fm@demo.example")))
    other_site = next(a["site_id"] for i, a in staff.items() if i not in fm_ids)
    status, ids, _ = _rows(login("fm@demo.example"), f"?site={other_site}")
    assert status == 200
    assert ids == []


def test_groups_land_on_their_own_home(login: Callable[[str], FlaskClient]) -> None:
    assert login("tech@demo.example").get("/").headers["Location"] == "/work"
    hoa = login("hoa.tilleuls@demo.example").get("/", headers={"Accept-Language": "en"})
    html = hoa.get_data(as_text=True)
    assert "<table" not in html
    assert "Résidence Les Tilleuls" in html
    assert html.count("data-live-sentence=") == 3
    fm = login("fm@demo.example").get("/").get_data(as_text=True)
    assert 'class="assets"' in fm
