"""A request id on every response (``X-Request-ID``) and on every log line of that request.

A proxy's id is kept when it looks like one (letters, digits, ``._-``, up to 64); otherwise
a fresh one is made, so a log line can always be traced to its request.
"""

from __future__ import annotations

import logging
import re
import uuid

from flask import Flask, Response, g, has_request_context, request

logger = logging.getLogger(__name__)
HEADER = "X-Request-ID"
_ACCEPTED = re.compile(r"[A-Za-z0-9._-]{1,64}")


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to records logged while a request is being served."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keep the record; label it when there is a request."""
        if has_request_context() and "request_id" in g:
            record.request_id = g.request_id
        return True


def _assign() -> None:
    given = request.headers.get(HEADER, "")
    g.request_id = given if _ACCEPTED.fullmatch(given) else uuid.uuid4().hex


def _echo(response: Response) -> Response:
    if "request_id" in g:
        response.headers[HEADER] = g.request_id
    return response


def init_app(app: Flask) -> None:
    """Give every request an id and return it in the response."""
    app.before_request(_assign)
    app.after_request(_echo)
