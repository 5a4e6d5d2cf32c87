"""The InfluxDB schema both processes agree on: measurements, the tag, field names, auth.

The ingester writes these measurements and the portal reads them with InfluxQL; neither
may spell a measurement or build an ``Authorization`` header on its own.

- ``telemetry``: numeric fields (booleans as 0/1), tag ``asset`` (the MQTT id);
- ``telemetry_text``: short string fields, same tag;
- ``status``: the device's reported state and fault;
- ``event``: device events, tags ``asset`` and ``type``.
"""

from __future__ import annotations

import re

import urllib3

MEASUREMENT = "telemetry"
TEXT_MEASUREMENT = "telemetry_text"
STATUS_MEASUREMENT = "status"
EVENT_MEASUREMENT = "event"
ASSET_TAG = "asset"

# The elevator sensor model: field -> unit / meaning. Other kinds may send other fields;
# unknown numeric fields are stored too.
ELEVATOR_FIELDS = {
    "trips": "count since installation",
    "door_cycles": "count since installation",
    "door_reopenings": "count since installation",
    "motor_temp_c": "°C",
    "vibration_mm_s": "mm/s RMS",
    "load_pct": "% of rated load",
    "floor": "current floor",
    "leveling_error_mm": "mm (signed)",
    "speed_m_s": "m/s",
}
# a field name: safe to quote in InfluxQL and to write unescaped in line protocol
FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def auth_headers(token: str) -> dict[str, str]:
    """The ``Authorization`` header for ``token``: ``user:password`` (1.x) or an API token (2.x, 3.x)."""
    if not token:
        return {}
    if ":" in token:
        return urllib3.make_headers(basic_auth=token)
    return {"Authorization": f"Token {token}"}
