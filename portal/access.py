"""The access rule, in one place: who may see which customers, sites and assets.

Every view, API endpoint and live channel asks this module. A principal is either a
logged-in :class:`~fleet.models.User` or an anonymous resident holding one asset's
link. Objects outside a principal's scope are reported as *not found*
(:class:`NotVisible`), never as forbidden, so their existence does not leak.

Visibility (which objects exist for a principal):
- vendor staff see every customer, site and asset;
- other users with an explicit list of sites see those sites (and their assets);
- other users with only a customer see every site of that customer;
- a user with neither sees nothing;
- a resident link sees its one asset, and no site or customer page;
- outages, visits and maintenance plans are visible with their asset; feedback to staff,
  to facility managers and HOA presidents of its site, and to its author; a survey
  question to the person asked; a follow-up to vendor staff.

Permissions (what a principal may do with what it sees) are the named rules at the end
of this module: views use them through :func:`requires`, templates through ``can(...)``,
services by calling them. An object outside the scope answers 404 everywhere (raise
:class:`NotVisible`); 403 is only for an object in scope that the role may not act on.
Nothing outside this module compares stakeholder groups.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import wraps
from typing import ParamSpec, TypeVar

from flask_babel import LazyString
from sqlalchemy import ColumnElement, Select, and_, false, or_, select, true
from sqlalchemy.orm import QueryableAttribute, Session

from fleet.models import (
    Asset,
    Contract,
    Customer,
    Feedback,
    FollowUp,
    Gateway,
    MaintenancePlan,
    MonthlyReport,
    Outage,
    Site,
    StakeholderGroup,
    SurveyPrompt,
    User,
    Visit,
    WebhookEndpoint,
)
from portal.refusal import Refused

logger = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")


class NotVisible(LookupError):
    """The object does not exist or is outside the principal's scope (answer 404)."""


