"""Writes to InfluxDB: influxdb-client on ``/api/v2/write`` (1.8+, 2.x, 3.x) or v1 ``/write``.

Writes are synchronous so that the caller acknowledges MQTT messages only after the
server accepted them. Errors are classified: :class:`RetryableWrite` (server down,
overloaded, timeouts, auth or missing database — try again later) and
:class:`RejectedWrite` (the server refuses these points; retrying cannot help).
"""

from __future__ import annotations

import logging
import re
from typing import Protocol
from urllib.parse import urlencode, urlsplit

import urllib3
from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from config import Settings
from fleet.telemetry_schema import auth_headers

logger = logging.getLogger(__name__)
IDENT_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class RetryableWrite(Exception):
    """The write failed for a reason that may pass (server down, 5xx, 429, timeout, auth)."""


class RejectedWrite(Exception):
    """The server refused (some of) the points: bad data, type conflicts."""


class Writer(Protocol):
    """What the ingester needs from an InfluxDB write path."""

    def write(self, lines: list[str]) -> None:
        """Write line-protocol lines (ms precision) or raise a classified error."""

    def ensure_database(self) -> None:
        """Create the database/bucket and its retention if missing and allowed."""

    def ping(self) -> bool:
        """True if the server answers."""

    def close(self) -> None:
        """Release connections."""


def _classify(status: int, body: str) -> Exception:
    text = body.strip()[:300]
    if status in (400, 413, 422):
        return RejectedWrite(f"HTTP {status}: {text}")
    return RetryableWrite(f"HTTP {status}: {text}")


class V1Writer:
    """InfluxDB 1.x ``POST /write?db=…&precision=ms`` over one keep-alive connection pool."""

    def __init__(self, url: str, database: str, token: str = "", timeout_s: float = 10.0,
                 retention_days: int = 0) -> None:  # fmt: skip
        if not IDENT_RE.fullmatch(database):
            raise ValueError("INFLUX_BUCKET must be 1-64 letters, digits, '_', '.', '-'")
        self.url = url.rstrip("/")
        self.database = database
        self.retention_days = retention_days
        self.write_url = f"{self.url}/write?{urlencode({'db': database, 'precision': 'ms'})}"
        self.headers = {"Content-Type": "text/plain; charset=utf-8", **auth_headers(token)}
        self.http = urllib3.PoolManager(
            num_pools=2, maxsize=4, timeout=urllib3.Timeout(connect=2.0, read=timeout_s), retries=False
        )

    def write(self, lines: list[str]) -> None:
        """POST the lines; raise a classified error on failure."""
        try:
            resp = self.http.request(
                "POST", self.write_url, body="\n".join(lines).encode(), headers=self.headers
            )
        except urllib3.exceptions.HTTPError as exc:
            raise RetryableWrite(str(exc)) from exc
        if resp.status == 404 and b"database not found" in resp.data:
            self.ensure_database()
            raise RetryableWrite("database was missing; created it")
        if resp.status >= 300:
            raise _classify(resp.status, resp.data.decode(errors="replace"))

    def query(self, q: str) -> dict[str, object]:
        """Run an administrative InfluxQL statement (POST /query)."""
        resp = self.http.request(
            "POST",
            f"{self.url}/query",
            fields={"q": q},
            encode_multipart=False,
            headers=_auth_headers_only(self.headers),
        )
        if resp.status >= 300:
            raise _classify(resp.status, resp.data.decode(errors="replace"))
        return resp.json()

    def ensure_database(self) -> None:
        """``CREATE DATABASE`` with the configured retention (idempotent on 1.x)."""
        # the name is validated against IDENT_RE: InfluxQL cannot bind identifiers
        statement = f'CREATE DATABASE "{self.database}"'
        if self.retention_days:
            statement += f' WITH DURATION {int(self.retention_days)}d NAME "default"'
        try:
            self.query(statement)
        except (RejectedWrite, RetryableWrite, urllib3.exceptions.HTTPError) as exc:
            logger.warning("could not create database %s: %s", self.database, exc)

    def ping(self) -> bool:
        """GET /ping."""
        try:
            return self.http.request("GET", f"{self.url}/ping", retries=False).status < 300
        except urllib3.exceptions.HTTPError:
            return False

    def close(self) -> None:
        """Close the pool."""
        self.http.clear()


def _auth_headers_only(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() == "authorization"}


class V2Writer:
    """influxdb-client's synchronous write API on ``/api/v2/write``."""

    def __init__(self, url: str, bucket: str, org: str, token: str = "", timeout_s: float = 10.0,
                 retention_days: int = 0) -> None:  # fmt: skip
        self.bucket, self.org, self.retention_days = bucket, org, retention_days
        self.client = InfluxDBClient(url=url, token=token or "none", org=org, timeout=int(timeout_s * 1000),
                                     retries=False, enable_gzip=False)  # fmt: skip
        self.api = self.client.write_api(write_options=SYNCHRONOUS)

    def write(self, lines: list[str]) -> None:
        """Write the lines; raise a classified error on failure."""
        try:
            self.api.write(
                bucket=self.bucket,
                org=self.org,
                record="\n".join(lines),
                write_precision=WritePrecision.MS,  # type: ignore[arg-type]  # the client's hint says str
            )
        except ApiException as exc:
            raise _classify(exc.status or 0, str(exc.body or exc.reason)) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise RetryableWrite(str(exc)) from exc

    def ensure_database(self) -> None:
        """Create the bucket with its retention if missing (needs a token allowed to)."""
        try:
            api = self.client.buckets_api()
            if api.find_bucket_by_name(self.bucket) is None:
                from influxdb_client import BucketRetentionRules

                rules = BucketRetentionRules(type="expire", every_seconds=self.retention_days * 86400)
                api.create_bucket(
                    bucket_name=self.bucket,
                    retention_rules=rules if self.retention_days else None,
                    org=self.org,
                )
                logger.info("created bucket %s", self.bucket)
        except (ApiException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            logger.warning(
                "could not check or create bucket %s (continuing): %s", self.bucket, str(exc)[:200]
            )

    def ping(self) -> bool:
        """True if the server answers /ping (or /health)."""
        try:
            return bool(self.client.ping())
        except (urllib3.exceptions.HTTPError, OSError):
            return False

    def close(self) -> None:
        """Close the client."""
        self.api.close()
        self.client.close()


def make_writer(settings: Settings) -> Writer:
    """The writer selected by ``INFLUX_WRITE_API``."""
    if settings.influx_write_api == "v1":
        return V1Writer(settings.influx_url, settings.influx_bucket, settings.influx_token,
                        settings.influx_timeout_s, settings.influx_retention_days)  # fmt: skip
    return V2Writer(settings.influx_url, settings.influx_bucket, settings.influx_org, settings.influx_token,
                    settings.influx_timeout_s, settings.influx_retention_days)  # fmt: skip


def redact(url: str) -> str:
    """A URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
