"""The browsable API reference: Swagger UI (installed from npm into static/vendor, no CDN)
over the generated OpenAPI document, inside the portal's own page."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

bp = Blueprint("api_reference", __name__)


@bp.get("/api/reference")
def reference() -> ResponseReturnValue:
    """The API reference page (public, like the document it shows)."""
    return render_template("api/reference.html")
