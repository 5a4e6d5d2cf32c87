"""Webhooks: endpoints registered per customer for chosen events; each event becomes one
delivery per endpoint, written in the transaction of the event (an outbox, like e-mail)
and sent by the worker.

Every delivery is a JSON body ``{"type", "version", "id", "timestamp", "data"}`` signed
as the Standard Webhooks specification says (``webhook-id``, ``webhook-timestamp``,
``webhook-signature: v1,<HMAC-SHA256 of id.timestamp.body>``, with the maintained
``standardwebhooks`` library), so receivers verify it with any implementation and drop
replays by ``webhook-id``. Deliveries go out in order per endpoint; a failed one is retried
with back-off and blocks the later ones of its endpoint (order is kept), up to
``WEBHOOK_MAX_ATTEMPTS``; an endpoint failing ``WEBHOOK_PAUSE_AFTER`` times in a row is
paused and the person who registered it is told by e-mail.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import logging
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import urllib3
from flask_babel import lazy_gettext
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks.webhooks import Webhook

from fleet.models import OutboxEmail, User, WebhookDelivery, WebhookEndpoint
from portal import audit
from portal.notifications.service import N_, translator
from portal.refusal import Refused

logger = logging.getLogger(__name__)
VERSION = 1
EVENTS = (
    "outage.opened",
    "outage.closed",
    "technician.assigned",
    "visit.done",
    "feedback.received",
    "sensor_warning.opened",  # only for customers whose contract shares sensor warnings
)
USER_AGENT = "equipment-portal-webhooks/1"
PAUSED_SUBJECT = N_("A webhook endpoint was paused")
PAUSED_BODY = N_(
    "The endpoint %(url)s failed %(count)d times in a row (last error: %(error)s). Nothing is sent to "
    "it until it is resumed on the portal's Webhooks page; what happened meanwhile waits for it."
)


@dataclass(frozen=True)
class DeliveryRules:
    """How hard the worker tries (settings ``WEBHOOK_*``)."""

    max_attempts: int = 8
    pause_after: int = 5
    timeout_s: float = 5.0
    allow_http: bool = False  # plain http only outside production (local receivers)


def new_secret() -> str:
    """A signing secret in the Standard Webhooks form (``whsec_`` + base64 of 24 random bytes)."""
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def backoff(attempts: int) -> timedelta:
    """Wait after ``attempts`` failed tries: 30 s, 1 min, 2 min … at most 6 h."""
    return timedelta(seconds=min(6 * 3600, 30 * 2 ** max(0, attempts - 1)))


def check_url(url: str, allow_http: bool) -> str:
    """An https URL (http only to a loopback host when ``allow_http``); :class:`Refused` otherwise."""
    url = url.strip()
    parts = urlsplit(url)
    message = lazy_gettext("An https:// address, such as https://cmms.example.com/hooks/portal.")
    if len(url) > 500 or not parts.hostname or parts.username or parts.password:
        raise Refused(message, 400, {"url": [str(message)]})
    loopback = parts.hostname == "localhost"
    with contextlib.suppress(ValueError):  # a name, not an address
        loopback = loopback or ipaddress.ip_address(parts.hostname).is_loopback
    if parts.scheme != "https" and not (parts.scheme == "http" and allow_http and loopback):
        raise Refused(message, 400, {"url": [str(message)]})
    return url


def register(
    session: Session,
    by: User,
    customer_id: int,
    url: str,
    events: Iterable[str],
    now: datetime,
    allow_http: bool,
) -> WebhookEndpoint:
    """A new endpoint (the caller has checked the customer is in ``by``'s scope)."""
    chosen = sorted(set(events))
    if not chosen or any(e not in EVENTS for e in chosen):
        message = lazy_gettext("Choose at least one event from the list.")
        raise Refused(message, 400, {"events": [str(message)]})
    endpoint = WebhookEndpoint(
        customer_id=customer_id,
        url=check_url(url, allow_http),
        secret=new_secret(),
        events=",".join(chosen),
        created_by_id=by.id,
        created_at=now,
    )
    session.add(endpoint)
    session.flush()
    audit.record(
        session,
        by,
        "webhook.created",
        "webhook",
        endpoint.id,
        now,
        after={"url": endpoint.url, "events": chosen, "customer_id": customer_id},
    )
    return endpoint


def resume(session: Session, endpoint: WebhookEndpoint, by: User, now: datetime) -> None:
    """Send again to a paused endpoint (what waited is sent first, in order)."""
    endpoint.paused_at, endpoint.consecutive_failures = None, 0
    session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint.id,
            WebhookDelivery.delivered_at.is_(None),
            WebhookDelivery.failed_at.is_(None),
        )
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    audit.record(session, by, "webhook.resumed", "webhook", endpoint.id, now)


def disable(session: Session, endpoint: WebhookEndpoint, by: User, now: datetime) -> None:
    """Stop the endpoint for good (its deliveries stay as history)."""
    endpoint.disabled_at = now
    audit.record(session, by, "webhook.removed", "webhook", endpoint.id, now)


def enqueue(
    session: Session, customer_id: int, event_type: str, data: Mapping[str, Any], now: datetime
) -> int:
    """One delivery per active endpoint of the customer subscribed to ``event_type``."""
    if event_type not in EVENTS:
        raise ValueError(f"unknown webhook event {event_type!r}")
    endpoints = session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.customer_id == customer_id, WebhookEndpoint.disabled_at.is_(None)
        )
    )
    made = 0
    for endpoint in endpoints:
        if event_type not in endpoint.event_list:
            continue
        message_id = f"msg_{uuid.uuid4().hex}"
        body = {
            "type": event_type,
            "version": VERSION,
            "id": message_id,
            "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "data": dict(data),
        }
        session.add(
            WebhookDelivery(
                endpoint_id=endpoint.id,
                message_id=message_id,
                event_type=event_type,
                payload=json.dumps(body, separators=(",", ":"), ensure_ascii=False),
                created_at=now,
                next_attempt_at=now,
            )
        )
        made += 1
    return made


