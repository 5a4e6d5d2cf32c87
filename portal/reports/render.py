"""Monthly reports as HTML and PDF, from one template, with or without Flask.

The portal embeds the HTML of ``reports/_report.html`` in its page; the worker prints the
same template, wrapped in ``reports/print.html``, to PDF with WeasyPrint for the e-mails.
So the renderer has its own Jinja environment per language, with the portal's message
catalogues and locale-aware filters written on Babel, not on Flask-Babel (which needs a
request). Charts are SVG drawn here, so they print.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.numbers import get_decimal_symbol
from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from config import ROOT
from fleet.models import MonthlyReport
from portal import labels
from portal.reports.monthly import month_name

logger = logging.getLogger(__name__)
LOCALES = ("en", "fr")
CHART_WIDTH = 640
BAR_HEIGHT = 18
LABEL_WIDTH = 240


@dataclass(frozen=True)
class Bar:
    """One unit's availability bar: its label, bar width and target mark (SVG units)."""

    label: str
    value: float | None
    y: float
    width: float
    target_x: float | None
    meets: bool


@dataclass(frozen=True)
class BarChart:
    """Availability per unit against its target, on a scale from ``floor`` to 100 %."""

    bars: list[Bar]
    floor: float
    width: int
    height: float
    plot_x: int
    plot_width: int


def availability_chart(units: list[dict[str, object]], by_site: bool = False) -> BarChart:
    """The geometry of the availability chart; the scale starts just below the lowest value
    or target, so a 99.2 % unit is visibly short of a 99.5 % target."""
    values = [
        float(v)
        for u in units
        for v in (u.get("availability"), u.get("target"))
        if isinstance(v, int | float)
    ]
    floor = max(0.0, min(99.0, float(int(min(values, default=99.0)) - 1)))
    plot_width = CHART_WIDTH - LABEL_WIDTH - 60

    def x(value: float) -> float:
        return plot_width * (max(value, floor) - floor) / (100.0 - floor)

    bars = []
    for n, unit in enumerate(units):
        value = unit.get("availability")
        target = unit.get("target")
        number = float(value) if isinstance(value, int | float) else None
        goal = float(target) if isinstance(target, int | float) else None
        bars.append(
            Bar(
                label=str(unit["name"]) if by_site is False else f"{unit['site']} · {unit['name']}",
                value=number,
                y=n * (BAR_HEIGHT + 6),
                width=0.0 if number is None else x(number),
                target_x=None if goal is None else x(goal),
                meets=number is not None and (goal is None or number >= goal),
            )
        )
    height = max(len(bars), 1) * (BAR_HEIGHT + 6) + 20
    return BarChart(bars, floor, CHART_WIDTH, height, LABEL_WIDTH, plot_width)


class ReportRenderer:
    """Renders reports in any of the portal's languages (thread-safe; one environment each)."""

    def __init__(
        self, templates: Path = ROOT / "templates", catalogues: Path = ROOT / "translations"
    ) -> None:
        self.templates = templates
        self.catalogues = catalogues
        self._envs: dict[str, Environment] = {}
        self._lock = threading.Lock()

    def _env(self, locale: str) -> Environment:
        locale = locale if locale in LOCALES else "en"
        with self._lock:
            env = self._envs.get(locale)
            if env is None:
                env = self._envs[locale] = self._build(locale)
        return env

    def _build(self, locale: str) -> Environment:
        env = Environment(
            loader=FileSystemLoader(self.templates),
            autoescape=select_autoescape(["html"]),
            extensions=["jinja2.ext.i18n"],
            undefined=StrictUndefined,
        )
        catalogue = Translations.load(str(self.catalogues), [locale])
        env.install_gettext_translations(catalogue, newstyle=True)  # type: ignore[attr-defined]
        gettext = catalogue.gettext
        separator = str(get_decimal_symbol(locale))

        def percent(value: object, digits: int = 2) -> str:
            if not isinstance(value, int | float):
                return gettext("n/a")
            return f"{value:.{digits}f}".replace(".", separator) + "\u202f%"

        def number(value: object, digits: int = 1) -> str:
            return f"{value:.{digits}f}".replace(".", separator) if isinstance(value, int | float) else "—"

        def duration(seconds: object) -> str:
            if not isinstance(seconds, int | float):
                return "—"
            minutes = max(int(seconds // 60), 0)
            days, rest = divmod(minutes, 24 * 60)
            hours, mins = divmod(rest, 60)
            if days:
                return gettext("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
            if hours:
                return gettext("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": mins}
            return gettext("%(minutes)d min") % {"minutes": mins}

        def local(value: object, tz: str) -> datetime | None:
            return datetime.fromisoformat(value).astimezone(ZoneInfo(tz)) if isinstance(value, str) else None

        def when(value: object, tz: str) -> str:
            moment = local(value, tz)
            if moment is None:
                return "—"
            return (
                f"{format_date(moment, 'd MMM', locale=locale)} {format_time(moment, 'HH:mm', locale=locale)}"
            )

        def day(value: object, tz: str) -> str:
            moment = local(value, tz)
            return "—" if moment is None else format_date(moment, "EEEE d MMMM", locale=locale)

        def label(table: dict[str, str]) -> object:
            return lambda code: (
                "" if not code else gettext(table[code]) if code in table else str(code).replace("_", " ")
            )

        env.filters.update(
            percent=percent, number=number, duration=duration, when=when, day=day,
            fault_label=label(labels.FAULTS), visit_kind_label=label(labels.VISIT_KINDS),
            detected_label=label(labels.DETECTED_BY), visit_status_label=label(labels.VISIT_STATUSES),
            audience_label=label(labels.AUDIENCES), kind_label=label(labels.KINDS),
        )  # fmt: skip
        env.globals.update(locale=locale, month_name=lambda m: month_name(date.fromisoformat(m), locale))
        return env

    def _context(self, report: MonthlyReport, audience: str, show_satisfaction: bool) -> dict[str, object]:
        figures = report.figures
        units: list[dict[str, object]] = figures["units"]
        return {
            "r": figures,
            "report": report,
            "audience": audience,
            "show_satisfaction": show_satisfaction and audience == "full",
            "chart": availability_chart(units, by_site=figures["site"] is None),
            "tz": report.timezone,
        }

    def html(self, report: MonthlyReport, locale: str, audience: str, *, show_satisfaction: bool) -> Markup:
        """The report's body, to embed in a portal page."""
        template = self._env(locale).get_template("reports/_report.html")
        return Markup(template.render(self._context(report, audience, show_satisfaction)))  # noqa: S704 - autoescaped template

    def document(self, report: MonthlyReport, locale: str, audience: str, *, show_satisfaction: bool) -> str:
        """The report as a standalone HTML document for print."""
        template = self._env(locale).get_template("reports/print.html")
        return template.render(self._context(report, audience, show_satisfaction))

    def pdf(self, report: MonthlyReport, locale: str, audience: str) -> bytes:
        """The report as PDF (satisfaction shown in the full reading, the facility manager's)."""
        from weasyprint import HTML  # imported on first use: it loads Pango

        started = time.perf_counter()
        html = self.document(report, locale, audience, show_satisfaction=audience == "full")
        data: bytes = HTML(string=html, base_url=str(ROOT / "static")).write_pdf()
        logger.debug("report %s printed in %.2f s", report.id, time.perf_counter() - started)
        return data
