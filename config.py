"""Typed settings for the portal and the ingester, parsed once from the environment.

Every setting is read from an environment variable of the same name in upper case
(``DATABASE_URL``, ``MQTT_URL`` …) or from an optional ``.env`` file in the working
directory. ``PORTAL_ENV`` picks the profile: ``development`` (default), ``testing`` or
``production``. The production profile refuses unsafe defaults (see
:meth:`Settings.check_production`).

Nothing here performs I/O at import time: call :func:`load_settings` (or build
``Settings(...)`` directly in tests) when a process starts.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fleet.broker_auth import parse_service_accounts

ROOT = Path(__file__).resolve().parent
DEFAULT_SECRET_KEY = "dev-only-insecure-secret-key"  # noqa: S105 - refused in production
DEFAULT_DATABASE_URL = f"sqlite:///{ROOT / 'instance' / 'fleet.db'}"


class Profile(StrEnum):
    """Deployment profile selected by ``PORTAL_ENV``."""

    DEVELOPMENT = "development"
    TESTING = "testing"
    PRODUCTION = "production"


class ConfigError(RuntimeError):
    """Raised when settings are unsafe or inconsistent; the message is one line."""


class Settings(BaseSettings):
    """All settings of the system, with safe defaults for a local run."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True)

    # --- logging (every process) --------------------------------------------
    log_level: str = "INFO"
    log_format: str = "text"  # text, or json (one object per line, for log shippers)

    # --- profile and web -------------------------------------------------
    portal_env: Profile = Profile.DEVELOPMENT
    secret_key: str = DEFAULT_SECRET_KEY
    allow_sqlite_in_production: bool = False
    session_lifetime_minutes: int = Field(default=480, ge=5, le=60 * 24 * 30)
    login_max_failures: int = Field(default=5, ge=1)
    login_max_failures_per_ip: int = Field(default=30, ge=1)
    login_window_minutes: int = Field(default=15, ge=1)
    password_min_length: int = Field(default=10, ge=8)
    password_reset_link_minutes: int = Field(default=60, ge=5, le=24 * 60)  # a reset link is valid this long
    password_reset_max_per_hour: int = Field(default=3, ge=1)  # links e-mailed per account per hour
    behind_proxy: bool = False
    default_locale: str = "en"
    availability_cache_s: float = Field(default=60.0, ge=0)  # 0 = compute on every page
    # stored availability (read model): the worker refreshes every asset this often, and the
    # changed ones every round; the portfolio uses stored rows up to this age, else computes
    availability_refresh_s: float = Field(default=60.0, gt=0)
    availability_max_age_s: float = Field(default=300.0, ge=0)  # 0 = never use the stored rows
    feedback_max_per_ip_hour: int = Field(default=3, ge=1)  # residents, per address and asset
    feedback_max_per_asset_hour: int = Field(default=30, ge=1)  # residents, per asset
    page_cache_s: float = Field(default=10.0, ge=0)  # rendered portfolio fragments; 0 = render every time
    survey_window_days: int = Field(default=7, ge=1, le=90)  # ask only this soon after a moment
    survey_daily_gap_hours: int = Field(default=24, ge=1)  # at most one new question per user per gap
    survey_nps_gap_days: int = Field(default=90, ge=30)  # NPS at most this often per user
    import_max_mb: float = Field(default=5.0, gt=0, le=200)  # registry CSV files above this are refused
    require_staff_mfa: bool = False  # vendor staff must use a TOTP second factor

    api_token_rate_per_minute: int = Field(
        default=120, ge=1
    )  # requests per API token per minute, per process
    metrics_token: str = ""  # /metrics answers the loopback address, or a scraper sending this bearer token
    worker_metrics_port: int = Field(
        default=9109, ge=0, le=65535
    )  # the worker's /metrics on 127.0.0.1; 0: off

    # --- live push (Socket.IO) ---------------------------------------------
    live_enabled: bool = True  # bridge portal/live MQTT events to browsers
    socketio_message_queue: str = ""  # e.g. redis://127.0.0.1:6379/0 for several portal processes
    socketio_cors_origins: str = ""  # comma-separated; empty = same origin only

    # --- business database -----------------------------------------------
    database_url: str = DEFAULT_DATABASE_URL
    database_echo: bool = False

    # --- MQTT --------------------------------------------------------------
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    mqtt_topic_prefix: str = "equipment"
    mqtt_client_id: str = "equipment-ingest"
    mqtt_shared_group: str = ""
    mqtt_keepalive_s: int = Field(default=30, ge=5)
    mqtt_live_topic: str = "portal/live"
    # The broker's password and ACL files, written from the gateway registry (empty: not
    # written here; run `flask --app wsgi broker files --out DIR` on the broker's host).
    broker_auth_dir: str = ""
    broker_pid_file: str = ""  # SIGHUP this pid after writing, so that Mosquitto re-reads them
    broker_accounts: str = ""  # role:user:password,… for the ingester's and portal's own accounts

    # --- InfluxDB ------------------------------------------------------------
    influx_url: str = "http://127.0.0.1:8086"
    influx_token: str = ""
    influx_org: str = "equipment"
    influx_bucket: str = "telemetry"
    influx_write_api: str = "v2"
    influx_retention_days: int = Field(default=400, ge=0)
    influx_timeout_s: float = Field(default=10.0, gt=0)

    # --- ingester -----------------------------------------------------------
    ingest_queue_size: int = Field(default=20_000, ge=100)
    ingest_batch_size: int = Field(default=2_000, ge=1)
    ingest_flush_interval_s: float = Field(default=0.1, gt=0)
    ingest_max_payload_bytes: int = Field(default=64 * 1024, ge=256)
    ingest_max_future_skew_s: int = Field(default=300, ge=0)
    ingest_offline_after_s: int = Field(default=300, ge=1)
    ingest_housekeeping_s: float = Field(default=5.0, gt=0)
    ingest_metrics_port: int = Field(default=9108, ge=0, le=65535)
    ingest_dead_letter_size: int = Field(default=1_000, ge=10)

    # --- notifications, e-mail and the worker (python -m portal.worker) --------
    public_url: str = "http://127.0.0.1:5000"  # links in e-mails
    smtp_host: str = ""  # empty: e-mails stay queued in the outbox
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "Equipment portal <portal@localhost>"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_max_attempts: int = Field(default=8, ge=1)
    webhook_max_attempts: int = Field(default=8, ge=1)  # tries before a delivery is given up
    webhook_pause_after: int = Field(default=5, ge=1)  # failures in a row that pause an endpoint
    webhook_timeout_s: float = Field(default=5.0, gt=0, le=60)
    notify_quiet_minutes: int = Field(default=15, ge=0)  # repeats within this are grouped
    notify_max_age_hours: int = Field(default=24, ge=1)  # older events are not told any more
    notify_visit_notice_days: int = Field(default=14, ge=1)  # visits are announced this long ahead
    worker_interval_s: float = Field(default=10.0, gt=0)
    plan_horizon_days: int = Field(default=60, ge=7, le=400)  # plans schedule visits this far ahead
    plan_interval_s: float = Field(default=600.0, gt=0)  # how often plans are scheduled
    export_dir: str = str(ROOT / "instance" / "exports")  # export ZIPs: the worker writes, the portal serves
    export_keep_days: int = Field(default=7, ge=1, le=90)  # a finished export is downloadable this long
    export_max_days: int = Field(default=400, ge=1)  # the longest period one export may cover
    condition_partitions: int = Field(
        default=16, ge=1, le=4096
    )  # shares of the fleet workers lease for detection

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        if value not in ("text", "json"):
            raise ValueError("LOG_FORMAT must be text or json")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return value.upper()

    @field_validator("broker_accounts")
    @classmethod
    def _broker_accounts(cls, value: str) -> str:
        parse_service_accounts(value)  # raises with the expected form
        return value

    @field_validator("default_locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        if value not in ("en", "fr"):
            raise ValueError("DEFAULT_LOCALE must be en or fr")
        return value

    @field_validator("influx_write_api")
    @classmethod
    def _write_api(cls, value: str) -> str:
        value = value.lower()
        if value not in {"v1", "v2"}:
            raise ValueError("INFLUX_WRITE_API must be 'v1' or 'v2'")
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"mqtt", "mqtts", "tcp", "ssl"} or not parts.hostname:
            raise ValueError("MQTT_URL must look like mqtt://[user:pass@]host[:port] or mqtts://…")
        return value

    @field_validator("mqtt_topic_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        value = value.strip("/")
        if not value or any(c in value for c in "+#"):
            raise ValueError("MQTT_TOPIC_PREFIX must be a non-empty topic without wildcards")
        return value

    @property
    def is_production(self) -> bool:
        """True for the production profile."""
        return self.portal_env is Profile.PRODUCTION

    @property
    def uses_sqlite(self) -> bool:
        """True when the business database is SQLite."""
        return self.database_url.startswith("sqlite")

    def check_production(self) -> None:
        """Raise :class:`ConfigError` if a production run would use an unsafe default."""
        if not self.is_production:
            return
        if self.secret_key == DEFAULT_SECRET_KEY or len(self.secret_key) < 32:
            raise ConfigError(
                "refusing to start in production: set SECRET_KEY to a random value of at least 32 characters"
            )
        if self.uses_sqlite and not self.allow_sqlite_in_production:
            raise ConfigError(
                "refusing to start in production on SQLite: set DATABASE_URL to PostgreSQL "
                "or ALLOW_SQLITE_IN_PRODUCTION=1"
            )


def load_settings(**overrides: object) -> Settings:
    """Parse settings from the environment (and ``.env``), applying explicit overrides."""
    return Settings(**overrides)  # type: ignore[arg-type]
