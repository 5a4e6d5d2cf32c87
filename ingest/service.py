"""The ingester process: an MQTT consumer feeding the :class:`~ingest.pipeline.Pipeline`.

Threading model (after Telegraf's ``mqtt_consumer``):

- paho's network thread runs ``on_connect`` (subscribes) and ``on_message``, which only
  puts the message on a bounded queue — no I/O, no parsing;
- one worker thread takes batches from the queue, stores them through the pipeline,
  then acknowledges them (manual ack), then publishes live events;
- the broker never has more unacknowledged messages in flight to us than the MQTT v5
  *receive maximum*, which is at most the queue size, so the queue cannot overflow
  and, when InfluxDB is down, the broker keeps the rest (persistent session).
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions
from sqlalchemy import func, select

from config import Settings
from fleet.db import Database, make_engine
from fleet.live import LiveEvent, announce
from fleet.models import Asset
from fleet.mqtt import BrokerAddress, connect_properties, make_client
from fleet.readiness import Check, check_broker, check_database
from fleet.status import StatusTracker
from ingest.contract import Contract
from ingest.deadletters import DeadLetters
from ingest.influx import Writer, make_writer, redact
from ingest.metrics import Metrics
from ingest.pipeline import Inbound, Pipeline, Stopped
from ingest.registry import AssetRegistry

logger = logging.getLogger(__name__)
SESSION_EXPIRY_S = 7 * 24 * 3600
LOG_EVERY_S = 30.0
IDLE_GAP_S = 0.005


def ingest_database(url: str) -> Database:
    """A :class:`Database` whose SQLite transactions take the write lock up front.

    With several ingesters on one SQLite file, ``BEGIN IMMEDIATE`` avoids snapshot
    conflicts; PostgreSQL uses row locks instead (see :mod:`fleet.status`).
    """
    db = Database(url)
    if db.engine.dialect.name == "sqlite":
        from sqlalchemy import event

        engine = db.engine

        @event.listens_for(engine, "connect")
        def _no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return db


ClientFactory = Callable[[BrokerAddress, str], mqtt.Client]


def broker_client(address: BrokerAddress, client_id: str) -> mqtt.Client:
    """The ingester's paho client: MQTT v5, manual acknowledgements (ack after the write)."""
    return make_client(address, client_id, manual_ack=True)


