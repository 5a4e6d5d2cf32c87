"""One logging setup for every process (portal, ingester, worker, simulator).

``LOG_FORMAT=text`` (default) writes one readable line per record; ``LOG_FORMAT=json``
writes one JSON object per line for log shippers (``ts``, ``level``, ``logger``,
``message``, and ``request_id`` / ``exc`` when present). The JSON formatter is written here
(a dozen lines over :mod:`json`) rather than taken from a library: it needs no options.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET = {"alembic.runtime.plugins": logging.WARNING, "urllib3.connectionpool": logging.WARNING}


class TextFormatter(logging.Formatter):
    """The classic line, with ``[req …]`` when the record carries a request id."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} [req {request_id}]" if request_id else line


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def make_handler(fmt: str = "text", stream: IO[str] | None = None,
                 filters: Iterable[logging.Filter] = ()) -> logging.Handler:  # fmt: skip
    """A stream handler (stderr by default) with the chosen format and filters."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    for f in filters:
        handler.addFilter(f)
    handler.set_name("fleet")
    return handler


def configure_logging(level: str = "INFO", fmt: str = "text", filters: Iterable[logging.Filter] = ()) -> None:
    """Send every logger's records to stderr in ``fmt`` at ``level`` (replacing our earlier handler)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "fleet"]:
        root.removeHandler(old)
    root.addHandler(make_handler(fmt, filters=filters))
    root.setLevel(level.upper())
    for name, quiet in QUIET.items():
        logging.getLogger(name).setLevel(quiet)
