"""The OpenAPI 3.1 description of the JSON API (served at ``/api/v1/openapi.json``).

Written by hand next to the views; a test checks that every ``/api/v1`` route is
described here and that nothing described here is missing from the app.
"""

from __future__ import annotations

from typing import Any

from portal.api.exports import OUTAGE_COLUMNS, VISIT_COLUMNS

_ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Bad parameters (the message says which)",
        401: "Not logged in",
        404: "Not found or not in your scope (the same answer, so existence does not leak)",
        503: "The telemetry store is not answering",
    }
    return {str(c): _json(_ERROR, text[c]) for c in codes}


def _id_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}


def _op(
    summary: str,
    ok: dict[str, Any],
    *,
    errors: tuple[int, ...] = (401,),
    params: list[Any] | None = None,
    public: bool = False,
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {"200": ok, **_errors(*errors)}}
    if params:
        op["parameters"] = params
    if public:
        op["security"] = []
    return {"get": op}


def _export_op(summary: str, page: str) -> dict[str, Any]:
    """A period export: a page as JSON (``page`` schema) or CSV, with the shared query parameters."""
    ok = {
        "description": "A page of rows",
        "content": {"application/json": {"schema": _ref(page)}, "text/csv": {"schema": {"type": "string"}}},
        "headers": {"Link": {"description": 'CSV: <next page>; rel="next"', "schema": {"type": "string"}}},
    }
    timestamp = {"type": "string", "format": "date-time"}
    params = [
        {"name": "start", "in": "query", "schema": timestamp, "description": "Default: 30 days before end"},
        {
            "name": "end",
            "in": "query",
            "schema": timestamp,
            "description": "Default: now; at most 400 days after start",
        },
        {"name": "site", "in": "query", "schema": {"type": "integer", "minimum": 1}},
        {
            "name": "format",
            "in": "query",
            "schema": {"enum": ["json", "csv"]},
            "description": "Or send Accept: text/csv",
        },
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 500},
        },
        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
    ]
    return _op(summary, ok, errors=(400, 401, 404), params=params)


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _items(name: str) -> dict[str, Any]:
    return {"type": "object", "properties": {"items": {"type": "array", "items": _ref(name)}}}


_TS = {"type": ["string", "null"], "format": "date-time"}


def _page_schema(row: str) -> dict[str, Any]:
    """A page of an export: its rows and the cursor of the next page."""
    timestamp = {"type": "string", "format": "date-time"}
    return {
        "type": "object",
        "required": ["items", "next_cursor", "start", "end"],
        "properties": {
            "items": {"type": "array", "items": _ref(row)},
            "next_cursor": {"type": ["string", "null"], "description": "pass as cursor for the next page"},
            "start": timestamp,
            "end": timestamp,
        },
    }


SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
    "User": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "email": {"type": "string"},
            "name": {"type": "string"},
            "group": {"enum": ["facility_manager", "hoa_president", "field_technician", "vendor_staff"]},
            "customer_id": {"type": ["integer", "null"]},
            "site_ids": {"type": "array", "items": {"type": "integer"}},
        },
    },
    "Customer": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}},
    "Site": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "customer_id": {"type": "integer"},
            "name": {"type": "string"},
            "kind": {"type": "string"},
            "address": {"type": "string"},
            "city": {"type": "string"},
            "postal_code": {"type": "string"},
            "country": {"type": "string"},
            "timezone": {"type": "string", "description": "IANA zone; times on pages are shown in it"},
            "asset_count": {"type": "integer"},
        },
    },
    "Outage": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "started_at": _TS,
            "ended_at": _TS,
            "fault_code": {"type": ["string", "null"]},
            "cause": {"type": ["string", "null"]},
            "detected_by": {"enum": ["sensor", "report", "technician"]},
        },
    },
    "OutageRow": {
        "type": "object",
        "required": list(OUTAGE_COLUMNS),
        "properties": {
            "id": {"type": "integer"},
            "asset_id": {"type": "integer"},
            "asset_mqtt_id": {"type": "string"},
            "asset_name": {"type": "string"},
            "site_id": {"type": "integer"},
            "site_name": {"type": "string"},
            "started_at": _TS,
            "ended_at": _TS,
            "duration_s": {"type": ["integer", "null"], "description": "null while the outage lasts"},
            "fault_code": {"type": ["string", "null"]},
            "cause": {"type": ["string", "null"]},
            "detected_by": {"enum": ["sensor", "report", "technician"]},
        },
    },
    "VisitRow": {
        "type": "object",
        "required": list(VISIT_COLUMNS),
        "properties": {
            "id": {"type": "integer"},
            "asset_id": {"type": "integer"},
            "asset_mqtt_id": {"type": "string"},
            "asset_name": {"type": "string"},
            "site_id": {"type": "integer"},
            "site_name": {"type": "string"},
            "kind": {"type": "string"},
            "status": {"type": "string"},
            "scheduled_start": _TS,
            "scheduled_end": _TS,
            "checked_in_at": _TS,
            "checked_out_at": _TS,
            "summary": {"type": "string"},
            "report": {
                "type": ["string", "null"],
                "description": "null for accounts that may not read reports",
            },
            "next_action": {"type": ["string", "null"]},
        },
    },
    "VisitPage": _page_schema("VisitRow"),
    "OutagePage": _page_schema("OutageRow"),
    "Visit": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "kind": {"type": "string"},
            "status": {"type": "string"},
            "scheduled_start": _TS,
            "scheduled_end": _TS,
            "summary": {"type": ["string", "null"]},
        },
    },
    "AssetSummary": {
        "type": "object",
        "description": "Status, age, open outage, next visit and availability of one asset. Resident answers "
        "omit identifiers (site, customer, serial number, device id).",
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "kind": {"type": "string"},
            "status": {
                "type": "object",
                "properties": {
                    "state": {
                        "enum": [
                            "in_service",
                            "out_of_service",
                            "maintenance",
                            "degraded",
                            "offline",
                            "unknown",
                        ]
                    },
                    "since": _TS,
                    "fault_code": {"type": ["string", "null"]},
                },
            },
            "age": {
                "type": "object",
                "properties": {"years": {"type": "integer"}, "months": {"type": "integer"}},
            },
            "open_outage": {"oneOf": [_ref("Outage"), {"type": "null"}]},
            "next_visit": {"oneOf": [_ref("Visit"), {"type": "null"}]},
            "availability": {
                "type": "object",
                "properties": {
                    "days_30": {"type": ["number", "null"]},
                    "days_90": {"type": ["number", "null"]},
                    "target": {"type": "number"},
                },
            },
            "site_id": {"type": "integer"},
            "customer_id": {"type": "integer"},
            "mqtt_id": {"type": "string"},
        },
    },
    "Feedback": {
        "type": "object",
        "description": "A feedback item. A resident's contact details are never included.",
        "properties": {
            "id": {"type": "integer"},
            "site_id": {"type": "integer"},
            "asset_id": {"type": ["integer", "null"]},
            "author_group": {
                "enum": ["facility_manager", "hoa_president", "field_technician", "vendor_staff", "resident"]
            },
            "category": {"type": ["string", "null"]},
            "rating": {"type": ["integer", "null"], "minimum": 1, "maximum": 5},
            "text": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}, "description": "topics found in the text"},
            "status": {"enum": ["new", "acknowledged", "in_progress", "resolved"]},
            "owner_id": {"type": ["integer", "null"]},
            "created_at": _TS,
            "last_activity_at": _TS,
            "resolved_at": _TS,
            "replies": {
                "type": "array",
                "description": "Only on the single-item endpoint",
                "items": {
                    "type": "object",
                    "properties": {
                        "author_group": {"type": "string"},
                        "body": {"type": "string"},
                        "created_at": _TS,
                    },
                },
            },
        },
    },
    "Telemetry": {
        "type": "object",
        "properties": {
            "asset_id": {"type": "integer"},
            "start": _TS,
            "end": _TS,
            "interval_s": {"type": "integer", "description": "GROUP BY bucket width"},
            "series": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "field": {"type": "string"},
                        "label": {"type": "string"},
                        "unit": {"type": "string"},
                        "kind": {"enum": ["gauge", "rate"]},
                        "times": {"type": "array", "items": {"type": "integer", "description": "epoch ms"}},
                        "values": {"type": "array", "items": {"type": ["number", "null"]}},
                    },
                },
            },
        },
    },
}