@dataclass(frozen=True)
class Scope:
    """What one principal may see, computed once per request."""

    everything: bool = False
    customer_ids: frozenset[int] = field(default_factory=frozenset)
    site_ids: frozenset[int] = field(default_factory=frozenset)
    asset_ids: frozenset[int] = field(default_factory=frozenset)
    sites_visible: bool = True

    @classmethod
    def for_user(cls, user: User) -> Scope:
        """The scope of an account, from its group, customer and site list."""
        if not user.is_active:
            return cls()
        if user.group is StakeholderGroup.VENDOR_STAFF:
            return cls(everything=True)
        site_ids = frozenset(site.id for site in user.sites)
        if site_ids:
            return cls(site_ids=site_ids)
        if user.customer_id is not None:
            return cls(customer_ids=frozenset({user.customer_id}))
        return cls()

    @classmethod
    def for_resident(cls, asset_id: int) -> Scope:
        """The scope of an anonymous resident link: one asset, no site or customer."""
        return cls(asset_ids=frozenset({asset_id}), sites_visible=False)

    # --- SQL filters -------------------------------------------------------------
    def site_filter(self) -> ColumnElement[bool]:
        """A WHERE clause on :class:`Site` for the sites in scope."""
        if not self.sites_visible:
            return false()
        if self.everything:
            return true()
        clauses = []
        if self.site_ids:
            clauses.append(Site.id.in_(self.site_ids))
        if self.customer_ids:
            clauses.append(Site.customer_id.in_(self.customer_ids))
        if not clauses:
            return false()
        return clauses[0] if len(clauses) == 1 else clauses[0] | clauses[1]

    def asset_filter(self) -> ColumnElement[bool]:
        """A WHERE clause on :class:`Asset` for the assets in scope."""
        if self.everything:
            return true()
        if self.asset_ids:
            return Asset.id.in_(self.asset_ids)
        return Asset.site_id.in_(select(Site.id).where(self.site_filter()))

    def customer_filter(self) -> ColumnElement[bool]:
        """A WHERE clause on :class:`Customer`: customers with at least one site in scope."""
        if self.everything:
            return true()
        if not self.sites_visible:
            return false()
        return Customer.id.in_(select(Site.customer_id).where(self.site_filter()))

    # Archived records keep their history: pages reached by id still show them, but the
    # daily views (lists, boards, counters) use these filters and leave them out, and KPIs
    # over a period count an archived asset only for the time before its archiving.
    def daily_site_filter(self) -> ColumnElement[bool]:
        """Sites in scope that are not archived."""
        return and_(self.site_filter(), Site.archived_at.is_(None))

    def daily_asset_filter(self) -> ColumnElement[bool]:
        """Assets in scope that are not archived."""
        return and_(self.asset_filter(), Asset.archived_at.is_(None))

    def period_asset_filter(self, start: datetime) -> ColumnElement[bool]:
        """Assets in scope that were in service at some time since ``start``."""
        return and_(self.asset_filter(), or_(Asset.archived_at.is_(None), Asset.archived_at > start))

    # --- queries -------------------------------------------------------------------
    def customers(self) -> Select[Customer]:
        """Customers in scope, by name (not archived)."""
        stmt = select(Customer).where(self.customer_filter(), Customer.archived_at.is_(None))
        return stmt.order_by(Customer.name)

    def sites(self) -> Select[Site]:
        """Sites in scope, by name (not archived)."""
        return select(Site).where(self.daily_site_filter()).order_by(Site.name)

    def assets(self) -> Select[Asset]:
        """Assets in scope, by site then name (not archived)."""
        return (
            select(Asset)
            .join(Site, Asset.site_id == Site.id)
            .where(self.daily_asset_filter())
            .order_by(Site.name, Asset.name)
        )

    def can_see_asset(self, session: Session, asset_id: int) -> bool:
        """True if the asset exists and is in scope."""
        stmt = select(Asset.id).where(Asset.id == asset_id, self.asset_filter())
        return session.scalar(stmt) is not None

    def get_customer(self, session: Session, customer_id: int) -> Customer:
        """The customer, or :class:`NotVisible`."""
        return _one(session, select(Customer).where(Customer.id == customer_id, self.customer_filter()))

    def get_site(self, session: Session, site_id: int) -> Site:
        """The site, or :class:`NotVisible`."""
        return _one(session, select(Site).where(Site.id == site_id, self.site_filter()))

    def get_asset(self, session: Session, asset_id: int) -> Asset:
        """The asset, or :class:`NotVisible`."""
        return _one(session, select(Asset).where(Asset.id == asset_id, self.asset_filter()))

    def _on_visible_asset(self, model: type[T], column: QueryableAttribute[int]) -> Select[T]:
        return select(model).where(column.in_(select(Asset.id).where(self.asset_filter())))

    def get_outage(self, session: Session, outage_id: int) -> Outage:
        """An outage of an asset in scope, or :class:`NotVisible`."""
        return _one(session, self._on_visible_asset(Outage, Outage.asset_id).where(Outage.id == outage_id))

    def get_visit(self, session: Session, visit_id: int) -> Visit:
        """A visit on an asset in scope, or :class:`NotVisible`."""
        return _one(session, self._on_visible_asset(Visit, Visit.asset_id).where(Visit.id == visit_id))

    def get_plan(self, session: Session, plan_id: int) -> MaintenancePlan:
        """A maintenance plan of an asset in scope, or :class:`NotVisible`."""
        stmt = self._on_visible_asset(MaintenancePlan, MaintenancePlan.asset_id)
        return _one(session, stmt.where(MaintenancePlan.id == plan_id))

    def get_contract(self, session: Session, contract_id: int) -> Contract:
        """A contract of a customer in scope, or :class:`NotVisible`."""
        stmt = select(Contract).where(
            Contract.id == contract_id,
            Contract.customer_id.in_(select(Customer.id).where(self.customer_filter())),
        )
        return _one(session, stmt)

    def get_webhook(self, session: Session, webhook_id: int) -> WebhookEndpoint:
        """A webhook endpoint of a customer in scope (not removed), or :class:`NotVisible`."""
        stmt = select(WebhookEndpoint).where(
            WebhookEndpoint.id == webhook_id,
            WebhookEndpoint.disabled_at.is_(None),
            WebhookEndpoint.customer_id.in_(select(Customer.id).where(self.customer_filter())),
        )
        return _one(session, stmt)

    def report_filter(self) -> ColumnElement[bool]:
        """A WHERE clause on :class:`MonthlyReport`: the reports of sites in scope, and a
        customer's whole report only to those who see the whole customer."""
        if self.everything:
            return true()
        if not self.sites_visible:
            return false()
        of_sites = MonthlyReport.site_id.in_(select(Site.id).where(self.site_filter()))
        if not self.customer_ids:
            return of_sites
        whole = and_(MonthlyReport.site_id.is_(None), MonthlyReport.customer_id.in_(self.customer_ids))
        return or_(of_sites, whole)

    def get_report(self, session: Session, report_id: int) -> MonthlyReport:
        """A monthly report in scope, or :class:`NotVisible`."""
        return _one(session, select(MonthlyReport).where(MonthlyReport.id == report_id, self.report_filter()))

    def get_gateway(self, session: Session, gateway_id: int) -> Gateway:
        """A device gateway (vendor staff only: they are the vendor's equipment), or :class:`NotVisible`."""
        if not self.everything:
            raise NotVisible
        return _one(session, select(Gateway).where(Gateway.id == gateway_id))

    def get_follow_up(self, session: Session, follow_up_id: int) -> FollowUp:
        """A follow-up (vendor staff only: they are the vendor's own work), or :class:`NotVisible`."""
        if not self.everything:
            raise NotVisible
        return _one(session, select(FollowUp).where(FollowUp.id == follow_up_id))


