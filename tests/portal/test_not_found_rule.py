"""One rule on every route: an object outside the account's scope answers exactly like a
missing one (404), whatever the method, page or API; ids too large for the database are
404 too (400 in a query string), never a 500.

The routes come from the app's own URL map, so a new route is covered the day it is
added. Which objects each account may see is written out by hand from the demo
portfolio (sites per account), not computed with the code under test.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.routing import Rule

from fleet.db import MAX_ID
from fleet.models import (
    ApiToken,
    Asset,
    Contract,
    Customer,
    DataExport,
    Feedback,
    FollowUp,
    Gateway,
    MaintenancePlan,
    MonthlyReport,
    Notification,
    Outage,
    OutreachTask,
    Site,
    SurveyPrompt,
    SurveyResponse,
    User,
    Visit,
    WatchItem,
    WebhookEndpoint,
)
from tests.portal.test_access_matrix import EXPECTED

HUGE_IDS = ["10321689436864808747008", "99999999999999999999", str(MAX_ID + 1), "0"]
ACCOUNTS = sorted(EXPECTED)


def _id_rules(app: Flask) -> Iterator[tuple[Rule, str, str]]:
    """(rule, method, the name of its one id argument) for every route that takes an id."""
    for rule in app.url_map.iter_rules():
        ids = re.findall(r"<int:(\w+)>", rule.rule)
        if not ids:
            continue
        assert len(ids) == 1, f"{rule.rule}: teach this test routes with two ids"
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield rule, method, ids[0]


def _url(rule: Rule, arg: str, value: str) -> str:
    """The rule with ``value`` for its id, and the first choice of any ``<any(…):name>``."""
    url = rule.rule.replace(f"<int:{arg}>", value)
    return re.sub(r"<any\(([\w-]+)[^>]*>", r"\1", url)


def _call(client: FlaskClient, method: str, url: str) -> int:
    resp = client.open(url, method=method, data={} if method == "POST" else None)
    return resp.status_code


@pytest.fixture(scope="module")
def sites_of(app: Flask) -> dict[str, dict[int, str]]:
    """For each object kind (by URL argument), object id → the name of its site (of a
    customer: its own name)."""
    session = app.extensions["fleet.db"].sessionmaker()
    with session:
        by_asset = select(Asset.id, Site.name).join(Site)
        assets = {aid: name for aid, name in session.execute(by_asset)}

        def via_asset(
            model: type[Outage] | type[Visit] | type[MaintenancePlan] | type[WatchItem],
        ) -> dict[int, str]:
            return {oid: assets[aid] for oid, aid in session.execute(select(model.id, model.asset_id))}

        return {
            "asset_id": assets,
            "site_id": {sid: name for sid, name in session.execute(select(Site.id, Site.name))},
            "customer_id": {cid: name for cid, name in session.execute(select(Customer.id, Customer.name))},
            "outage_id": via_asset(Outage),
            "visit_id": via_asset(Visit),
            "plan_id": via_asset(MaintenancePlan),
            "feedback_id": {
                fid: name for fid, name in session.execute(select(Feedback.id, Site.name).join(Site))
            },
            # a contract is in scope with its customer (the value is its customer's name)
            "contract_id": {
                cid: name for cid, name in session.execute(select(Contract.id, Customer.name).join(Customer))
            },
            "report_id": {  # a site's monthly report is in scope with its site
                rid: name
                for rid, name in session.execute(
                    select(MonthlyReport.id, Site.name).join(Site, MonthlyReport.site_id == Site.id)
                )
            },
            "item_id": via_asset(WatchItem),  # a sensor warning is in scope with its unit
            "task_id": {  # an outreach task: with its building (staff only, 404 for the rest)
                tid: name
                for tid, name in session.execute(
                    select(OutreachTask.id, Site.name).join(Site, OutreachTask.site_id == Site.id)
                )
            },
            "webhook_id": {  # like a contract: with its customer
                wid: name
                for wid, name in session.execute(select(WebhookEndpoint.id, Customer.name).join(Customer))
            },
        }


@pytest.fixture(scope="module")
def owners(app: Flask) -> dict[str, dict[int, str]]:
    """Objects that belong to one person: survey prompts (their user) and follow-ups (staff only)."""
    session = app.extensions["fleet.db"].sessionmaker()
    with session:
        prompts = {
            pid: email for pid, email in session.execute(select(SurveyPrompt.id, User.email).join(User))
        }
        follow_ups = {
            fid: "staff@demo.example"
            for (fid,) in session.execute(
                select(FollowUp.id).join(SurveyResponse, FollowUp.response_id == SurveyResponse.id)
            )
        }
    with session:
        people = {uid: "staff@demo.example" for (uid,) in session.execute(select(User.id))}  # administrators
        gateways = {gid: "staff@demo.example" for (gid,) in session.execute(select(Gateway.id))}
        api_tokens = {
            tid: email for tid, email in session.execute(select(ApiToken.id, User.email).join(User))
        }
        notifications = {
            nid: email for nid, email in session.execute(select(Notification.id, User.email).join(User))
        }
        if session.scalar(select(DataExport.id).limit(1)) is None:  # the demo has none: one of fm's own
            fm = session.scalars(select(User).where(User.email == "fm@demo.example")).one()
            start = datetime(2026, 11, 1, tzinfo=UTC)
            session.add(
                DataExport(
                    requested_by=fm.id,
                    customer_id=fm.customer_id,
                    asset_ids=[1],
                    start=start,
                    end=start + timedelta(days=1),
                )
            )
            session.commit()
        exports = {  # an export belongs to whoever asked for it
            eid: email
            for eid, email in session.execute(
                select(DataExport.id, User.email).join(User, DataExport.requested_by == User.id)
            )
        }
    return {
        "prompt_id": prompts,
        "follow_up_id": follow_ups,
        "user_id": people,
        "gateway_id": gateways,
        "token_id": api_tokens,
        "notification_id": notifications,
        "export_id": exports,
    }


def _out_of_scope(
    email: str, arg: str, sites_of: dict[str, dict[int, str]], owners: dict[str, dict[int, str]]
) -> list[int]:
    """A few existing objects of this kind that ``email`` may not see."""
    if arg in owners:
        return sorted(oid for oid, owner in owners[arg].items() if owner != email)[:3]
    visible_customers, visible_sites = EXPECTED[email]
    if arg in ("customer_id", "contract_id", "webhook_id"):
        return sorted(cid for cid, name in sites_of[arg].items() if name not in visible_customers)
    return sorted(oid for oid, site in sites_of[arg].items() if site not in visible_sites)[:3]


def test_every_id_route_is_covered(app: Flask, sites_of: dict[str, dict[int, str]]) -> None:
    args = {arg for _rule, _method, arg in _id_rules(app)}
    assert args == set(sites_of) | {
        "prompt_id",
        "follow_up_id",
        "user_id",
        "gateway_id",
        "token_id",
        "notification_id",
        "export_id",
    }, "a new kind needs its scope here"


@pytest.mark.parametrize("email", [*ACCOUNTS, None])
def test_ids_too_large_for_the_database_are_not_found(
    app: Flask, login: Callable[[str], FlaskClient], email: str | None
) -> None:
    client = login(email) if email else app.test_client()
    for rule, method, arg in _id_rules(app):
        for value in HUGE_IDS:
            assert _call(client, method, _url(rule, arg, value)) == 404, (method, rule.rule, value)


@pytest.mark.parametrize("email", ACCOUNTS)
def test_a_missing_object_answers_404_on_every_route(
    app: Flask, login: Callable[[str], FlaskClient], email: str
) -> None:
    client = login(email)
    for rule, method, arg in _id_rules(app):
        assert _call(client, method, _url(rule, arg, str(MAX_ID))) == 404, (email, method, rule.rule)


@pytest.mark.parametrize("email", ACCOUNTS)
def test_an_object_out_of_scope_answers_like_a_missing_one(
    app: Flask,
    login: Callable[[str], FlaskClient],
    email: str,
    sites_of: dict[str, dict[int, str]],
    owners: dict[str, dict[int, str]],
) -> None:
    client = login(email)
    checked = 0
    for rule, method, arg in _id_rules(app):
        for oid in _out_of_scope(email, arg, sites_of, owners):
            status = _call(client, method, _url(rule, arg, str(oid)))
            assert status == 404, (email, method, rule.rule, oid, status)
            checked += 1
    if email != "staff@demo.example":
        assert checked > 20, "the demo should give every account objects it may not see"


@pytest.mark.parametrize("query", ["ids=10321689436864808747008", "ids=0", "ids=1,x", f"ids={MAX_ID + 1}"])
def test_an_id_list_that_cannot_hold_ids_is_a_bad_request(
    login: Callable[[str], FlaskClient], query: str
) -> None:
    resp = login("staff@demo.example").get(f"/api/v1/assets?{query}")
    assert resp.status_code == 400
    assert all(name.startswith("ids") for name in resp.get_json()["fields"])


@pytest.mark.parametrize(
    "url",
    [
        "/portfolio?site=10321689436864808747008",
        "/satisfaction?site=99999999999999999999",
        "/satisfaction?customer=10321689436864808747008",
        "/satisfaction/responses.csv?site=99999999999999999999",
    ],
)
def test_filters_with_ids_too_large_are_refused_not_crashed(
    login: Callable[[str], FlaskClient], url: str
) -> None:
    resp = login("staff@demo.example").get(url)
    assert resp.status_code in (200, 400), resp.status_code  # the filter is refused with its reason
    if resp.status_code == 200:
        assert "site must be chosen" in resp.get_data(as_text=True)


def test_a_form_owner_id_too_large_is_refused(app: Flask, login: Callable[[str], FlaskClient]) -> None:
    with app.extensions["fleet.db"].sessionmaker() as s:
        item = s.scalar(select(Feedback.id).limit(1))
    resp = login("staff@demo.example").post(
        f"/feedback/{item}/owner", data={"owner_id": "10321689436864808747008"}
    )
    assert resp.status_code == 400
