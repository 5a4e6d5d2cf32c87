"""Prometheus metrics of the portal and the worker, read back in Prometheus' own text
format with prometheus_client's parser."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from devstack.servers import free_port
from fleet.db import Database, utcnow
from fleet.models import AnswerAvailability, Asset, AssetMonthTally, OutboxEmail, SurveyResponse
from portal.app import create_app
from portal.influxql import TelemetryReader
from portal.kpi_months import KEEP_MONTHS
from portal.live.server import socketio_of
from portal.worker import Worker
from tests.conftest import logged_in_client, make_settings


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _app(db_url: str, **overrides: object) -> Flask:
    app = create_app(
        make_settings(db_url, live_enabled=False, influx_url=f"http://127.0.0.1:{free_port()}", **overrides)
    )
    app.config["WTF_CSRF_ENABLED"] = False
    return app


def test_requests_latency_page_cache_and_connections_are_counted(sqlite_demo_url: str) -> None:
    app = _app(sqlite_demo_url, page_cache_s=60, metrics_token="scrape-me")
    client = logged_in_client(app, "fm@demo.example")
    client.get("/portfolio")
    client.get("/portfolio")  # the second one comes from the page cache
    client.get("/assets/999999")  # 404
    with app.extensions["fleet.db"].sessionmaker() as s:
        token = s.scalar(select(Asset.public_token).limit(1))
    socket = socketio_of(app).test_client(app, auth={"resident": token})
    assert socket.is_connected()
    scraped = app.test_client().get("/metrics")
    assert scraped.status_code == 200
    samples = _samples(scraped.get_data(as_text=True))
    ok = frozenset({("endpoint", "assets.portfolio"), ("method", "GET"), ("status", "200")})
    assert samples[("portal_requests_total", ok)] == 2
    missing = frozenset({("endpoint", "assets.asset"), ("method", "GET"), ("status", "404")})
    assert samples[("portal_requests_total", missing)] == 1
    assert samples[("portal_request_seconds_count", frozenset({("endpoint", "assets.portfolio")}))] == 2
    assert samples[("portal_page_cache_lookups_total", frozenset({("result", "hit")}))] >= 1
    assert samples[("portal_socketio_connections", frozenset())] == 1
    socket.disconnect()
    after = _samples(app.test_client().get("/metrics").get_data(as_text=True))
    assert after[("portal_socketio_connections", frozenset())] == 0


def test_metrics_answer_only_the_loopback_address_or_the_token(sqlite_demo_url: str) -> None:
    app = _app(sqlite_demo_url, metrics_token="scrape-me")
    outside = app.test_client()
    outside.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    assert outside.get("/metrics").status_code == 404
    assert outside.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    assert outside.get("/metrics", headers={"Authorization": "Bearer scrape-me"}).status_code == 200


def test_the_worker_counts_its_steps_and_the_outbox(sqlite_demo_url: str) -> None:
    settings = make_settings(
        sqlite_demo_url, influx_url=f"http://127.0.0.1:{free_port()}", influx_timeout_s=1
    )
    db = Database(sqlite_demo_url)
    with db.session() as s:
        s.add(
            OutboxEmail(
                to_address="x@example.org",
                subject="s",
                body="b",
                next_attempt_at=utcnow() + timedelta(days=1),
            )
        )
    reader = TelemetryReader(settings.influx_url, settings.influx_bucket, timeout_s=1)
    worker = Worker(settings, db, reader)
    worker.tick()
    with db.sessionmaker() as s:
        waiting = s.scalar(
            select(func.count(OutboxEmail.id)).where(
                OutboxEmail.sent_at.is_(None), OutboxEmail.failed_at.is_(None)
            )
        )
    samples = _samples(generate(worker))
    assert samples[("worker_step_runs_total", frozenset({("step", "notifier"), ("outcome", "ok")}))] == 1
    assert samples[("worker_step_runs_total", frozenset({("step", "availability"), ("outcome", "ok")}))] == 1
    assert samples[("worker_step_runs_total", frozenset({("step", "month_tallies"), ("outcome", "ok")}))] == 1
    with db.sessionmaker() as s:  # the stored monthly tallies were written for every unit
        stored = s.scalar(select(func.count()).select_from(AssetMonthTally))
        assert stored == s.scalar(select(func.count(Asset.id))) * KEEP_MONTHS
    assert (
        samples[("worker_step_runs_total", frozenset({("step", "answers_availability"), ("outcome", "ok")}))]
        == 1
    )
    with db.sessionmaker() as s:  # and the availability before every survey answer of the demo
        answers = s.scalar(select(func.count(SurveyResponse.id)))
        assert answers
        assert s.scalar(select(func.count()).select_from(AnswerAvailability)) == answers
    assert samples[("worker_step_runs_total", frozenset({("step", "outbox"), ("outcome", "ok")}))] == 1
    assert samples[("worker_outbox_backlog", frozenset())] == waiting
    assert samples[("worker_step_runs_total", frozenset({("step", "webhooks"), ("outcome", "ok")}))] == 1
    assert ("worker_webhook_backlog", frozenset()) in samples
    assert waiting >= 1
    reader.close()
    db.dispose()


def generate(worker: Worker) -> str:
    """The worker's metrics as its /metrics port serves them."""
    from prometheus_client import generate_latest

    return generate_latest(worker.metrics.registry).decode()
