"""Where to go after a form: only same-site paths are followed (no open redirect)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import url_for


def safe_next(target: str | None, default: str | None = None) -> str:
    """``target`` if it is a path on this site (``/…``, not ``//host``), else ``default``
    (the account's home when none is given)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return default if default is not None else url_for("assets.home")
