"""The background worker: ``python -m portal.worker``.

Every ``WORKER_INTERVAL_S`` it tells people what happened (the notifier), sends the
e-mails that are due (the outbox) and, once an hour is complete, runs the sensors'
detection pass over the shares of the fleet no other worker holds; every
``PLAN_INTERVAL_S`` it lets maintenance plans schedule their visits (usage plans read
their counters from InfluxDB) and issues last month's service reports once the month has
ended in each site's time zone. Each step runs in its own transaction and logs, never
kills the loop, on error. SIGTERM or SIGINT stops it after the current step. Several
workers may run: every step is idempotent and each record is marked in the same
transaction as what it caused.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config import ConfigError, Settings, load_settings
from fleet.db import Database, utcnow
from fleet.live import Publisher, announce
from fleet.logs import configure_logging
from fleet.models import OutboxEmail, WebhookDelivery
from fleet.mqtt import BrokerAddress, make_client
from portal import kpi_months
from portal.assets.read_model import changed_since_computed, refresh_availability
from portal.condition.monitor import MonitorRules, run_pass
from portal.data_export.jobs import ExportRules, expire, run_next
from portal.health.relationships import run_daily
from portal.influxql import TelemetryReader
from portal.maintenance.plans import TelemetryUsage, schedule
from portal.notifications.events import NotifierSettings, tell_due
from portal.notifications.outbox import SmtpSettings, send_due
from portal.reports.monthly import issue_due
from portal.reports.render import ReportRenderer
from portal.satisfaction import answer_availability
from portal.webhooks.service import DeliveryRules, deliver_due, http_sender

logger = logging.getLogger(__name__)


def notifier_settings(settings: Settings) -> NotifierSettings:
    """The notifier's part of the settings."""
    return NotifierSettings(
        public_url=settings.public_url.rstrip("/"),
        quiet=timedelta(minutes=settings.notify_quiet_minutes),
        max_age=timedelta(hours=settings.notify_max_age_hours),
        visit_notice=timedelta(days=settings.notify_visit_notice_days),
    )


def smtp_settings(settings: Settings) -> SmtpSettings:
    """The outbox's part of the settings."""
    return SmtpSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_from,
        username=settings.smtp_username,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
        max_attempts=settings.smtp_max_attempts,
    )


def webhook_rules(settings: Settings) -> DeliveryRules:
    """The webhook deliveries' part of the settings."""
    return DeliveryRules(
        max_attempts=settings.webhook_max_attempts,
        pause_after=settings.webhook_pause_after,
        timeout_s=settings.webhook_timeout_s,
        allow_http=not settings.is_production,
    )


