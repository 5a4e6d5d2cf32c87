"""Line protocol building and escaping, as the InfluxDB reference specifies."""

from __future__ import annotations

import pytest

from fleet.lineprotocol import (
    escape_key,
    escape_measurement,
    escape_string,
    line,
    numeric_line,
    point_prefix,
)


def test_escaping_rules() -> None:
    assert escape_measurement("my measure,x") == r"my\ measure\,x"
    assert escape_key("a b,c=d") == r"a\ b\,c\=d"
    assert escape_string('say "hi" \\ bye') == r"say \"hi\" \\ bye"


def test_line_with_every_field_type_and_sorted_tags() -> None:
    got = line("m", {"z": "1", "a": "x y"}, {"f": 1.5, "i": 3, "b": True, "s": 'q"'}, 1700)
    assert got == r'm,a=x\ y,z=1 f=1.5,i=3.0,b=true,s="q\"" 1700'


def test_fast_path_matches_the_general_one() -> None:
    fields = {"trips": 12.0, "motor_temp_c": 41.25, "tiny": 1e-07}
    assert numeric_line(point_prefix("telemetry", {"asset": "ELV-1"}), fields, 5) == line(
        "telemetry", {"asset": "ELV-1"}, fields, 5
    )


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_numbers_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="NaN or infinity"):
        line("m", {}, {"f": bad}, 1)


def test_a_point_needs_a_field() -> None:
    with pytest.raises(ValueError, match="at least one field"):
        line("m", {"a": "b"}, {}, 1)
