"""The OpenAPI document is generated from the routes and the pydantic models: every route and
method is in it, every response field is required (a value may be null, never missing),
errors share one shape, and a route nobody described is caught."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from portal.api.openapi import operations, spec


def test_every_api_route_and_method_is_described(app: Flask) -> None:
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    assert document == spec(app)
    assert document["openapi"] == "3.1.0"
    routed = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    described = {(path, method) for path, item in document["paths"].items() for method in item}
    assert described == routed
    for path, item in document["paths"].items():
        for method, op in item.items():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"\{(\w+)\}", path)), (path, method)
            ok = [code for code in op["responses"] if code.startswith("2")]
            assert len(ok) == 1, (path, method)
            for code, answer in op["responses"].items():
                if not code.startswith("2"):
                    assert answer["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/Error"
                    }
            if op.get("security") != []:
                assert "401" in op["responses"], (path, method)
            if "requestBody" in op:
                assert {"400", "415"} <= set(op["responses"]), (path, method)


def test_every_response_field_is_required_and_refs_resolve(app: Flask) -> None:
    document = spec(app)
    schemas = document["components"]["schemas"]
    for name, schema in schemas.items():
        if schema.get("type") == "object" and "properties" in schema and name not in ("Error",):
            if schema.get("additionalProperties") is False:
                continue  # a request body: optional fields have defaults
            assert set(schema.get("required", [])) == set(schema["properties"]), name
    for ref in re.findall(r"#/components/schemas/(\w+)", str(document)):
        assert ref in schemas, ref
    assert schemas["Error"]["required"] == ["error"]


def test_a_route_without_a_description_is_refused() -> None:
    bare = Flask(__name__)
    bare.add_url_rule("/api/v1/secret", "secret", lambda: "")
    with pytest.raises(LookupError, match="not described"):
        operations(bare)


def test_answers_match_their_models_for_every_group(app: Flask, bearer: object) -> None:
    """A quick look before schemathesis: the same reads answer for each group and 405 says Allow."""
    client = app.test_client()
    for email in ("staff@demo.example", "fm@demo.example", "hoa.tilleuls@demo.example", "tech@demo.example"):
        headers = bearer(email)  # type: ignore[operator]
        for path in (
            "/api/v1/me",
            "/api/v1/sites",
            "/api/v1/assets",
            "/api/v1/feedback",
            "/api/v1/notifications",
        ):
            assert client.get(path, headers=headers).status_code == 200, (email, path)
    wrong_method = client.delete("/api/v1/me", headers=bearer("staff@demo.example"))  # type: ignore[operator]
    assert wrong_method.status_code == 405
    assert set(wrong_method.headers["Allow"].split(", ")) >= {"GET"}
    assert wrong_method.get_json() == {"error": "The method is not allowed for the requested URL."}
    huge = client.get("/api/v1/assets/99999999999999999999", headers=bearer("staff@demo.example"))  # type: ignore[operator]
    assert huge.status_code == 404
