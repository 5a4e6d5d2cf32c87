"""The current request's access scope (see :mod:`portal.access` for the rule)."""

from __future__ import annotations

from flask import g
from flask_login import current_user

from portal.access import Scope


def current_scope() -> Scope:
    """The logged-in user's scope, computed once per request (empty when anonymous)."""
    scope = g.get("scope")
    if scope is None:
        scope = Scope.for_user(current_user) if current_user.is_authenticated else Scope()
        g.scope = scope
    return scope
