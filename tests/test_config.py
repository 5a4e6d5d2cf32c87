"""Settings: defaults, validation, and the production safety checks."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from config import DEFAULT_SECRET_KEY, ConfigError, Settings

ROOT = Path(__file__).resolve().parent.parent


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


def test_defaults_are_safe_for_a_local_run() -> None:
    s = _settings()
    assert s.portal_env == "development"
    assert s.uses_sqlite
    assert s.mqtt_topic_prefix == "equipment"
    assert s.influx_write_api == "v2"
    s.check_production()  # not production: no complaint


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQTT_URL", "mqtts://user:pw@broker.example:8883")
    monkeypatch.setenv("INFLUX_WRITE_API", "V1")
    monkeypatch.setenv("INGEST_BATCH_SIZE", "500")
    s = _settings()
    assert s.mqtt_url.startswith("mqtts://")
    assert s.influx_write_api == "v1"
    assert s.ingest_batch_size == 500


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("influx_write_api", "v3"),
        ("mqtt_url", "http://x"),
        ("mqtt_topic_prefix", "a/#"),
        ("ingest_batch_size", 0),
    ],
)
def test_invalid_values_are_rejected(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        _settings(**{field: value})


def test_production_refuses_default_secret() -> None:
    s = _settings(portal_env="production", database_url="postgresql+psycopg://db/portal")
    assert s.secret_key == DEFAULT_SECRET_KEY
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        s.check_production()


def test_production_refuses_sqlite_unless_allowed() -> None:
    s = _settings(portal_env="production", secret_key="k" * 40)
    with pytest.raises(ConfigError, match="SQLite"):
        s.check_production()
    _settings(
        portal_env="production", secret_key="k" * 40, allow_sqlite_in_production=True
    ).check_production()
    _settings(
        portal_env="production", secret_key="k" * 40, database_url="postgresql+psycopg://db/portal"
    ).check_production()


def test_production_refusal_is_one_line_without_traceback(tmp_path: Path) -> None:
    env = {"PORTAL_ENV": "production", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: refusing to start in production")


def test_the_env_example_lists_every_setting_with_its_default() -> None:
    """Regenerate with ``python -m devstack.env_example`` when a setting changes."""
    from devstack.env_example import TARGET, render

    assert TARGET.read_text(encoding="utf-8") == render()
    names = set(re.findall(r"^# ([A-Z0-9_]+)=", render(), re.MULTILINE))
    assert names == {name.upper() for name in Settings.model_fields}