def feedback_filter(user: User, scope: Scope) -> ColumnElement[bool]:
    """A WHERE clause on :class:`Feedback` for what ``user`` may read: vendor staff all;
    facility managers and HOA presidents their sites'; anyone their own."""
    if can(user, "see_every_customer"):
        return true()
    own = Feedback.author_id == user.id
    if can(user, "see_others_feedback"):
        return or_(own, Feedback.site_id.in_(select(Site.id).where(scope.site_filter())))
    return own


def get_feedback(session: Session, user: User, scope: Scope, feedback_id: int) -> Feedback:
    """One feedback item ``user`` may read, or :class:`NotVisible`."""
    return _one(session, select(Feedback).where(Feedback.id == feedback_id, feedback_filter(user, scope)))


def get_person(session: Session, actor: User, user_id: int) -> User:
    """An account, for administrators only; for anyone else no account exists (:class:`NotVisible`)."""
    if not can(actor, "administer"):
        raise NotVisible
    return _one(session, select(User).where(User.id == user_id))


def get_survey_prompt(session: Session, user: User, prompt_id: int) -> SurveyPrompt:
    """A survey question put to ``user`` (nobody else's), or :class:`NotVisible`."""
    return _one(
        session, select(SurveyPrompt).where(SurveyPrompt.id == prompt_id, SurveyPrompt.user_id == user.id)
    )


def _one(session: Session, stmt: Select[T]) -> T:
    obj = session.scalar(stmt)
    if obj is None:
        raise NotVisible
    return obj


def resident_asset(session: Session, token: str) -> Asset:
    """The asset behind a resident link token, or :class:`NotVisible`."""
    if not _TOKEN_RE.fullmatch(token):
        raise NotVisible
    asset = session.scalar(select(Asset).where(Asset.public_token == token))
    if asset is None:
        raise NotVisible
    return asset


# --- permissions: named rules ----------------------------------------------------------------
class Forbidden(Refused):
    """The object is in scope but this role may not act on it (answered 403 with the message)."""

    def __init__(self, message: str | LazyString) -> None:
        super().__init__(message, 403)


STAFF, FM, HOA, TECH = (
    StakeholderGroup.VENDOR_STAFF,
    StakeholderGroup.FACILITY_MANAGER,
    StakeholderGroup.HOA_PRESIDENT,
    StakeholderGroup.FIELD_TECHNICIAN,
)

