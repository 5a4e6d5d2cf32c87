"""InfluxDB line protocol, built with escaped f-strings (8x cheaper than ``Point``).

Escaping follows the line protocol reference: measurement names escape commas and
spaces; tag keys, tag values and field keys escape commas, equals signs and spaces;
string field values escape double quotes and backslashes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n"})
_KEY = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n"})


def escape_measurement(name: str) -> str:
    """Escape a measurement name."""
    return name.translate(_MEASUREMENT)


def escape_key(key: str) -> str:
    """Escape a tag key, tag value or field key."""
    return key.translate(_KEY)


def escape_string(value: str) -> str:
    """Escape a string field value (without the surrounding quotes)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_field(value: float | bool | str) -> str:
    """A field value: floats as shortest round-trip decimals, booleans, quoted strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | int):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError("line protocol has no NaN or infinity")
        return repr(number)
    return f'"{escape_string(value)}"'


def line(
    measurement: str, tags: Mapping[str, str], fields: Mapping[str, float | bool | str], ts_ms: int
) -> str:
    """One line of line protocol with millisecond precision; tags are sorted."""
    if not fields:
        raise ValueError("a point needs at least one field")
    tag_part = "".join(f",{escape_key(k)}={escape_key(v)}" for k, v in sorted(tags.items()) if v != "")
    field_part = ",".join(f"{escape_key(k)}={format_field(v)}" for k, v in fields.items())
    return f"{escape_measurement(measurement)}{tag_part} {field_part} {ts_ms}"


def numeric_line(prefix: str, fields: Mapping[str, float], ts_ms: int) -> str:
    """Fast path: ``prefix`` is ``measurement,tags `` already escaped, field keys are
    identifiers checked against the contract's field pattern, values finite floats."""
    return f"{prefix}{','.join([f'{k}={v!r}' for k, v in fields.items()])} {ts_ms}"


def point_prefix(measurement: str, tags: Mapping[str, str]) -> str:
    """``measurement,tag=value `` escaped, for :func:`numeric_line`."""
    tag_part = "".join(f",{escape_key(k)}={escape_key(v)}" for k, v in sorted(tags.items()) if v != "")
    return f"{escape_measurement(measurement)}{tag_part} "
