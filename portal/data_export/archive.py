"""A customer's equipment data as one ZIP, written as it is read.

Telemetry is read from InfluxDB with parameterised InfluxQL, one hour and
:data:`ASSETS_PER_QUERY` assets at a time, and written at once: the CSV into the ZIP, the
line protocol into a gzip-compressed temporary file copied in afterwards (a ZIP takes one
file at a time).
Memory therefore depends on one chunk, never on the period or the number of assets.

Files (the ``README.md`` and ``data-dictionary.json`` in the ZIP say the same to the reader):
``telemetry.csv`` and ``telemetry.lp`` (numeric readings), ``telemetry_text.csv``,
``events.csv`` (device events), ``status_history.csv``, ``outages.csv``, ``visits.csv``
(with their reports), ``maintenance_plans.csv``, ``feedback.csv`` and
``survey_answers.csv``. People appear only as their stakeholder group, never by name.

CSV: UTF-8 with a byte-order mark (spreadsheets then read it as UTF-8), comma-separated,
times in UTC (ISO 8601); a text cell starting with ``= + - @`` or a tab is prefixed with
``'`` so that no spreadsheet runs it as a formula. No Flask here: the worker runs it.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.lineprotocol import numeric_line, point_prefix
from fleet.models import (
    Asset,
    Feedback,
    MaintenancePlan,
    Outage,
    Site,
    StatusChange,
    SurveyResponse,
    Visit,
)
from fleet.telemetry_schema import EVENT_MEASUREMENT, FIELD_RE, MEASUREMENT, TEXT_MEASUREMENT
from portal.data_export.dictionary import ExportScope, data_dictionary, readme
from portal.influxql import TelemetryReader, TruncatedAnswer

logger = logging.getLogger(__name__)
CHUNK = timedelta(hours=1)
ASSETS_PER_QUERY = 50
MIN_WINDOW = timedelta(seconds=1)  # below this a truncated answer is an error, not split further
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
Progress = Callable[[float], None]  # share of the work done, 0 to 1


def text_cell(value: object) -> object:
    """A CSV cell: numbers as they are, text that a spreadsheet will not run as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    text = str(getattr(value, "value", value))  # enums as their stored value
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _CsvFile:
    """One CSV member of the ZIP, open for writing."""

    def __init__(self, archive: zipfile.ZipFile, name: str, columns: Sequence[str]) -> None:
        self.raw = archive.open(name, "w", force_zip64=True)
        self.text = io.TextIOWrapper(self.raw, encoding="utf-8-sig", newline="")
        self.writer = csv.writer(self.text)
        self.writer.writerow(columns)
        self.rows = 0

    def write(self, row: Iterable[object]) -> None:
        self.writer.writerow([text_cell(v) for v in row])
        self.rows += 1

    def write_plain(self, row: Sequence[object]) -> None:
        """A row whose cells are already safe (numbers, escaped text)."""
        self.writer.writerow(row)
        self.rows += 1

    def close(self) -> None:
        self.text.close()


