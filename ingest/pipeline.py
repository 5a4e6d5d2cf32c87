"""The worker side of the ingester: decode, validate, write to InfluxDB, record status in SQL.

:meth:`Pipeline.process` takes a batch of raw MQTT messages and returns only once the
batch is stored (InfluxDB accepted every valid point, SQL committed statuses and
rejections), retrying with capped exponential backoff. Only then may the caller
acknowledge the messages to the broker. If asked to stop while a dependency is down,
it raises :class:`Stopped` and the batch stays unacknowledged (the broker redelivers it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.exc import DBAPIError

from fleet.db import Database
from fleet.lineprotocol import line, numeric_line, point_prefix
from fleet.live import LiveEvent
from fleet.status import StatusTracker
from fleet.telemetry_schema import EVENT_MEASUREMENT, MEASUREMENT, STATUS_MEASUREMENT, TEXT_MEASUREMENT
from ingest.contract import Contract, Event, GatewayPresence, Invalid, Reading, Reason, StatusUpdate
from ingest.deadletters import DeadLetters, Rejected
from ingest.influx import RejectedWrite, RetryableWrite, Writer
from ingest.metrics import Metrics
from ingest.registry import AssetRegistry

logger = logging.getLogger(__name__)


class Stopped(Exception):
    """The ingester is stopping and the batch could not be stored: do not acknowledge it."""


@dataclass(slots=True)
class Inbound:
    """One MQTT message as handed over by ``on_message``."""

    mid: int
    qos: int
    topic: str
    payload: bytes
    generation: int
    received_at: float


@dataclass
class Backoff:
    """Capped exponential backoff: ``base * 2**attempt`` up to ``cap`` seconds."""

    base: float = 0.2
    cap: float = 30.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        return min(self.cap, self.base * (2 ** min(attempt, 16)))


@dataclass
class _Decoded:
    groups: list[list[str]] = field(default_factory=list)  # lines per accepted message
    group_msg: list[Inbound] = field(default_factory=list)
    statuses: list[tuple[int, int, StatusUpdate]] = field(default_factory=list)  # group, asset id, update
    offline: list[int] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    readings: list[int] = field(default_factory=list)  # readings per group
    reading_ts: list[int] = field(default_factory=list)  # every reading's timestamp (ms)


class Pipeline:
    """Turns batches of MQTT messages into stored points and status records."""

    def __init__(
        self,
        contract: Contract,
        writer: Writer,
        db: Database,
        tracker: StatusTracker,
        registry: AssetRegistry,
        deadletters: DeadLetters,
        metrics: Metrics,
        stopping: threading.Event,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.contract, self.writer, self.db = contract, writer, db
        self.tracker, self.registry, self.deadletters = tracker, registry, deadletters
        self.metrics, self.stopping = metrics, stopping
        self.backoff = backoff or Backoff()
        self.clock = clock
        self.seen: dict[int, float] = {}  # asset id -> newest receive time, for presence
        self._prefixes: dict[str, str] = {}  # asset -> escaped "telemetry,asset=… "

    # --- decoding -------------------------------------------------------------------
    def _decode(self, batch: list[Inbound]) -> _Decoded:
        out = _Decoded()
        now_ms = int(self.clock() * 1000)
        lookup = self.registry.lookup
        seen = self.seen
        prefixes = self._prefixes
        for msg in batch:
            try:
                items = self.contract.decode(msg.topic, msg.payload, now_ms)
            except Invalid as exc:
                out.rejected.append(
                    self.deadletters.reject(msg.topic, msg.payload, exc.reason.value, exc.detail)
                )
                continue
            first = items[0]
            if isinstance(first, GatewayPresence):
                if not first.online:
                    out.offline.extend(a for a in map(lookup, first.assets) if a is not None)
                out.group_msg.append(msg)
                out.groups.append([])
                out.readings.append(0)
                continue
            asset_id = lookup(first.asset)
            if asset_id is None:
                archived = self.registry.is_archived(first.asset)
                reason = Reason.NOT_ALLOWED if archived else Reason.UNKNOWN_ASSET
                rejected = self.deadletters.reject(msg.topic, msg.payload, reason.value, first.asset)
                out.rejected.append(rejected)
                continue
            if seen.get(asset_id, 0.0) < msg.received_at:
                seen[asset_id] = msg.received_at
            lines: list[str] = []
            readings = 0
            for item in items:
                if isinstance(item, GatewayPresence):
                    continue  # presence comes alone in its message (handled above)
                tags = {"asset": item.asset}
                if isinstance(item, Reading):
                    if item.numbers:
                        prefix = prefixes.get(item.asset)
                        if prefix is None:
                            prefix = prefixes[item.asset] = point_prefix(MEASUREMENT, tags)
                        lines.append(numeric_line(prefix, item.numbers, item.ts_ms))
                    if item.texts:
                        lines.append(line(TEXT_MEASUREMENT, tags, item.texts, item.ts_ms))
                    readings += 1
                    out.reading_ts.append(item.ts_ms)
                elif isinstance(item, StatusUpdate):
                    fields = {"state": item.state.value, "fault": item.fault or ""}
                    lines.append(line(STATUS_MEASUREMENT, tags, fields, item.ts_ms))
                    out.statuses.append((len(out.groups), asset_id, item))
                elif isinstance(item, Event):
                    fields = {"severity": item.severity, "detail": item.detail}
                    lines.append(line(EVENT_MEASUREMENT, {**tags, "type": item.type}, fields, item.ts_ms))
                    if item.severity == "critical":
                        logger.warning(
                            "critical event %s on %s: %s", item.type, item.asset, item.detail[:120]
                        )
            out.groups.append(lines)
            out.group_msg.append(msg)
            out.readings.append(readings)
        return out

    # --- storing --------------------------------------------------------------------
    def _retry_wait(self, attempt: int, what: str, exc: Exception) -> None:
        delay = self.backoff.delay(attempt)
        log = logger.warning if attempt in (0, 3) or attempt % 10 == 0 else logger.debug
        log("%s failed (attempt %d), retrying in %.1fs: %s", what, attempt + 1, delay, str(exc)[:200])
        if self.stopping.wait(delay):
            raise Stopped(what)

    def _write(self, lines: list[str]) -> None:
        attempt = 0
        while True:
            try:
                self.writer.write(lines)
                return
            except RetryableWrite as exc:
                self.metrics.write_retries.inc()
                self._retry_wait(attempt, "InfluxDB write", exc)
                attempt += 1

    def _write_groups(self, groups: list[list[str]], offset: int = 0) -> list[int]:
        """Write every group; return the indexes of groups the server refuses (bisecting)."""
        lines = [ln for g in groups for ln in g]
        if not lines:
            return []
        try:
            self._write(lines)
            return []
        except RejectedWrite as exc:
            if len(groups) == 1:
                logger.warning("InfluxDB refused a message's points: %s", str(exc)[:200])
                return [offset]
        half = len(groups) // 2
        return self._write_groups(groups[:half], offset) + self._write_groups(groups[half:], offset + half)

    def _store_sql(self, decoded: _Decoded, received_at: datetime) -> list[LiveEvent]:
        if not (decoded.statuses or decoded.offline or decoded.rejected):
            return []
        attempt = 0
        statuses = sorted(decoded.statuses, key=lambda s: s[2].ts_ms)
        while True:
            try:
                with self.db.session() as session:
                    events: list[LiveEvent] = []
                    for _group, asset_id, update in statuses:
                        events += self.tracker.apply(session, asset_id, update, received_at)
                    if decoded.offline:
                        events += self.tracker.mark_offline(
                            session, decoded.offline, self.registry.by_id, received_at
                        )
                    self.deadletters.store(session, decoded.rejected)
                return events
            except DBAPIError as exc:
                self.metrics.sql_retries.inc()
                self._retry_wait(attempt, "SQL transaction", exc)
                attempt += 1

    def process(self, batch: list[Inbound]) -> list[LiveEvent]:
        """Store a batch (retrying until it is stored); return live events to publish."""
        decoded = self._decode(batch)
        refused = set(self._write_groups(decoded.groups))
        for index in refused:
            msg = decoded.group_msg[index]
            decoded.rejected.append(
                self.deadletters.reject(
                    msg.topic, msg.payload, Reason.REJECTED_BY_DB.value, "refused by InfluxDB"
                )
            )
        decoded.statuses = [s for s in decoded.statuses if s[0] not in refused]
        events = self._store_sql(decoded, datetime.fromtimestamp(self.clock(), UTC))
        m = self.metrics
        m.received.inc(len(batch))
        m.readings_written.inc(sum(n for i, n in enumerate(decoded.readings) if i not in refused))
        m.points_written.inc(sum(len(g) for i, g in enumerate(decoded.groups) if i not in refused))
        m.statuses.inc(len(decoded.statuses))
        for r in decoded.rejected:
            m.invalid.labels(r.reason).inc()
        m.batches.inc()
        if decoded.reading_ts:
            now = self.clock()
            observe = m.store_latency.observe
            for ts_ms in decoded.reading_ts:
                observe(now - ts_ms / 1000)
            m.lag_seconds.set(max(0.0, now - max(decoded.reading_ts) / 1000))
        return events