class WorkerMetrics:
    """The worker's metrics: step runs by outcome, the outbox's backlog and failures, webhook
    delivery attempts and backlog."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.steps = Counter(
            "worker_step_runs", "Worker steps run, by step and outcome", ["step", "outcome"], registry=r
        )
        self.last_success = Gauge(
            "worker_step_last_success_timestamp_seconds",
            "When each step last succeeded (Unix time)",
            ["step"],
            registry=r,
        )
        self.outbox_backlog = Gauge("worker_outbox_backlog", "E-mails waiting to be sent", registry=r)
        self.outbox_failed = Gauge(
            "worker_outbox_failed", "E-mails given up after their last attempt", registry=r
        )
        self.webhook_attempts = Counter(
            "worker_webhook_attempts", "Webhook delivery attempts by outcome", ["outcome"], registry=r
        )
        self.webhook_backlog = Gauge("worker_webhook_backlog", "Webhook deliveries waiting", registry=r)

    def read_outbox(self, session: Session) -> None:
        """Update the outbox and webhook gauges from their tables."""
        waiting = select(func.count(OutboxEmail.id)).where(
            OutboxEmail.sent_at.is_(None), OutboxEmail.failed_at.is_(None)
        )
        self.outbox_backlog.set(session.scalar(waiting) or 0)
        waiting_hooks = select(func.count(WebhookDelivery.id)).where(
            WebhookDelivery.delivered_at.is_(None), WebhookDelivery.failed_at.is_(None)
        )
        self.webhook_backlog.set(session.scalar(waiting_hooks) or 0)
        self.outbox_failed.set(
            session.scalar(select(func.count(OutboxEmail.id)).where(OutboxEmail.failed_at.is_not(None))) or 0
        )


class Worker:
    """One worker process's loop (tests drive :meth:`tick` directly)."""

    def __init__(self, settings: Settings, db: Database, reader: TelemetryReader) -> None:
        self.settings = settings
        self.db = db
        self.metrics = WorkerMetrics()
        self.usage = TelemetryUsage(reader)
        self.notifier = notifier_settings(settings)
        self.smtp = smtp_settings(settings)
        self.webhooks = webhook_rules(settings)
        self.sender = http_sender()
        self.renderer = ReportRenderer()
        self.reader = reader
        self.exports = ExportRules(
            folder=Path(settings.export_dir),
            keep=timedelta(days=settings.export_keep_days),
            max_days=settings.export_max_days,
        )
        self.condition = MonitorRules(partitions=settings.condition_partitions)
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.live: Publisher | None = None  # set by :meth:`run`; tests may inject one
        self.next_plans = 0.0
        self.next_availability = 0.0
        self.stop = threading.Event()

    def tick(self) -> None:
        """One round: plans when due, stored availability, then notifications, e-mails, webhooks."""
        if time.monotonic() >= self.next_plans:
            self._step("plans", self._plans)
            self._step("reports", self._reports)
            self._step("health", self._health)
            self._step("month_tallies", self._month_tallies)
            self.next_plans = time.monotonic() + self.settings.plan_interval_s
        self._step("availability", self._availability)
        self._step("answers_availability", self._answers_availability)
        self._step("condition", self._condition)
        self._step("notifier", self._notify)
        self._step("outbox", lambda: send_due(self.db.sessionmaker, self.smtp, utcnow()))
        self._step("webhooks", self._webhooks)
        self._step("exports_expiry", lambda: expire(self.db.sessionmaker, self.exports.folder, utcnow()))
        self._step("metrics", self._read_outbox)

    def export_loop(self) -> None:
        """Write queued data exports one after the other until stopped (its own thread: a long
        export must not hold up notifications and e-mails)."""
        while not self.stop.is_set():
            try:
                handled = run_next(self.db.sessionmaker, self.reader, self.exports, utcnow)
            except Exception:
                logger.exception("export runner failed; retrying")
                handled = False
            if not handled:
                self.stop.wait(self.settings.worker_interval_s)

    def _webhooks(self) -> None:
        delivered, failed = deliver_due(self.db.sessionmaker, utcnow(), self.webhooks, self.sender, utcnow)
        self.metrics.webhook_attempts.labels("delivered").inc(delivered)
        self.metrics.webhook_attempts.labels("failed").inc(failed)

    def _read_outbox(self) -> None:
        with self.db.sessionmaker() as session:
            self.metrics.read_outbox(session)

    def _plans(self) -> None:
        horizon = timedelta(days=self.settings.plan_horizon_days)
        with self.db.session() as session:
            schedule(session, utcnow(), horizon=horizon, usage=self.usage)

    def _reports(self) -> None:
        """Last month's service reports not issued yet (each site's month, in its time zone)."""
        issue_due(
            self.db.sessionmaker, utcnow(), self.renderer.pdf,
            quiet=self.notifier.quiet, base_url=self.notifier.public_url,
        )  # fmt: skip

    def _health(self) -> None:
        """Today's relationship health (one snapshot per relationship and day) and the outreach
        it calls for; idempotent, so every plans round may run it."""
        with self.db.session() as session:
            scored, opened = run_daily(session, utcnow())
        if opened:
            logger.info("health: %d relationships scored, %d outreach task(s) opened", scored, opened)

    def _availability(self) -> None:
        """Every asset's stored availability when due, else the assets whose records changed."""
        full = time.monotonic() >= self.next_availability
        with self.db.session() as session:
            ids = None if full else changed_since_computed(session)
            if ids != []:
                refresh_availability(session, utcnow(), ids)
        if full:
            self.next_availability = time.monotonic() + self.settings.availability_refresh_s

    def _month_tallies(self) -> None:
        """The stored monthly tallies' missing rows (a month just ended, rows a change dropped)."""
        with self.db.session() as session:
            kpi_months.refresh(session, utcnow())

    def _answers_availability(self) -> None:
        """The stored availability before each survey answer, for answers without one (new
        answers, rows a change to their records dropped)."""
        with self.db.session() as session:
            answer_availability.refresh(session, utcnow())

    def _condition(self) -> None:
        """The sensors' detection pass over every share no other worker holds (a no-op until
        the next hour is complete); its warnings reach open pages as live events."""
        result = run_pass(
            self.db.sessionmaker, self.reader, utcnow(), self.owner, self.condition, clock=utcnow
        )
        if result.opened or result.closed:
            logger.info("condition pass: %d warning(s) opened, %d closed", result.opened, result.closed)
        if result.events and self.live is not None:
            announce(self.live, self.settings.mqtt_live_topic, result.events)
        if result.failed_shares:
            raise RuntimeError(f"condition shares {result.failed_shares} not done; retried next round")

    def _notify(self) -> None:
        with self.db.session() as session:
            tell_due(session, utcnow(), self.notifier)

    def _step(self, name: str, fn: Callable[[], object]) -> None:
        try:
            fn()
        except Exception:
            self.metrics.steps.labels(name, "failed").inc()
            logger.exception("worker step %s failed; retrying next round", name)
        else:
            self.metrics.steps.labels(name, "ok").inc()
            self.metrics.last_success.labels(name).set_to_current_time()

    def run(self) -> None:
        """Loop until stopped."""
        logger.info(
            "worker started (every %.0f s; SMTP %s)",
            self.settings.worker_interval_s,
            self.smtp.host or "not configured: e-mails stay queued",
        )
        exports = threading.Thread(target=self.export_loop, name="exports", daemon=True)
        exports.start()
        client = None
        if self.live is None:
            address = BrokerAddress.parse(self.settings.mqtt_url)
            client = make_client(address, f"worker-{self.owner}")
            client.connect_async(address.host, address.port)
            client.loop_start()
            self.live = client
        while not self.stop.is_set():
            self.tick()
            self.stop.wait(self.settings.worker_interval_s)
        exports.join(timeout=30)
        if client is not None:
            client.disconnect()
            client.loop_stop()
        logger.info("worker stopped")


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m portal.worker`` (``--help`` says what it does and starts nothing)."""
    parser = argparse.ArgumentParser(
        prog="python -m portal.worker",
        description="The portal's background worker: schedules visits from maintenance plans, tells people "
        "what happened (portal notifications, e-mail through the outbox) every WORKER_INTERVAL_S seconds. "
        "Settings come from the environment (see the README). SIGTERM stops it.",
    )
    parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise SystemExit(f"error: {exc}") from None
    configure_logging(settings.log_level, settings.log_format)
    db = Database(settings.database_url)
    reader = TelemetryReader(
        settings.influx_url, settings.influx_bucket, settings.influx_token, settings.influx_timeout_s
    )
    worker = Worker(settings, db, reader)
    if settings.worker_metrics_port:
        start_http_server(settings.worker_metrics_port, addr="127.0.0.1", registry=worker.metrics.registry)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.stop.set())
    try:
        worker.run()
    finally:
        reader.close()
        db.dispose()


if __name__ == "__main__":
    main()