# Each rule answers "may this account …?" by the groups allowed; views, templates, services
# and SQL (:func:`accounts_who`) use the same names.
RULES: dict[str, frozenset[StakeholderGroup]] = {
    "dispatch": frozenset({STAFF}),  # assign a technician to an outage
    "manage_plans": frozenset({STAFF}),  # add and stop maintenance plans
    "handle_follow_ups": frozenset({STAFF}),  # call back detractors and unhappy customers
    "own_feedback": frozenset({STAFF}),  # be the owner of a feedback item
    "see_feedback_contacts": frozenset({STAFF}),  # residents' contact details
    "see_every_customer": frozenset({STAFF}),
    "see_kpis": frozenset({STAFF, FM}),
    "see_satisfaction": frozenset({STAFF, FM}),  # the aggregate dashboard and its exports
    "handle_feedback": frozenset({STAFF, FM}),  # move feedback along its statuses
    "see_others_feedback": frozenset({STAFF, FM, HOA}),  # technicians read only their own
    "be_surveyed": frozenset({FM, HOA, TECH}),  # vendor staff are never asked
    "be_asked_about_assets": frozenset({FM, HOA}),  # after outages and visits on their assets
    "meet_technician": frozenset({FM, HOA}),  # ask to meet the technician at a visit
    "read_visit_reports": frozenset({FM, HOA, STAFF}),
    "read_monthly_reports": frozenset({FM, HOA, STAFF}),  # the monthly service reports of their scope
    "export_data": frozenset({FM, STAFF}),  # download their customer's equipment data (staff: any)
    "do_visits": frozenset({TECH}),  # check in and out; be dispatched; the visit list
    "work_across_customers": frozenset({TECH}),  # a site list may span customers (a route)
    "be_told_of_outages": frozenset({FM, HOA, TECH, STAFF}),
    "report_outages": frozenset({FM, HOA, TECH, STAFF}),  # a unit they see out of service
    "be_told_as_customer": frozenset({FM, HOA}),
    "hear_in_plain_words": frozenset({HOA}),  # the building page, plain sentences
    "see_sensor_warnings": frozenset({TECH, STAFF}),  # watch items, their evidence and charts
    "act_on_sensor_warnings": frozenset({TECH, STAFF}),  # plan a check, record a finding, dismiss
    "see_watch_board": frozenset({STAFF}),  # every open warning across customers
    "be_told_of_sensor_warnings": frozenset({TECH, STAFF}),
    "hear_of_sensor_warnings": frozenset({FM, HOA}),  # a plain sentence, when the contract says so
    "see_relationship_health": frozenset({STAFF}),  # health, risk, outreach, renewals (others: 404)
    "set_health_points": frozenset({STAFF}),  # the points each health factor is worth
    "rank_providers": frozenset({FM}),  # the periodic survey asks where we rank among their providers
    "manage_webhooks": frozenset({STAFF, FM}),  # register their customers' webhook endpoints
    "needs_second_factor": frozenset({STAFF}),  # when REQUIRE_STAFF_MFA is on
    "administer": frozenset({STAFF}),  # people and the fleet's registry: staff with the administrator right
}
NEEDS_ADMIN_RIGHT = frozenset({"administer"})


def can(user: object, rule: str) -> bool:
    """True if ``user`` (an account; anything else is anonymous) may do what ``rule`` names."""
    groups = RULES[rule]  # a KeyError for a misspelt rule, never a silent False
    if not (isinstance(user, User) and user.is_active and user.group in groups):
        return False
    return rule not in NEEDS_ADMIN_RIGHT or bool(user.is_admin)


def accounts_who(rule: str) -> ColumnElement[bool]:
    """A WHERE clause on :class:`User`: the active accounts that ``rule`` allows."""
    clause = User.group.in_(RULES[rule]) & User.is_active.is_(True)
    return clause & User.is_admin.is_(True) if rule in NEEDS_ADMIN_RIGHT else clause


def check(user: object, rule: str, message: str | LazyString) -> None:
    """Raise :class:`Forbidden` with ``message`` unless ``user`` may do what ``rule`` names."""
    if not can(user, rule):
        raise Forbidden(message)


def requires(rule: str, message: str | LazyString) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """View decorator: 403 with ``message`` unless the signed-in user may do what ``rule`` names.

    Put it under ``@login_required``; the user comes from Flask-Login (imported here
    lazily so that this module stays usable without a request)."""
    RULES[rule]

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            from flask_login import current_user

            check(current_user._get_current_object(), rule, message)
            return view(*args, **kwargs)

        return wrapper

    return decorate
