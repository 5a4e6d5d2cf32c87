"""The Flask application factory. Only ``wsgi.py`` (and tests) call :func:`create_app`."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import (
    Flask,
    Request,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import LazyString, force_locale, lazy_gettext
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from config import ROOT, Settings
from fleet.db import Database, parse_id, utcnow
from fleet.models import User
from portal import i18n
from portal.access import NotVisible
from portal.extensions import csrf, db_session, get_fragments, login_manager
from portal.influxql import TelemetryReader
from portal.kpi import AvailabilityCache
from portal.live import server as live_server
from portal.ops import metrics, request_id
from portal.refusal import Refused
from portal.reports.render import ReportRenderer
from portal.tokens import service as tokens
from portal.tokens.service import RateLimiter
from portal.web import filters, header
from portal.web.fragments import FragmentCache

logger = logging.getLogger(__name__)


def create_app(settings: Settings) -> Flask:
    """Build the portal for ``settings``; refuses unsafe production settings."""
    settings.check_production()
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        static_url_path="/static",
    )
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        TESTING=settings.portal_env == "testing",
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.session_lifetime_minutes),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        MAX_CONTENT_LENGTH=max(2 * 1024 * 1024, int(settings.import_max_mb * 1_000_000) + 64 * 1024),
    )
    if settings.behind_proxy:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]

    db = Database(settings.database_url, echo=settings.database_echo)
    app.extensions["fleet.db"] = db
    app.teardown_appcontext(lambda _exc: db.scoped.remove())
    app.extensions["portal.availability"] = AvailabilityCache(settings.availability_cache_s)
    portal_metrics = metrics.init_app(app)
    app.extensions["portal.fragments"] = FragmentCache(
        settings.page_cache_s, observe=portal_metrics.cache_lookup
    )
    app.extensions["portal.influxql"] = TelemetryReader(
        settings.influx_url, settings.influx_bucket, settings.influx_token, settings.influx_timeout_s
    )

    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = lazy_gettext("Please log in to continue.")
    login_manager.session_protection = "basic"
    login_manager.user_loader(_load_user)
    login_manager.request_loader(_load_user_from_token)
    app.extensions["report_renderer"] = ReportRenderer()
    app.extensions["portal.token_limiter"] = RateLimiter(settings.api_token_rate_per_minute)
    login_manager.unauthorized_handler(_unauthorized)

    from portal.admin.views import bp as admin_bp
    from portal.api import data_exports as api_data_exports  # noqa: F401 - routes
    from portal.api import views as api_views  # noqa: F401 - routes
    from portal.api import writes as api_writes  # noqa: F401 - routes
    from portal.api.http import bp as api_bp
    from portal.api.reference import bp as api_reference_bp
    from portal.assets.views import bp as assets_bp
    from portal.auth.views import bp as auth_bp
    from portal.cli import register_cli
    from portal.data_export.views import bp as exports_bp
    from portal.feedback.views import bp as feedback_bp
    from portal.maintenance.views import bp as maintenance_bp
    from portal.notifications.views import bp as notifications_bp
    from portal.ops.views import bp as ops_bp
    from portal.registry.views import bp as registry_bp
    from portal.relationships.views import bp as relationships_bp
    from portal.reports.views import bp as reports_bp
    from portal.resident.views import bp as resident_bp
    from portal.satisfaction import dashboard_views, follow_up_views, survey_views  # noqa: F401 - routes
    from portal.satisfaction.blueprint import bp as satisfaction_bp
    from portal.tokens.views import bp as tokens_bp
    from portal.watch.views import bp as watch_bp
    from portal.webhooks.views import bp as webhooks_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(assets_bp)
    app.register_blueprint(resident_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(api_reference_bp)
    csrf.exempt(api_bp)  # bearer requests carry no cookie; cookie writes are checked by the blueprint
    app.register_blueprint(feedback_bp)
    app.register_blueprint(satisfaction_bp)
    app.register_blueprint(maintenance_bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(registry_bp)
    app.register_blueprint(ops_bp)
    app.register_blueprint(tokens_bp)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(exports_bp)
    app.register_blueprint(watch_bp)
    app.register_blueprint(relationships_bp)
    request_id.init_app(app)
    i18n.init_app(app)
    filters.register(app)
    header.init_app(app)
    register_cli(app)
    live_server.init_app(app)
    _register_error_handlers(app)
    app.url_value_preprocessor(_ids_that_cannot_exist_are_not_found)
    app.after_request(_security_headers)
    app.after_request(_forget_fragments_after_writes)
    return app


def _ids_that_cannot_exist_are_not_found(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Every ``<int:…>`` of every route is a database id: one out of range is a missing object
    (404, before any view or login check), never a database error (PostgreSQL raises on
    an integer above 2**31 - 1 instead of finding nothing)."""
    for value in (values or {}).values():
        if isinstance(value, int) and parse_id(value) is None:
            abort(404)


