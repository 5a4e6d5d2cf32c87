"""WSGI entry point: the only module that builds the application.

``gunicorn wsgi:app`` in production; ``flask --app wsgi …`` for commands.
"""

from __future__ import annotations

import logging
import os

from config import ConfigError, load_settings
from portal.app import create_app

logging.basicConfig(
    level=os.environ.get("LOG_LEVEL", "INFO"),
    format="%(asctime)s %(levelname)s %(name)s: %(message)s",
)

logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

try:
    app = create_app(load_settings())
except ConfigError as exc:  # one clear line instead of a stack trace
    raise SystemExit(f"error: {exc}") from None
