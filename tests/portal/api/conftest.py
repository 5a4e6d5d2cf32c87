"""API test helpers: a bearer token for any demo account, made through the token service."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select

from fleet.db import utcnow
from fleet.models import User
from portal.tokens import service as tokens


@pytest.fixture(scope="module")
def bearer(app: Flask) -> Callable[[str], dict[str, str]]:
    """``bearer(email)``: the Authorization header of a token of that account (one per module)."""
    made: dict[str, dict[str, str]] = {}

    def _bearer(email: str) -> dict[str, str]:
        if email not in made:
            with app.extensions["fleet.db"].session() as session:
                owner = session.scalars(select(User).where(User.email == email)).one()
                secret = tokens.create(session, owner, "API tests", 1, utcnow()).secret
            made[email] = {"Authorization": f"Bearer {secret}"}
        return made[email]

    return _bearer
