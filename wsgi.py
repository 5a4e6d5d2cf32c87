"""WSGI entry point: the only module that builds the application.

``gunicorn wsgi:app`` in production; ``flask --app wsgi …`` for commands.
"""

from __future__ import annotations

from config import ConfigError, load_settings
from fleet.logs import configure_logging
from portal.app import create_app
from portal.ops.request_id import RequestIdFilter

try:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format, filters=[RequestIdFilter()])
    app = create_app(settings)
except ConfigError as exc:  # one clear line instead of a stack trace
    raise SystemExit(f"error: {exc}") from None
