"""What an export's ZIP says about itself: the data dictionary (a JSON Schema of one row per
file: columns, types, units, meaning) and the README, with what the export covers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fleet.telemetry_schema import ELEVATOR_FIELDS


@dataclass(frozen=True)
class ExportScope:
    """What one export covers: a customer's assets (already checked against the requester's
    scope) over ``[start, end)``."""

    customer_name: str
    asset_ids: Sequence[int]
    start: datetime
    end: datetime


def _col(kind: str, meaning: str, unit: str | None = None, *, nullable: bool = False) -> dict[str, Any]:
    types: dict[str, Any] = {
        "time": {"type": "string", "format": "date-time"},
        "text": {"type": "string"},
        "number": {"type": "number"},
        "integer": {"type": "integer"},
        "boolean": {"type": "boolean"},
    }[kind]
    schema = dict(types)
    if nullable:
        schema = {"type": [types["type"], "null"], **{k: v for k, v in types.items() if k != "type"}}
    schema["description"] = meaning
    if unit:
        schema["x-unit"] = unit
    return schema


def _sql_files() -> dict[str, tuple[str, dict[str, dict[str, Any]]]]:
    """Each SQL-sourced file: (what it holds, column → JSON Schema)."""
    asset = _col("text", "the unit's device id (as on its sticker and in telemetry)")
    return {
        "status_history.csv": (
            "Every operating state the unit reported.",
            {
                "time": _col("time", "when the unit reported it (UTC)"),
                "asset": asset,
                "state": _col("text", "in_service, out_of_service, maintenance, degraded, offline"),
                "fault_code": _col("text", "the fault the unit reported, if any", nullable=True),
            },
        ),
        "outages.csv": (
            "Unplanned outages.",
            {
                "id": _col("integer", "outage number"),
                "asset": asset,
                "started": _col("time", "start (UTC)"),
                "ended": _col("time", "end (UTC); empty while open", nullable=True),
                "fault_code": _col("text", "fault code", nullable=True),
                "cause": _col("text", "cause found", nullable=True),
                "detected_by": _col("text", "first signal: sensor, report (a person) or technician"),
                "technician_on_site": _col("time", "when a technician checked in (UTC)", nullable=True),
            },
        ),
        "visits.csv": (
            "Maintenance and repair visits, with their reports.",
            {
                "id": _col("integer", "visit number"),
                "asset": asset,
                "kind": _col("text", "preventive, repair, inspection, modernisation"),
                "status": _col("text", "scheduled, in_progress, completed, cancelled"),
                "scheduled_start": _col("time", "planned start (UTC)"),
                "scheduled_end": _col("time", "planned end (UTC)"),
                "checked_in": _col("time", "technician arrived (UTC)", nullable=True),
                "checked_out": _col("time", "technician left (UTC)", nullable=True),
                "summary": _col("text", "what was planned"),
                "report": _col("text", "work done", nullable=True),
                "parts": _col("text", "parts replaced", nullable=True),
                "findings": _col("text", "findings", nullable=True),
                "next_action": _col("text", "next recommended action", nullable=True),
            },
        ),
        "maintenance_plans.csv": (
            "Maintenance plans of the units.",
            {
                "id": _col("integer", "plan number"),
                "asset": asset,
                "kind": _col("text", "calendar or usage"),
                "interval": _col("integer", "calendar interval", nullable=True),
                "interval_unit": _col("text", "days, weeks or months", nullable=True),
                "usage_metric": _col("text", "counter the usage plan follows", nullable=True),
                "usage_interval": _col("integer", "counter increase between visits", nullable=True),
                "visit_kind": _col("text", "kind of the visits it plans"),
                "summary": _col("text", "what is done"),
                "first_due": _col("text", "first visit day (site calendar, YYYY-MM-DD)"),
                "active": _col("boolean", "whether it still plans visits"),
            },
        ),
        "feedback.csv": (
            "Feedback left about the sites and units (authors by stakeholder group only).",
            {
                "id": _col("integer", "feedback number"),
                "site": _col("text", "site name"),
                "asset": _col("text", "unit device id", nullable=True),
                "created": _col("time", "when it was left (UTC)"),
                "author_group": _col(
                    "text", "facility_manager, hoa_president, field_technician, vendor_staff, resident"
                ),
                "category": _col("text", "what it is about", nullable=True),
                "rating": _col("integer", "1–5 stars", nullable=True),
                "text": _col("text", "the message"),
                "status": _col("text", "new, acknowledged, in_progress, resolved"),
                "resolved": _col("time", "when it was resolved (UTC)", nullable=True),
            },
        ),
        "survey_answers.csv": (
            "Satisfaction survey answers (respondents by stakeholder group only).",
            {
                "created": _col("time", "when it was answered (UTC)"),
                "group": _col("text", "stakeholder group of the respondent"),
                "kind": _col("text", "csat (1–5), ces (1–7, 7 = very easy) or nps (0–10)"),
                "score": _col("integer", "the answer"),
                "moment": _col("text", "why the question was asked"),
                "site": _col("text", "site name", nullable=True),
                "asset": _col("text", "unit device id", nullable=True),
            },
        ),
    }


def data_dictionary(telemetry_fields: Sequence[str]) -> dict[str, Any]:
    """A JSON Schema per file, describing one row: columns, types, units and meaning."""
    asset = _col("text", "the unit's device id")
    fields = {
        f: _col(
            "number",
            ELEVATOR_FIELDS.get(f, "a numeric reading the unit sent"),
            ELEVATOR_FIELDS.get(f),
            nullable=True,
        )
        for f in telemetry_fields
    }
    files: dict[str, tuple[str, dict[str, dict[str, Any]]]] = {
        "telemetry.csv": (
            "Numeric readings, one row per reading; a field the unit did not send at that time is empty. "
            "Counters (trips, door_cycles, door_reopenings) count since installation.",
            {"time": _col("time", "when the unit measured it (UTC)"), "asset": asset, **fields},
        ),
        "telemetry_text.csv": (
            "Short text readings, one row per field.",
            {
                "time": _col("time", "when the unit measured it (UTC)"),
                "asset": asset,
                "field": _col("text", "field name"),
                "value": _col("text", "value"),
            },
        ),
        "events.csv": (
            "Events the units reported.",
            {
                "time": _col("time", "when it happened (UTC)"),
                "asset": asset,
                "type": _col("text", "event type"),
                "severity": _col("text", "info, warning or critical"),
                "detail": _col("text", "detail", nullable=True),
            },
        ),
        **_sql_files(),
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Equipment data export: one JSON Schema per file, describing one row",
        "files": {
            name: {"description": what, "type": "object", "properties": cols, "required": list(cols)}
            for name, (what, cols) in files.items()
        }
        | {
            "telemetry.lp": {
                "description": "The same numeric readings as telemetry.csv in InfluxDB line protocol "
                "(measurement telemetry, tag asset, millisecond timestamps), to load into an InfluxDB.",
                "type": "string",
                "contentMediaType": "text/plain",
            }
        },
    }


def readme(scope: ExportScope, assets: Sequence[tuple[str, str, str]], counts: dict[str, int]) -> str:
    listing = "\n".join(f"- {mqtt} — {name} ({site})" for mqtt, name, site in assets)
    files = "\n".join(f"- `{name}`: {n} rows" for name, n in counts.items())
    return f"""# Equipment data export: {scope.customer_name}

Period: {scope.start.isoformat()} to {scope.end.isoformat()} (UTC, end excluded).
Units ({len(assets)}):
{listing}

## Files
{files}
- `data-dictionary.json`: for each file, a JSON Schema of one row (columns, types, units, meaning).

## Conventions
- CSV files are UTF-8 with a byte-order mark, comma-separated, one header row; they open as they are in
  spreadsheets. A text cell that begins with = + - @ or a tab starts with an apostrophe (') so that no
  spreadsheet runs it as a formula: remove that one character to get the original text.
- Times are UTC in ISO 8601; empty cells mean "no value".
- People appear only by stakeholder group, never by name or address.
- `telemetry.lp` holds the numeric readings in InfluxDB line protocol, to load them into your own database.
"""