# --- writing ---------------------------------------------------------------------------------
def _chunks(start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    at = start
    while at < end:
        yield at, min(at + CHUNK, end)
        at += CHUNK


def _rfc3339(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _select_series(
    reader: TelemetryReader,
    measurement: str,
    mqtt_ids: Sequence[str],
    start: datetime,
    end: datetime,
    span: list[timedelta],
) -> Iterator[tuple[list[str], list[list[Any]]]]:
    """(columns, rows) of every point of ``measurement`` for these assets in ``[start, end)``,
    oldest first, asked ``span[0]`` at a time. An answer InfluxDB flags partial is asked again
    over half the time, and the shorter span is kept for what follows (``span`` is shared by
    the calls of one export), so every row arrives and few queries are wasted."""
    params: dict[str, Any] = {f"a{n}": mqtt for n, mqtt in enumerate(mqtt_ids)}
    either = " OR ".join(f"asset = $a{n}" for n in range(len(mqtt_ids)))
    at = start
    while at < end:
        stop = min(at + span[0], end)
        series, partial = reader.query_partial(
            f"SELECT * FROM {measurement} WHERE ({either}) AND time >= $start AND time < $end",  # noqa: S608 - identifiers fixed, values bound
            params | {"start": _rfc3339(at), "end": _rfc3339(stop)},
        )
        if partial:
            if stop - at <= MIN_WINDOW:
                raise TruncatedAnswer(f"InfluxDB answers only part of {measurement} even a second at a time")
            span[0] = (stop - at) / 2
            continue
        for serie in series:
            yield serie["columns"], serie.get("values", [])
        at = stop


def _select_rows(
    reader: TelemetryReader, measurement: str, mqtt_ids: Sequence[str], start: datetime, end: datetime
) -> Iterator[dict[str, Any]]:
    """The same points as dicts (the small measurements: text readings, events)."""
    for columns, rows in _select_series(reader, measurement, mqtt_ids, start, end, [CHUNK]):
        for values in rows:
            yield dict(zip(columns, values, strict=True))


def _telemetry(
    reader: TelemetryReader,
    batches: Sequence[Sequence[str]],
    windows: Sequence[tuple[datetime, datetime]],
    fields: Sequence[str],
    table: _CsvFile,
    protocol: gzip.GzipFile,
    step: Callable[[], None],
) -> None:
    """The numeric readings, into the CSV (one row per reading) and the line protocol. The
    hot loop of an export: columns are looked up once per answer, not per row."""
    prefixes: dict[str, str] = {}
    span = [CHUNK]
    for window in windows:
        for batch in batches:
            for columns, rows in _select_series(reader, MEASUREMENT, batch, *window, span):
                at, who = columns.index("time"), columns.index("asset")
                slots = [columns.index(f) if f in columns else None for f in fields]
                named = [(f, i) for f, i in zip(fields, slots, strict=True) if i is not None]
                for values in rows:
                    present = {f: float(values[i]) for f, i in named if values[i] is not None}
                    if not present:
                        continue
                    asset = values[who]
                    table.write_plain(
                        [_ms_iso(values[at]), text_cell(asset), *(present.get(f) for f in fields)]
                    )
                    prefix = prefixes.get(asset)
                    if prefix is None:
                        prefix = prefixes[asset] = point_prefix(MEASUREMENT, {"asset": asset})
                    protocol.write(numeric_line(prefix, present, int(values[at])).encode() + b"\n")
                step()


def field_keys(reader: TelemetryReader, measurement: str = MEASUREMENT) -> list[str]:
    """The field names stored in a measurement (all assets), sorted."""
    rows = reader.query(f"SHOW FIELD KEYS FROM {measurement}", {})
    names = {values[0] for serie in rows for values in serie.get("values", [])}
    return sorted(n for n in names if FIELD_RE.match(n))


def write_export(
    session: Session,
    reader: TelemetryReader,
    scope: ExportScope,
    out: IO[bytes],
    progress: Progress = lambda _share: None,
) -> dict[str, int]:
    """Write the ZIP of ``scope`` into ``out``; returns the number of rows per file."""
    assets = session.execute(
        select(Asset.id, Asset.mqtt_id, Asset.name, Site.name)
        .join(Site, Asset.site_id == Site.id)
        .where(Asset.id.in_(list(scope.asset_ids)))
        .order_by(Site.name, Asset.name)
    ).all()
    mqtt_of = {a[0]: a[1] for a in assets}
    mqtt_ids = [a[1] for a in assets]
    fields = field_keys(reader)
    batches = [mqtt_ids[n : n + ASSETS_PER_QUERY] for n in range(0, len(mqtt_ids), ASSETS_PER_QUERY)]
    windows = list(_chunks(scope.start, scope.end))
    steps = max(len(windows) * len(batches) * 3, 1) + 6
    done = 0
    counts: dict[str, int] = {}

    def step() -> None:
        nonlocal done
        done += 1
        progress(min(done / steps, 1.0))

    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        # the line protocol waits in a temporary file, compressed (a tenth of its size on disk)
        with tempfile.TemporaryFile("w+b") as spool:
            with gzip.GzipFile(fileobj=spool, mode="wb", compresslevel=1) as lp:
                csv_file = _CsvFile(archive, "telemetry.csv", ["time", "asset", *fields])
                _telemetry(reader, batches, windows, fields, csv_file, lp, step)
                csv_file.close()
            counts["telemetry.csv"] = csv_file.rows
            spool.seek(0)
            with (
                gzip.GzipFile(fileobj=spool, mode="rb") as lines,
                archive.open("telemetry.lp", "w", force_zip64=True) as member,
            ):
                shutil.copyfileobj(lines, member, 1 << 20)
            counts["telemetry.lp"] = csv_file.rows
        point_files = (
            ("telemetry_text.csv", ["time", "asset", "field", "value"], TEXT_MEASUREMENT, _text_rows),
            ("events.csv", ["time", "asset", "type", "severity", "detail"], EVENT_MEASUREMENT, _event_rows),
        )
        for name, columns, measurement, rows_of in point_files:
            table = _CsvFile(archive, name, columns)
            for window in windows:
                for batch in batches:
                    for point in _select_rows(reader, measurement, batch, *window):
                        for row in rows_of(point):
                            table.write(row)
                    step()
            table.close()
            counts[name] = table.rows
        for name, columns, rows in _sql_rows(session, scope, mqtt_of):
            table = _CsvFile(archive, name, columns)
            for record in rows:
                table.write(record)
            table.close()
            counts[name] = table.rows
            step()
        archive.writestr(
            "data-dictionary.json", json.dumps(data_dictionary(fields), indent=2, ensure_ascii=False)
        )
        archive.writestr("README.md", readme(scope, [(a[1], a[2], a[3]) for a in assets], counts))
    progress(1.0)
    return counts


def _text_rows(point: dict[str, Any]) -> Iterator[list[object]]:
    """One row per text field of a point."""
    for key, value in point.items():
        if key not in ("time", "asset") and value is not None:
            yield [_ms_iso(point["time"]), point["asset"], key, value]


def _event_rows(point: dict[str, Any]) -> Iterator[list[object]]:
    """An event point as its row."""
    yield [
        _ms_iso(point["time"]),
        point["asset"],
        point.get("type"),
        point.get("severity"),
        point.get("detail"),
    ]


def _ms_iso(epoch_ms: int) -> str:
    seconds, millis = divmod(int(epoch_ms), 1000)
    return f"{_second_iso(seconds)}.{millis:03d}+00:00"


@lru_cache(maxsize=65536)
def _second_iso(epoch_s: int) -> str:
    """``2026-05-10T00:00:00`` (cached: the readings of many units share their seconds)."""
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _sql_rows(
    session: Session, scope: ExportScope, mqtt_of: dict[int, str]
) -> Iterator[tuple[str, list[str], Iterable[Sequence[object]]]]:
    """The SQL-sourced files: name, columns, rows (streamed from the database)."""
    ids = list(mqtt_of)
    start, end = scope.start, scope.end
    yield (
        "status_history.csv",
        ["time", "asset", "state", "fault_code"],
        (
            (r.ts, mqtt_of[r.asset_id], r.state, r.fault_code)
            for r in session.scalars(
                select(StatusChange)
                .where(StatusChange.asset_id.in_(ids), StatusChange.ts >= start, StatusChange.ts < end)
                .order_by(StatusChange.ts, StatusChange.id)
                .execution_options(yield_per=1000)
            )
        ),
    )
    yield (
        "outages.csv",
        ["id", "asset", "started", "ended", "fault_code", "cause", "detected_by", "technician_on_site"],
        (
            (
                o.id,
                mqtt_of[o.asset_id],
                o.started_at,
                o.ended_at,
                o.fault_code,
                o.cause,
                o.detected_by,
                o.on_site_at,
            )
            for o in session.scalars(
                select(Outage)
                .where(
                    Outage.asset_id.in_(ids),
                    Outage.started_at < end,
                    (Outage.ended_at.is_(None)) | (Outage.ended_at >= start),
                )
                .order_by(Outage.started_at, Outage.id)
                .execution_options(yield_per=1000)
            )
        ),
    )
    yield (
        "visits.csv",
        [
            "id",
            "asset",
            "kind",
            "status",
            "scheduled_start",
            "scheduled_end",
            "checked_in",
            "checked_out",
            "summary",
            "report",
            "parts",
            "findings",
            "next_action",
        ],
        (
            (
                v.id,
                mqtt_of[v.asset_id],
                v.kind,
                v.status,
                v.scheduled_start,
                v.scheduled_end,
                v.checked_in_at,
                v.checked_out_at,
                v.summary,
                v.report,
                v.parts,
                v.findings,
                v.next_action,
            )
            for v in session.scalars(
                select(Visit)
                .where(Visit.asset_id.in_(ids), Visit.scheduled_start >= start, Visit.scheduled_start < end)
                .order_by(Visit.scheduled_start, Visit.id)
                .execution_options(yield_per=1000)
            )
        ),
    )
    yield (
        "maintenance_plans.csv",
        [
            "id",
            "asset",
            "kind",
            "interval",
            "interval_unit",
            "usage_metric",
            "usage_interval",
            "visit_kind",
            "summary",
            "first_due",
            "active",
        ],
        (
            (
                p.id,
                mqtt_of[p.asset_id],
                p.kind,
                p.interval,
                p.interval_unit,
                p.usage_metric,
                p.usage_interval,
                p.visit_kind,
                p.summary,
                p.first_due.isoformat(),
                p.active,
            )
            for p in session.scalars(
                select(MaintenancePlan).where(MaintenancePlan.asset_id.in_(ids)).order_by(MaintenancePlan.id)
            )
        ),
    )
    site_ids = select(Asset.site_id).where(Asset.id.in_(ids))
    yield (
        "feedback.csv",
        [
            "id",
            "site",
            "asset",
            "created",
            "author_group",
            "category",
            "rating",
            "text",
            "status",
            "resolved",
        ],
        (
            (
                f.id,
                site,
                mqtt_of.get(f.asset_id) if f.asset_id else None,
                f.created_at,
                f.author_group,
                f.category,
                f.rating,
                f.text,
                f.status,
                f.resolved_at,
            )
            for f, site in session.execute(
                select(Feedback, Site.name)
                .join(Site, Feedback.site_id == Site.id)
                .where(
                    Feedback.site_id.in_(site_ids),
                    (Feedback.asset_id.is_(None)) | Feedback.asset_id.in_(ids),
                    Feedback.created_at >= start,
                    Feedback.created_at < end,
                )
                .order_by(Feedback.created_at, Feedback.id)
            )
        ),
    )
    yield (
        "survey_answers.csv",
        ["created", "group", "kind", "score", "moment", "site", "asset"],
        (
            (
                r.created_at,
                r.group,
                r.kind,
                r.score,
                r.moment,
                site,
                mqtt_of.get(r.asset_id) if r.asset_id else None,
            )
            for r, site in session.execute(
                select(SurveyResponse, Site.name)
                .outerjoin(Site, SurveyResponse.site_id == Site.id)
                .where(
                    SurveyResponse.site_id.in_(site_ids),
                    SurveyResponse.asset_id.is_(None) | SurveyResponse.asset_id.in_(ids),
                    SurveyResponse.created_at >= start,
                    SurveyResponse.created_at < end,
                )
                .order_by(SurveyResponse.created_at, SurveyResponse.id)
            )
        ),
    )