def signed_headers(endpoint: WebhookEndpoint, delivery: WebhookDelivery, now: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt."""
    signature = Webhook(endpoint.secret).sign(delivery.message_id, now, delivery.payload)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }


Sender = Callable[[str, dict[str, str], bytes, float], int]


def http_sender() -> Sender:
    """POST with urllib3 (no redirects, no retries of its own): the status code, or raise."""
    pool = urllib3.PoolManager(retries=False)

    def send(url: str, headers: dict[str, str], body: bytes, timeout_s: float) -> int:
        resp = pool.request(
            "POST", url, body=body, headers=headers, timeout=urllib3.Timeout(total=timeout_s), redirect=False
        )
        return int(resp.status)

    return send


def deliver_due(
    maker: sessionmaker[Session],
    now: datetime,
    rules: DeliveryRules,
    send: Sender,
    clock: Callable[[], datetime],
) -> tuple[int, int]:
    """Send what is due, oldest first and in order per endpoint; (delivered, failed attempts)."""
    delivered = failed = 0
    with maker() as session:
        due = session.scalars(
            select(WebhookDelivery)
            .join(WebhookEndpoint)
            .where(
                WebhookDelivery.delivered_at.is_(None),
                WebhookDelivery.failed_at.is_(None),
                WebhookEndpoint.paused_at.is_(None),
                WebhookEndpoint.disabled_at.is_(None),
            )
            .order_by(WebhookDelivery.endpoint_id, WebhookDelivery.id)
        ).all()
        blocked: set[int] = set()
        for delivery in due:
            endpoint = delivery.endpoint
            if endpoint.id in blocked or endpoint.paused_at is not None:
                continue
            if delivery.next_attempt_at > now:
                blocked.add(endpoint.id)  # a later message must not overtake this one
                continue
            ok = _attempt(session, endpoint, delivery, rules, send, clock())
            session.commit()
            if ok:
                delivered += 1
            else:
                failed += 1
                blocked.add(endpoint.id)
    return delivered, failed


def _attempt(
    session: Session,
    endpoint: WebhookEndpoint,
    delivery: WebhookDelivery,
    rules: DeliveryRules,
    send: Sender,
    now: datetime,
) -> bool:
    delivery.attempts += 1
    error = ""
    try:
        status = send(
            endpoint.url, signed_headers(endpoint, delivery, now), delivery.payload.encode(), rules.timeout_s
        )
        delivery.last_status = status
        if 200 <= status < 300:
            delivery.delivered_at, delivery.last_error = now, None
            endpoint.consecutive_failures = 0
            return True
        error = f"HTTP {status}"
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
    delivery.last_error = error
    endpoint.consecutive_failures += 1
    if delivery.attempts >= rules.max_attempts:
        delivery.failed_at = now
        logger.warning(
            "webhook %s to endpoint %s given up after %d attempts: %s",
            delivery.message_id,
            endpoint.id,
            delivery.attempts,
            error,
        )
    else:
        delivery.next_attempt_at = now + backoff(delivery.attempts)
    if endpoint.consecutive_failures >= rules.pause_after and endpoint.paused_at is None:
        _pause(session, endpoint, error, now)
    return False


def _pause(session: Session, endpoint: WebhookEndpoint, error: str, now: datetime) -> None:
    endpoint.paused_at = now
    logger.warning(
        "webhook endpoint %s paused after %d failures in a row", endpoint.id, endpoint.consecutive_failures
    )
    owner = endpoint.created_by
    if owner is not None and owner.is_active:
        t = translator(owner.locale)
        session.add(
            OutboxEmail(
                to_address=owner.email,
                subject=t(PAUSED_SUBJECT),
                created_at=now,
                next_attempt_at=now,
                body=t(PAUSED_BODY, url=endpoint.url, count=endpoint.consecutive_failures, error=error),
            )
        )


def recent(session: Session, endpoint: WebhookEndpoint, limit: int = 50) -> list[WebhookDelivery]:
    """The endpoint's newest deliveries."""
    stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    return list(session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(limit)))


# --- what each event says -----------------------------------------------------------------
def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def unit_data(asset: Any) -> dict[str, Any]:
    """The unit and its site, as every event names them."""
    return {
        "asset": {"id": asset.id, "mqtt_id": asset.mqtt_id, "name": asset.name},
        "site": {"id": asset.site.id, "name": asset.site.name},
    }


def warning_data(item: Any) -> dict[str, Any]:
    """``sensor_warning.opened``: which signal of which unit strays since when, how far."""
    return {
        "warning_id": item.id,
        **unit_data(item.asset),
        "signal": item.signal.value,
        "severity": item.severity.value,
        "since": _iso(item.since),
        "opened_at": _iso(item.opened_at),
        "usual_level": item.baseline,
        "level": item.level,
    }


def outage_data(outage: Any) -> dict[str, Any]:
    """``outage.opened`` / ``outage.closed``."""
    return {
        "outage_id": outage.id,
        **unit_data(outage.asset),
        "started_at": _iso(outage.started_at),
        "ended_at": _iso(outage.ended_at),
        "fault": outage.fault_code,
        "detected_by": outage.detected_by.value if outage.detected_by else None,
    }
