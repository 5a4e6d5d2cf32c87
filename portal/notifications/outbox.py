"""The e-mail outbox: notifications queued in SQL and sent over SMTP, with retries.

Each e-mail is committed as sent (or as failed once more) on its own, so a crash never
loses one and resends at most the one being sent. A failure is retried with an
exponential back-off (1, 2, 4 … minutes, at most an hour); after ``max_attempts`` the
e-mail is marked failed and kept for an operator to look at.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fleet.models import OutboxAttachment, OutboxEmail

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send (settings ``SMTP_*``). An empty host keeps e-mails queued."""

    host: str = ""
    port: int = 25
    sender: str = "portal@localhost"
    username: str = ""
    password: str = ""
    starttls: bool = False
    timeout_s: float = 10.0
    max_attempts: int = 8


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after ``attempts`` failures: 1, 2, 4 … minutes, at most 60."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))


def _message(item: OutboxEmail, sender: str, attachments: list[OutboxAttachment]) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = item.to_address
    msg["Subject"] = item.subject
    msg["Date"] = format_datetime(item.created_at)
    msg["Message-ID"] = make_msgid(idstring=f"outbox-{item.id}")
    msg.set_content(item.body)
    for file in attachments:
        maintype, _, subtype = file.content_type.partition("/")
        msg.add_attachment(file.data, maintype=maintype, subtype=subtype, filename=file.file_name)
    return msg


def send_due(
    sessions: sessionmaker[Session], smtp: SmtpSettings, now: datetime, limit: int = 50
) -> tuple[int, int]:
    """Send the e-mails that are due; returns (sent, failed this round)."""
    if not smtp.host:
        return 0, 0
    with sessions() as session:
        due = list(
            session.scalars(
                select(OutboxEmail.id)
                .where(
                    OutboxEmail.sent_at.is_(None),
                    OutboxEmail.failed_at.is_(None),
                    OutboxEmail.next_attempt_at <= now,
                )
                .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
                .limit(limit)
            )
        )
    if not due:
        return 0, 0
    sent = failed = 0
    try:
        client = _connect(smtp)
    except (OSError, smtplib.SMTPException) as exc:
        logger.warning("SMTP %s:%s unreachable: %s", smtp.host, smtp.port, exc)
        for email_id in due:
            _failed(sessions, email_id, str(exc), now, smtp.max_attempts)
        return 0, len(due)
    with client:
        for email_id in due:
            with sessions() as session, session.begin():
                item = session.get(OutboxEmail, email_id)
                if item is None or item.sent_at is not None:
                    continue
                files = list(
                    session.scalars(select(OutboxAttachment).where(OutboxAttachment.email_id == item.id))
                )
                try:
                    client.send_message(_message(item, smtp.sender, files))
                except (OSError, smtplib.SMTPException) as exc:
                    error = str(exc)
                else:
                    item.sent_at = now
                    item.attempts += 1
                    sent += 1
                    continue
            _failed(sessions, email_id, error, now, smtp.max_attempts)
            failed += 1
    if sent or failed:
        logger.info("outbox: %d sent, %d failed", sent, failed)
    return sent, failed


def _connect(smtp: SmtpSettings) -> smtplib.SMTP:
    client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s)
    if smtp.starttls:
        client.starttls(context=ssl.create_default_context())
    if smtp.username:
        client.login(smtp.username, smtp.password)
    return client


def _failed(
    sessions: sessionmaker[Session], email_id: int, error: str, now: datetime, max_attempts: int
) -> None:
    with sessions() as session, session.begin():
        item = session.get(OutboxEmail, email_id)
        if item is None:
            return
        item.attempts += 1
        item.last_error = error[:500]
        if item.attempts >= max_attempts:
            item.failed_at = now
            logger.error(
                "e-mail %s to %s given up after %d attempts: %s",
                item.id,
                item.to_address,
                item.attempts,
                error,
            )
        else:
            item.next_attempt_at = now + backoff(item.attempts)