def spec() -> dict[str, Any]:
    """The OpenAPI document."""
    asset_id = _id_param("asset_id")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Equipment portal API",
            "version": "1",
            "description": "The data of the portal's pages as JSON, scoped by the same access rule: "
            "each account sees only its own customers, sites and assets. Authentication is the "
            "portal's login session cookie or an API token (Authorization: Bearer ept_…); resident links "
            "use their token in the path.",
        },
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
                "token": {"type": "http", "scheme": "bearer", "description": "An API token (ept_…)"},
            },
            "schemas": SCHEMAS,
        },
        "security": [{"session": []}, {"token": []}],
        "paths": {
            "/api/v1/me": _op("The logged-in account", _json(_ref("User"), "The account")),
            "/api/v1/customers": _op("Customers in scope", _json(_items("Customer"), "Customers")),
            "/api/v1/customers/{customer_id}": _op(
                "One customer with its sites in scope",
                _json(_ref("Customer"), "The customer"),
                errors=(401, 404),
                params=[_id_param("customer_id")],
            ),
            "/api/v1/sites": _op("Sites in scope with asset counts", _json(_items("Site"), "Sites")),
            "/api/v1/sites/{site_id}": _op(
                "One site with its assets",
                _json(_ref("Site"), "The site"),
                errors=(401, 404),
                params=[_id_param("site_id")],
            ),
            "/api/v1/assets": _op(
                "Every asset in scope with status, age, outage, next visit and availability",
                _json(_items("AssetSummary"), "Assets"),
                errors=(400, 401),
                params=[
                    {
                        "name": "ids",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                        "description": "Comma-separated asset ids (at most 1000) to narrow the list",
                    }
                ],
            ),
            "/api/v1/assets/{asset_id}": _op(
                "One asset with its outage history",
                _json(_ref("AssetSummary"), "The asset"),
                errors=(401, 404),
                params=[asset_id],
            ),
            "/api/v1/assets/{asset_id}/telemetry": _op(
                "Downsampled sensor series of one asset",
                _json(_ref("Telemetry"), "Series"),
                errors=(400, 401, 404, 503),
                params=[
                    asset_id,
                    {
                        "name": "range",
                        "in": "query",
                        "schema": {"enum": ["24h", "7d", "30d"], "default": "24h"},
                    },
                    {
                        "name": "start",
                        "in": "query",
                        "schema": {"type": "string", "format": "date-time"},
                        "description": "With end: an explicit window (zoom), at most 400 days",
                    },
                    {"name": "end", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                ],
            ),
            "/api/v1/outages": _export_op(
                "Outages in scope overlapping a period, oldest first, a page at a time, as JSON or CSV",
                "OutagePage",
            ),
            "/api/v1/visits": _export_op(
                "Visits in scope scheduled in a period, oldest first, a page at a time, as JSON or CSV",
                "VisitPage",
            ),
            "/api/v1/feedback": _op(
                "Feedback the account may read: vendor staff all, facility managers and HOA presidents "
                "their sites', everyone their own (at most 200, newest activity first)",
                _json(_items("Feedback"), "Feedback items"),
            ),
            "/api/v1/feedback/{feedback_id}": _op(
                "One feedback item with its thread",
                _json(_ref("Feedback"), "The item"),
                errors=(401, 404),
                params=[_id_param("feedback_id")],
            ),
            "/api/v1/resident/{token}": _op(
                "The resident view of one asset (the link's token is the credential)",
                _json(_ref("AssetSummary"), "The asset, without identifiers"),
                errors=(404,),
                params=[{"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}],
                public=True,
            ),
            "/api/v1/openapi.json": _op(
                "This document", _json({"type": "object"}, "OpenAPI 3.1"), errors=(), public=True
            ),
        },
    }
