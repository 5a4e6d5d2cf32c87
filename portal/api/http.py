"""The API blueprint and what every API view shares: reading a query string or a JSON body
through its model, answering with a model, and the one error shape.

Status codes: ``400`` for a request that does not match the documented schema, ``422``
for a well-formed request that a rule refuses (an unknown customer, a period whose end
comes before its start), ``404`` for what is missing or out of scope, ``409`` for a
conflict with what is stored.
"""

from __future__ import annotations

import logging
from typing import TypeVar

from flask import Blueprint, Response, current_app, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from pydantic import BaseModel, ValidationError

from portal.api.schemas import Error
from portal.extensions import csrf

logger = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")

M = TypeVar("M", bound=BaseModel)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class BadRequest(ValueError):
    """A request the API refuses, with the status, the reason and the refused fields."""

    def __init__(self, message: str, status: int = 400, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.fields = fields


@bp.errorhandler(BadRequest)
def bad_request(exc: BadRequest) -> ResponseReturnValue:
    """Refused input: the documented error shape."""
    logger.info("API refused %s %s: %s (%s)", request.method, request.path, exc.message, exc.status)
    return reply(Error(error=exc.message, fields=exc.fields), exc.status)


@bp.before_request
def _csrf_for_sessions() -> None:
    """A write with the login cookie needs the CSRF token like a form; a bearer token does not
    (and an anonymous request is answered 401 by the view)."""
    if request.method in SAFE_METHODS or request.headers.get("Authorization", "").startswith("Bearer "):
        return
    if current_user.is_authenticated and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()


def reply(model: BaseModel, status: int = 200) -> Response:
    """``model`` as the JSON body (the document's schema of this answer)."""
    return Response(model.model_dump_json(), status=status, mimetype="application/json")


def _fields(exc: ValidationError, prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for err in exc.errors(include_url=False):
        name = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        out.setdefault(prefix + (name or "body"), []).append(err["msg"])
    return out


def query(model: type[M]) -> M:
    """The query string read through ``model``; 400 with the reasons if it does not fit."""
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise BadRequest("The query string does not match the API description.", 400, _fields(exc)) from None


def body(model: type[M]) -> M:
    """The JSON body read through ``model``; 415 if it is not JSON, 400 if it does not fit."""
    if request.mimetype != "application/json":
        raise BadRequest("Send the body as application/json.", 415)
    try:
        return model.model_validate_json(request.get_data() or b"null")
    except ValidationError as exc:
        raise BadRequest("The body does not match the API description.", 400, _fields(exc)) from None
