"""The OpenAPI 3.1 document, generated from the app's routes and the pydantic models.

Each API view says what it takes and answers with :func:`documented`; :func:`spec` walks
the app's URL map, so every ``/api/v1`` route is in the document (a route without a
description fails :func:`spec`), and builds every schema from :mod:`portal.api.schemas`
with pydantic's JSON Schema generator. Nothing of the document is written by hand but
the words.

Written here rather than taken from a framework (flask-openapi3, spectree) because those
replace the app class or the view signatures; this keeps Flask's blueprints, the login
and the 404 rule as they are, in about 150 lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from fleet.db import MAX_ID
from portal.api.schemas import Error

F = TypeVar("F", bound=Callable[..., Any])
REF = "#/components/schemas/{model}"
ERROR_TEXT = {
    400: "The request does not match this description (the reasons by field)",
    401: "No valid login session or API token",
    403: "Your role may not do this",
    404: "Not found, or not in your scope (the same answer, so existence does not leak)",
    409: "Conflicts with what is stored",
    410: "No longer kept",
    413: "The body is too large",
    415: "The body is not application/json",
    422: "Well formed, but refused by a rule (the reasons by field)",
    429: "Too many requests with this token; see Retry-After",
    503: "The telemetry store is not answering",
}
CSV = {"text/csv": {"schema": {"type": "string"}}}


@dataclass(frozen=True)
class Operation:
    """What one API view takes and answers."""

    summary: str
    response: type[BaseModel]
    status: int = 200
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    csv: bool = False
    public: bool = False
    tag: str = "read"
    headers: dict[str, str] = field(default_factory=dict)
    file: str | None = None  # the answer is a file of this media type, not JSON


def documented(summary: str, response: type[BaseModel], **options: Any) -> Callable[[F], F]:
    """Describe an API view for the document (see :class:`Operation` for the options)."""

    def mark(view: F) -> F:
        view.__openapi__ = Operation(summary, response, **options)  # type: ignore[attr-defined]
        return view

    return mark


_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def _path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    params = []
    for converter, name in _PARAM.findall(rule):
        schema: dict[str, Any] = (
            {"type": "integer", "minimum": 1, "maximum": MAX_ID}
            if converter == "int"
            else {"type": "string", "minLength": 1, "maxLength": 200}
        )
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return _PARAM.sub(r"{\2}", rule), params


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema without its ``null`` branch (an absent parameter is the null)."""
    branches = [b for b in schema.get("anyOf", []) if b.get("type") != "null"]
    if len(branches) == 1:
        rest = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
        return {**branches[0], **rest}
    return {k: v for k, v in schema.items() if k != "default" or v is not None}


def _query_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    params = []
    for name, raw in schema["properties"].items():
        prop = _without_null(dict(raw))
        comma = prop.pop("x-comma-separated", False)
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required}
        if "description" in prop:
            param["description"] = prop.pop("description")
        prop.pop("title", None)
        param["schema"] = prop
        if comma:
            param.update(style="form", explode=False)
        params.append(param)
    return params


def _json(ref: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def _operation(op: Operation, doc: str, path_params: list[Any], refs: dict[Any, Any]) -> dict[str, Any]:
    ok = _json(refs[(op.response, "serialization")], op.response.__doc__ or "OK")
    if op.file:
        ok = {"description": f"The file ({op.file})", "content": {op.file: {"schema": {"type": "string"}}}}
    if op.csv:
        ok["content"].update(CSV)
        ok["headers"] = {
            "Link": {"description": 'CSV: <next page>; rel="next"', "schema": {"type": "string"}}
        }
    errors = set(op.errors) | ({400} if op.query or op.body else set()) | ({401} if not op.public else set())
    if op.body is not None:
        errors |= {413, 415}
    if not op.public:
        errors.add(429)
    error_ref = refs[(Error, "serialization")]
    responses = {str(op.status): ok}
    for code in sorted(errors):
        responses[str(code)] = _json(error_ref, ERROR_TEXT[code])
        if code == 429:
            responses["429"]["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    out: dict[str, Any] = {
        "summary": op.summary,
        "description": " ".join(doc.split()),
        "tags": [op.tag],
        "responses": responses,
    }
    params = path_params + (_query_params(op.query) if op.query else [])
    if params:
        out["parameters"] = params
    if op.body is not None:
        out["requestBody"] = {"required": True, **_json(refs[(op.body, "validation")], op.body.__doc__ or "")}
    if op.public:
        out["security"] = []
    return out


def operations(app: Flask) -> list[tuple[str, str, Operation, Callable[..., Any]]]:
    """Every ``/api/v1`` route as (rule, method, operation, view); a route without an
    :class:`Operation` raises ``LookupError`` (it would be missing from the document)."""
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        view = app.view_functions[rule.endpoint]
        op = getattr(view, "__openapi__", None)
        if op is None:
            raise LookupError(f"{rule.rule} ({rule.endpoint}) is not described: add @documented")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((rule.rule, method, op, view))
    return out


def spec(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of ``app``'s API."""
    ops = operations(app)
    models: dict[tuple[type[BaseModel], str], None] = {(Error, "serialization"): None}
    for _rule, _method, op, _view in ops:
        models[(op.response, "serialization")] = None
        if op.body is not None:
            models[(op.body, "validation")] = None
    refs, top = models_json_schema(list(models), ref_template=REF)  # type: ignore[arg-type]
    paths: dict[str, dict[str, Any]] = {}
    for rule, method, op, view in ops:
        path, path_params = _path(rule)
        paths.setdefault(path, {})[method.lower()] = _operation(op, view.__doc__ or "", path_params, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Equipment portal API",
            "version": "1",
            "description": "The data of the portal's pages as JSON or CSV, scoped by the same access rule: "
            "each account sees and changes only its own customers, sites and units. Authenticate with an "
            "API token (Authorization: Bearer ept_…, created on the Account → API tokens page) or the "
            "portal's login session (writes then need the X-CSRFToken header). Resident links use their "
            "token in the path. Errors always have the Error shape.",
        },
        "servers": [{"url": "/"}],
        "tags": [
            {"name": "read", "description": "What the pages show"},
            {"name": "export", "description": "A period's rows, paged with cursors, as JSON or CSV"},
            {"name": "write", "description": "Report, give feedback, acknowledge, sync the registry"},
        ],
        "components": {
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer", "description": "An API token (ept_…)"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
            "schemas": top.get("$defs", {}),
        },
        "security": [{"token": []}, {"session": []}],
        "paths": paths,
    }


def cached_spec(app: Flask) -> dict[str, Any]:
    """:func:`spec`, built on the first request that asks and kept for the app's life (the
    routes and models do not change while it runs)."""
    document: dict[str, Any] | None = app.extensions.get("portal.openapi")
    if document is None:
        document = app.extensions["portal.openapi"] = spec(app)
    return document
