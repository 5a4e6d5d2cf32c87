"""The page header (unread counts, a due survey question) is prepared before the template
renders: rendering never writes to the database, even when a new question is created."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select

from config import ROOT
from fleet.db import utcnow
from fleet.models import Site, StakeholderGroup, SurveyPrompt, User, Visit, VisitKind, VisitStatus
from portal.auth.service import create_user

TEMPLATES = str(ROOT / "templates")
PASSWORD = "a long enough password 42"
WRITES = ("INSERT", "UPDATE", "DELETE")


@pytest.fixture
def statements(app: Flask) -> Iterator[list[tuple[str, bool, str]]]:
    """Every SQL statement the portal runs, with whether a template was rendering it."""
    seen: list[tuple[str, bool, str]] = []
    engine = app.extensions["fleet.db"].engine

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        rendering = any(frame.filename.startswith(TEMPLATES) for frame in inspect.stack(0))
        seen.append((statement.lstrip().split(None, 1)[0].upper(), rendering, statement))

    def record_commit(_conn: Any) -> None:
        rendering = any(frame.filename.startswith(TEMPLATES) for frame in inspect.stack(0))
        seen.append(("COMMIT", rendering, "COMMIT"))

    event.listen(engine, "before_cursor_execute", record)
    event.listen(engine, "commit", record_commit)
    yield seen
    event.remove(engine, "before_cursor_execute", record)
    event.remove(engine, "commit", record_commit)


def _header_queries_while_rendering(statements: list[tuple[str, bool, str]]) -> list[str]:
    """Queries for the header's figures (notifications, feedback reads, survey questions)
    that ran while a template rendered: there should be none."""
    tables = ("notifications", "feedback_reads", "survey_prompts")
    return [sql[:120] for _kind, rendering, sql in statements if rendering and any(t in sql for t in tables)]


def _new_hoa_with_a_visit_done(app: Flask) -> str:
    """An HOA president of Le Belvédère, and a maintenance visit there completed an hour ago."""
    now = utcnow()
    email = f"hoa.header.{now.timestamp():.0f}@example.org"
    with app.app_context(), app.extensions["fleet.db"].session() as s:
        site = s.scalars(select(Site).where(Site.name == "Résidence Le Belvédère")).one()
        create_user(s, email=email, name="Header Test", password=PASSWORD,
                    group=StakeholderGroup.HOA_PRESIDENT, site_ids=[site.id])  # fmt: skip
        s.add(
            Visit(
                asset_id=site.assets[0].id,
                kind=VisitKind.PREVENTIVE,
                status=VisitStatus.COMPLETED,
                scheduled_start=now - timedelta(hours=3),
                scheduled_end=now - timedelta(hours=1),
                summary="x",
                checked_in_at=now - timedelta(hours=3),
                checked_out_at=now - timedelta(hours=1),
            )
        )
    return email


def test_a_new_survey_question_is_stored_before_the_page_renders(
    app: Flask, statements: list[tuple[str, bool, str]]
) -> None:
    email = _new_hoa_with_a_visit_done(app)
    client = app.test_client()
    assert client.post("/auth/login", data={"email": email, "password": PASSWORD}).status_code == 302
    statements.clear()
    page = client.get("/")
    assert page.status_code == 200
    assert b"survey-card" in page.data
    writes = [(kind, rendering) for kind, rendering, _sql in statements if kind in (*WRITES, "COMMIT")]
    assert ("INSERT", False) in writes  # the question was created on this request …
    assert not [w for w in writes if w[1]], writes  # … and never while the template rendered
    assert _header_queries_while_rendering(statements) == []
    with app.app_context(), app.extensions["fleet.db"].session() as s:
        user = s.scalars(select(User).where(User.email == email)).one()
        assert len(s.scalars(select(SurveyPrompt).where(SurveyPrompt.user_id == user.id)).all()) == 1


@pytest.mark.parametrize("email", ["fm@demo.example", "tech@demo.example", "staff@demo.example"])
def test_pages_render_without_touching_the_database(
    app: Flask, statements: list[tuple[str, bool, str]], email: str
) -> None:
    from tests.conftest import logged_in_client

    client = logged_in_client(app, email)
    statements.clear()
    for path in ("/", "/portfolio", "/outages", "/notifications", "/feedback"):
        assert client.get(path, follow_redirects=True).status_code == 200, path
    assert statements, "the pages read the database"
    assert [kind for kind, rendering, _sql in statements if rendering and kind in (*WRITES, "COMMIT")] == []
    assert _header_queries_while_rendering(statements) == []
