"""English and French: locale choice, localised dates and numbers, the language switch.

The locale is, in order: the one chosen with the language switch (kept in the session
and, for a signed-in user, on the account), the account's saved locale, the browser's
``Accept-Language``, then ``DEFAULT_LOCALE``. Times are always shown in the *site's*
time zone, whatever the viewer's.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_decimal
from flask import Blueprint, Flask, current_app, redirect, request, session
from flask.typing import ResponseReturnValue
from flask_babel import Babel, get_locale
from flask_login import current_user

from config import ROOT
from portal.web.redirects import safe_next

logger = logging.getLogger(__name__)

LOCALES = ("en", "fr")
LANGUAGE_NAMES = {"en": "English", "fr": "Français"}
SESSION_KEY = "lang"

babel = Babel()
bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    """The locale of the current request (see the module docstring for the order)."""
    chosen = session.get(SESSION_KEY)
    if chosen in LOCALES:
        return str(chosen)
    if current_user and current_user.is_authenticated and current_user.locale in LOCALES:
        return str(current_user.locale)
    best = request.accept_languages.best_match(LOCALES)
    return best or current_app.config["SETTINGS"].default_locale


def locale_code() -> str:
    """``en`` or ``fr`` for the current request."""
    return str(get_locale() or "en")


@bp.post("/language")
def switch_language() -> ResponseReturnValue:
    """Remember the chosen language (session, and the account when signed in)."""
    lang = request.form.get("lang", "")
    if lang not in LOCALES:
        return {"error": f"unsupported language {lang[:8]!r}; choose en or fr"}, 400
    session[SESSION_KEY] = lang
    if current_user.is_authenticated and current_user.locale != lang:
        from portal.extensions import db_session

        db = db_session()
        current_user.locale = lang
        db.commit()
    return redirect(safe_next(request.form.get("next")))


# --- formatting (used as Jinja filters and by views) -------------------------------------
def _locale() -> Locale | str:
    """The request's locale as Flask-Babel parsed it once (a code string would be parsed
    again for every value formatted: a page of dates formats hundreds)."""
    return get_locale() or "en"


def fmt_datetime(value: datetime | None, tz: str) -> str:
    """A timestamp in the site's time zone, localised (``23 Nov 2026, 14:05``)."""
    if value is None:
        return ""
    return format_datetime(value.astimezone(ZoneInfo(tz)), "d MMM y, HH:mm", locale=_locale())


def fmt_time(value: datetime | None, tz: str) -> str:
    """Hours and minutes in the site's time zone (``14:05``)."""
    if value is None:
        return ""
    return format_time(value.astimezone(ZoneInfo(tz)), "HH:mm", locale=_locale())


def fmt_date(value: date | datetime | None, tz: str | None = None, style: str = "long") -> str:
    """A date, localised (``23 November 2026`` / ``23 novembre 2026``)."""
    if value is None:
        return ""
    if isinstance(value, datetime) and tz:
        value = value.astimezone(ZoneInfo(tz))
    return format_date(value, style, locale=_locale())


def fmt_weekday_date(value: datetime | None, tz: str) -> str:
    """``Tuesday 24 November`` / ``mardi 24 novembre`` in the site's time zone."""
    if value is None:
        return ""
    return format_date(value.astimezone(ZoneInfo(tz)), "EEEE d MMMM", locale=_locale())


def fmt_month(value: date) -> str:
    """``November 2026`` / ``novembre 2026``."""
    return format_date(value, "LLLL yyyy", locale=_locale())


def fmt_number(value: float | int | None, digits: int = 0) -> str:
    """A number with the locale's separators (``1,234.5`` / ``1 234,5``)."""
    if value is None:
        return ""
    fmt = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=fmt, locale=_locale())


def init_app(app: Flask) -> None:
    """Install Flask-Babel, the language switch and the formatting filters."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", app.config["SETTINGS"].default_locale)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(ROOT / "translations")
    babel.init_app(app, locale_selector=select_locale)
    app.register_blueprint(bp)
    app.add_template_filter(fmt_datetime, "datetime")
    app.add_template_filter(fmt_time, "time")
    app.add_template_filter(fmt_date, "date")
    app.add_template_filter(fmt_weekday_date, "weekday_date")
    app.add_template_filter(fmt_number, "number")
    app.add_template_filter(fmt_month, "format_month")
    app.jinja_env.globals.update(locale_code=locale_code, LOCALES=LOCALES, LANGUAGE_NAMES=LANGUAGE_NAMES)
