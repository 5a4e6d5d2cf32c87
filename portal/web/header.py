"""The page header's figures (unread notifications and feedback, a waiting survey question),
computed once per page **before** its template renders.

Templates read them through ``notifications_unread()``, ``feedback_unread_total()`` and
``survey_prompt()``, which only read what was prepared: rendering never queries for them
and never writes. The work is done on Flask's ``before_render_template`` signal for full
pages (fragments, whose names start with ``_``, and anonymous pages need none of it), so
redirects, JSON and CSV answers pay nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Flask, before_render_template, g
from flask_login import current_user
from jinja2 import Template

from portal.extensions import db_session
from portal.feedback.presenters import unread_map
from portal.notifications import service as notifications
from portal.satisfaction.questions import Question, prepare_prompt

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PageHeader:
    """What the header of a signed-in page shows."""

    notifications_unread: int = 0
    feedback_unread: int = 0
    survey: Question | None = None


EMPTY = PageHeader()


def prepare(_app: Flask, template: Template, **_extra: Any) -> None:
    """Fill ``g.page_header`` for a full page of a signed-in user (once per request)."""
    if "page_header" in g or (template.name or "").rsplit("/", 1)[-1].startswith("_"):
        return
    if not current_user.is_authenticated:
        g.page_header = EMPTY
        return
    g.page_header = PageHeader(
        notifications_unread=notifications.unread_count(db_session(), current_user),
        feedback_unread=sum(unread_map().values()),
        survey=prepare_prompt(),
    )


def _header() -> PageHeader:
    return g.get("page_header", EMPTY)


def notifications_unread() -> int:
    """Unread notifications of the signed-in user (prepared before rendering)."""
    return _header().notifications_unread


def feedback_unread_total() -> int:
    """Feedback items with activity the signed-in user has not seen (prepared before rendering)."""
    return _header().feedback_unread


def survey_prompt() -> Question | None:
    """The survey question waiting for the signed-in user on this page (prepared before rendering)."""
    return _header().survey


def init_app(app: Flask) -> None:
    """Prepare headers before each page renders and expose them to templates."""
    before_render_template.connect(prepare, app)
    for helper in (notifications_unread, feedback_unread_total, survey_prompt):
        app.add_template_global(helper)
