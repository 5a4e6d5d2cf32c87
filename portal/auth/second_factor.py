"""The optional second factor: time-based one-time codes (TOTP, RFC 6238) from an
authenticator app, with pyotp.

Enrolment shows a QR code of the ``otpauth://`` URI (segno) and keeps the secret only once
the person has typed a valid code from it. A code is accepted within one 30-second step
either side of the server's clock, and never twice (the last accepted step is stored), so
a code seen over someone's shoulder cannot be replayed. When ``REQUIRE_STAFF_MFA`` is on,
vendor staff must enrol before they can use the portal.
"""

from __future__ import annotations

import logging
from datetime import datetime

import pyotp
import segno
from sqlalchemy.orm import Session

from fleet.models import User
from portal import audit

logger = logging.getLogger(__name__)
ISSUER = "Equipment portal"
STEP_S = 30
MAX_WRONG_CODES = 5  # per pending login: then the password must be typed again


def new_secret() -> str:
    """A random base32 secret (160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, email: str) -> str:
    """The ``otpauth://`` URI authenticator apps read from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    """The URI as a QR code, an SVG ``data:`` URI for an ``<img>``."""
    return str(segno.make(uri, error="m").svg_data_uri(scale=5, border=2))


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code ``code`` is (this one or one either side), or None."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    step = int(now.timestamp()) // STEP_S
    for candidate in (step, step - 1, step + 1):
        if totp.at(candidate * STEP_S) == code:
            return candidate
    return None


def verify(session: Session, user: User, code: str, now: datetime) -> bool:
    """True (and the step remembered) if ``code`` is a fresh valid code of the account's secret."""
    if user.totp_secret is None:
        return False
    step = matching_step(user.totp_secret, code, now)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False
    user.totp_last_step = step
    session.flush()
    return True


def enrol(session: Session, user: User, secret: str, code: str, now: datetime) -> bool:
    """Keep ``secret`` as the account's second factor if ``code`` comes from it."""
    step = matching_step(secret, code, now)
    if step is None:
        return False
    user.totp_secret, user.totp_last_step = secret, step
    session.flush()
    audit.record(session, user, "person.second_factor_on", "person", user.id, now)
    logger.info("user %s turned the second factor on", user.id)
    return True


def remove(session: Session, user: User, by: User, now: datetime) -> None:
    """Turn the second factor off (by the person, or an administrator for a lost phone)."""
    user.totp_secret, user.totp_last_step = None, None
    session.flush()
    audit.record(session, by, "person.second_factor_off", "person", user.id, now)
    logger.info("user %s turned the second factor of user %s off", by.id, user.id)