class Ingester:
    """MQTT → InfluxDB + SQL, at least once, with graceful stop.

    The MQTT client comes from ``client_factory`` (paho by default), so the connection
    logic (resubscribe on every connect, session loss, acknowledgement generations) is
    tested with a stand-in client and no broker.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        client_id: str | None = None,
        writer: Writer | None = None,
        db: Database | None = None,
        metrics_port: int | None = None,
        client_factory: ClientFactory = broker_client,
    ) -> None:
        self.settings = settings
        self.client_id = client_id or settings.mqtt_client_id
        self.address = BrokerAddress.parse(settings.mqtt_url)
        self.contract = Contract(
            prefix=settings.mqtt_topic_prefix,
            max_payload_bytes=settings.ingest_max_payload_bytes,
            max_future_skew_ms=settings.ingest_max_future_skew_s * 1000,
            max_age_ms=settings.influx_retention_days * 86_400_000,
        )
        self.db = db or ingest_database(settings.database_url)
        self.writer = writer or make_writer(settings)
        self.metrics = Metrics()
        self.metrics_port = settings.ingest_metrics_port if metrics_port is None else metrics_port
        self.registry = AssetRegistry(self.db)
        self.tracker = StatusTracker(timedelta(seconds=settings.ingest_offline_after_s))
        self.stopping = threading.Event()
        self.pipeline = Pipeline(
            self.contract, self.writer, self.db, self.tracker, self.registry,
            DeadLetters(settings.ingest_dead_letter_size), self.metrics, self.stopping,
        )  # fmt: skip
        self.queue: queue.Queue[Inbound] = queue.Queue(maxsize=settings.ingest_queue_size)
        self.receive_maximum = min(settings.ingest_queue_size, 65535)
        self.generation = 0
        self.session_present = False
        self.accepting = True
        self.in_batch = 0
        self.client = client_factory(self.address, self.client_id)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.worker = threading.Thread(target=self._work, name="ingest-worker", daemon=True)
        self.connected = threading.Event()
        self.stopped = threading.Event()
        self._last_housekeeping = 0.0
        self._last_log = time.monotonic()

    # --- MQTT callbacks (paho's thread: no I/O here) ----------------------------------
    def subscription(self) -> str:
        """The topic filter, shared between ingesters when ``MQTT_SHARED_GROUP`` is set."""
        topic = self.contract.subscription()
        group = self.settings.mqtt_shared_group
        return f"$share/{group}/{topic}" if group else topic

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        if reason.is_failure:
            logger.error("broker refused the connection: %s", reason)
            return
        self.generation += 1
        self.session_present = bool(flags.session_present)
        if self.generation > 1 and not self.session_present:
            logger.warning(
                "the broker lost our session: messages published while we were away may be lost "
                "(is broker persistence on and its data folder writable?)"
            )
        client.subscribe(self.subscription(), options=SubscribeOptions(qos=1))
        self.metrics.connected.set(1)
        self.connected.set()
        logger.info(
            "connected to %s:%s as %s (session present: %s), subscribed to %s",
            self.address.host, self.address.port, self.client_id, flags.session_present, self.subscription(),
        )  # fmt: skip

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        self.metrics.connected.set(0)
        self.connected.clear()
        if not self.stopping.is_set():
            logger.warning("disconnected from broker (%s); reconnecting with backoff", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if not self.accepting:
            return  # not acknowledged: the broker redelivers it to the next session
        self.queue.put(Inbound(msg.mid, msg.qos, msg.topic, bytes(msg.payload), self.generation, time.time()))

    # --- worker ---------------------------------------------------------------------------
    def _next_batch(self) -> list[Inbound]:
        """Up to ``batch_size`` messages: closed when full, when the flush interval since the
        first message has passed, or when the queue has been idle for a few milliseconds
        (the broker's in-flight window may be smaller than a batch: do not wait for more)."""
        size = self.settings.ingest_batch_size
        interval = self.settings.ingest_flush_interval_s
        try:
            first = self.queue.get(timeout=interval)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + interval
        get_nowait, get = self.queue.get_nowait, self.queue.get
        idle_gap = min(IDLE_GAP_S, interval)
        while len(batch) < size:
            try:
                batch.append(get_nowait())
                continue
            except queue.Empty:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(get(timeout=min(remaining, idle_gap)))
            except queue.Empty:
                break  # idle: flush what we have
        return batch

    def _ack(self, batch: list[Inbound]) -> None:
        generation = self.generation
        ack = self.client.ack
        for msg in batch:
            # messages from an earlier connection are redelivered by the broker: do not ack them
            if msg.qos and msg.generation == generation:
                ack(msg.mid, msg.qos)

    def publish_live(self, events: list[LiveEvent]) -> None:
        """Publish outage and status changes for the portal's live push."""
        announce(self.client, self.settings.mqtt_live_topic, events)
        for ev in events:
            self.metrics.live_events.labels(ev.kind.value).inc()

    def _work(self) -> None:
        try:
            while True:
                batch = self._next_batch()
                if batch:
                    self.in_batch = len(batch)
                    self.metrics.buffer_depth.set(self.queue.qsize() + len(batch))
                    events = self.pipeline.process(batch)
                    self._ack(batch)
                    self.in_batch = 0
                    self.publish_live(events)
                elif not self.accepting:
                    break
                self._housekeeping()
        except Stopped as exc:
            logger.warning("stopping with an unstored batch (%s); the broker will redeliver it", exc)
        except Exception:
            logger.exception("ingest worker crashed")
            raise
        finally:
            self.stopped.set()

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._last_housekeeping < self.settings.ingest_housekeeping_s:
            return
        self._last_housekeeping = now
        self.metrics.buffer_depth.set(self.queue.qsize() + self.in_batch)
        try:
            self.registry.maybe_refresh()
            seen, self.pipeline.seen = self.pipeline.seen, {}
            wall = datetime.now(UTC)
            with self.db.session() as session:
                events = self.tracker.touch(
                    session, {a: datetime.fromtimestamp(t, UTC) for a, t in seen.items()}, self.registry.by_id
                )
                events += self.tracker.sweep_offline(session, self.registry.by_id, wall)
            self.publish_live(events)
        except Exception as exc:
            logger.warning("housekeeping failed, will retry: %s", exc)
        if now - self._last_log >= LOG_EVERY_S:
            self._last_log = now
            logger.info("ingest: %s", self.metrics.log_line())

    # --- life cycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Load the registry, prepare InfluxDB, connect and start consuming."""
        self.registry.reload()
        self.writer.ensure_database()
        self.metrics.serve(self.metrics_port)
        self.client.connect_async(
            self.address.host, self.address.port, keepalive=self.settings.mqtt_keepalive_s,
            clean_start=False, properties=connect_properties(SESSION_EXPIRY_S, self.receive_maximum),
        )  # fmt: skip
        self.worker.start()
        self.client.loop_start()
        logger.info(
            "ingester started: broker %s, InfluxDB %s (%s), %d assets",
            redact(self.settings.mqtt_url), redact(self.settings.influx_url),
            self.settings.influx_write_api, len(self.registry.by_mqtt),
        )  # fmt: skip

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking messages, store and acknowledge what was taken, then disconnect."""
        self.accepting = False
        deadline = time.monotonic() + timeout
        if not self.stopped.wait(max(0.0, timeout - 1)):
            logger.warning(
                "could not flush within %.0fs; unacknowledged messages will be redelivered", timeout
            )
        self.stopping.set()
        self.stopped.wait(max(0.1, deadline - time.monotonic()))
        self.client.disconnect()
        self.client.loop_stop()
        self.writer.close()
        self.metrics.close()
        self.db.dispose()
        logger.info("ingester stopped: %s", self.metrics.log_line())

    def run_forever(self) -> None:
        """Run until SIGTERM or Ctrl-C."""
        done = threading.Event()

        def _signal(signum: int, _frame: Any) -> None:
            logger.info("received %s, stopping", signal.Signals(signum).name)
            done.set()

        signal.signal(signal.SIGTERM, _signal)
        signal.signal(signal.SIGINT, _signal)
        self.start()
        while not done.wait(1.0):
            if self.stopped.is_set():
                raise SystemExit("ingest worker stopped unexpectedly")
        self.stop()


def check(settings: Settings, timeout: float = 5.0) -> list[tuple[str, bool, str]]:
    """Health of every dependency: [(name, ok, detail)] (the broker must accept our credentials)."""
    broker = check_broker(settings.mqtt_url, f"{settings.mqtt_client_id}-check", timeout)
    results: list[tuple[str, bool, str]] = [(broker.name, broker.ok, broker.detail)]
    writer = make_writer(settings)
    results.append(
        ("influxdb", writer.ping(), f"{redact(settings.influx_url)} ({settings.influx_write_api})")
    )
    writer.close()
    engine = make_engine(settings.database_url)
    database = check_database(engine)
    if database.ok:
        with engine.connect() as conn:
            count = conn.execute(select(func.count(Asset.id))).scalar_one()
        database = Check("database", True, f"{count} assets")
    engine.dispose()
    results.append((database.name, database.ok, database.detail))
    return results