def _forget_fragments_after_writes(response: Response) -> Response:
    """A request that may have changed data drops this process's cached fragments."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        get_fragments().clear()
    return response


def _load_user(login_id: str) -> User | None:
    user_id, _, token = login_id.partition(":")
    if not user_id.isdigit() or not token:
        return None
    # the site list comes with the account (the scope reads it on every page): one round trip
    stmt = select(User).options(joinedload(User.sites)).where(User.id == int(user_id))
    user = db_session().execute(stmt).unique().scalar_one_or_none()
    if user is None or not user.is_active or user.session_token != token:
        return None
    return user


def _load_user_from_token(req: Request) -> User | None:
    """``Authorization: Bearer ept_…`` on the API: the token's owner, with their scope.

    Each token may make ``API_TOKEN_RATE_PER_MINUTE`` requests a minute in this process;
    beyond that the answer is 429 with ``Retry-After``."""
    if not req.path.startswith("/api/"):
        return None
    scheme, _, bearer = req.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not bearer:
        return None
    token = tokens.authenticate(db_session(), bearer.strip(), utcnow())
    if token is None:
        return None
    wait = current_app.extensions["portal.token_limiter"].retry_after(token.id)
    if wait:
        with force_locale("en"):
            resp = jsonify(error="too many requests with this token; retry later")
        resp.status_code = 429
        resp.headers["Retry-After"] = str(wait)
        abort(resp)
    g.api_token_id = token.id
    return token.user


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _unauthorized() -> ResponseReturnValue:
    if _wants_json():
        return jsonify(error="authentication required"), 401
    flash(str(login_manager.login_message), "info")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _error(
    status: int, message: str | LazyString, fields: dict[str, list[str]] | None = None
) -> ResponseReturnValue:
    """An error page in the user's language, or a JSON error (always English, for machines,
    in the API's one error shape: the message and, for refused input, the reasons by field)."""
    if _wants_json():
        with force_locale("en"):
            if fields:
                return jsonify(error=str(message), fields=fields), status
            return jsonify(error=str(message)), status
    return render_template("error.html", status=status, message=str(message)), status


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(NotVisible)
    def not_visible(_exc: NotVisible) -> ResponseReturnValue:
        db_session().rollback()
        logger.info("not found or out of scope: %s %s", request.method, request.path)
        return _error(404, lazy_gettext("Not found."))

    @app.errorhandler(Refused)
    def refused(exc: Refused) -> ResponseReturnValue:
        db_session().rollback()  # nothing of a refused action is kept
        logger.info("refused %s %s: %s (%s)", request.method, request.path, exc.message, exc.status)
        fields = {name: [str(m) for m in messages] for name, messages in exc.errors.items()}
        # on the API, input that matched the documented schema and a rule refused is a 422
        # (400 there means: does not match the schema, answered before any service runs)
        status = 422 if exc.status == 400 and _wants_json() else exc.status
        return _error(status, exc.message, fields)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> ResponseReturnValue:
        logger.warning("CSRF rejected: %s %s (%s)", request.method, request.path, exc.description)
        return _error(
            400, lazy_gettext("This form has expired or did not come from this site. Please try again.")
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        status = exc.code or 500
        if status >= 500:
            logger.error("HTTP %s on %s %s", status, request.method, request.path)
        response = current_app.make_response(_error(status, exc.description or exc.name))
        for name, value in exc.get_headers():  # Allow on 405, Retry-After, WWW-Authenticate
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> ResponseReturnValue:
        logger.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
        return _error(500, lazy_gettext("Something went wrong on our side. It has been logged."))


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    )
    return response
