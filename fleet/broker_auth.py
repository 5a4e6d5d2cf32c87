"""The broker's authentication and access lists, written from the registry.

Each gateway is an MQTT account that may publish only under its own units' topics
(``{prefix}/{mqtt_id}/…``) and its presence topic (``{prefix}/_gateways/{ident}``). The
ingester's account reads the device topics and writes the live ones; the portal's only
reads and writes the live topics (``BROKER_ACCOUNTS``; without it, the account of
``MQTT_URL`` gets both). Anonymous clients get nothing.

The files are in Mosquitto's formats: a password file of ``user:$7$…`` lines (PBKDF2-SHA512,
what ``mosquitto_passwd`` writes; hashed here with :mod:`hashlib` so that no broker tool is
needed on the portal's host) and an ACL file. They are replaced atomically, and Mosquitto
re-reads both on SIGHUP. The README shows the same rules for other MQTT v5 brokers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import signal
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

GATEWAYS_SEGMENT = "_gateways"
HASH_ITERATIONS = 101  # mosquitto_passwd's own default
PASSWORD_FILE, ACL_FILE = "passwd", "acl"


def new_password() -> str:
    """A random password for a gateway or service account (shown once)."""
    return secrets.token_urlsafe(24)


def mosquitto_hash(password: str, *, salt: bytes | None = None, iterations: int = HASH_ITERATIONS) -> str:
    """A Mosquitto ``$7$`` password hash (PBKDF2-SHA512 with a 12-byte salt)."""
    salt = salt if salt is not None else os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_hash(password: str, stored: str) -> bool:
    """True if ``password`` matches a ``$7$`` hash."""
    try:
        _, kind, iterations, salt, digest = stored.split("$")
        if kind != "7":
            return False
        expected = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(expected, base64.b64decode(digest))


@dataclass(frozen=True)
class Account:
    """An MQTT account: user name, password hash, and (access, topic pattern) rules."""

    username: str
    password_hash: str
    rules: tuple[tuple[str, str], ...]


SERVICE_ROLES = ("ingest", "portal", "service")


def service_account(
    username: str, password: str, prefix: str, live_topic: str, role: str = "service"
) -> Account:
    """A service account. ``ingest``: reads every device topic, writes the live topics;
    ``portal``: reads and writes the live topics only; ``service``: both (one account shared
    by the ingester and the portal, as in the tests)."""
    device, live = (f"{prefix}/#", f"{live_topic}/#")
    rules = {
        "ingest": (("read", device), ("readwrite", live)),
        "portal": (("readwrite", live),),
        "service": (("readwrite", device), ("readwrite", live)),
    }[role]
    return Account(username, mosquitto_hash(password), rules)


def parse_service_accounts(spec: str) -> list[tuple[str, str, str]]:
    """``role:user:password,…`` (``BROKER_ACCOUNTS``) as (role, user, password) triples."""
    out = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        role, _, rest = item.partition(":")
        user, _, password = rest.partition(":")
        if role not in SERVICE_ROLES or not user or not password:
            raise ValueError(f"BROKER_ACCOUNTS: expected role:user:password with a role in {SERVICE_ROLES}")
        out.append((role, user, password))
    return out


def gateway_account(ident: str, password_hash: str, mqtt_ids: Iterable[str], prefix: str) -> Account:
    """A gateway's account: its units' topics and its own presence topic, write only."""
    rules = [("write", f"{prefix}/{mqtt_id}/#") for mqtt_id in sorted(mqtt_ids)]
    rules.append(("write", f"{prefix}/{GATEWAYS_SEGMENT}/{ident}"))
    return Account(ident, password_hash, tuple(rules))


def password_file(accounts: Sequence[Account]) -> str:
    """The password file's text."""
    return "".join(f"{a.username}:{a.password_hash}\n" for a in accounts)


def acl_file(accounts: Sequence[Account]) -> str:
    """The ACL file's text: nothing for anonymous clients, then each account's topics."""
    lines = ["# written by the equipment portal from its gateway registry; do not edit", ""]
    for account in accounts:
        lines.append(f"user {account.username}")
        lines.extend(f"topic {access} {pattern}" for access, pattern in account.rules)
        lines.append("")
    return "\n".join(lines)


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)


def write_files(directory: Path, accounts: Sequence[Account]) -> tuple[Path, Path]:
    """Write the password and ACL files into ``directory`` (atomically, mode 0600)."""
    directory.mkdir(parents=True, exist_ok=True)
    names = [a.username for a in accounts]
    if len(set(names)) != len(names):
        raise ValueError("two broker accounts share a user name")
    passwd, acl = directory / PASSWORD_FILE, directory / ACL_FILE
    _replace(passwd, password_file(accounts))
    _replace(acl, acl_file(accounts))
    logger.info("broker files written for %d accounts in %s", len(accounts), directory)
    return passwd, acl


def reload_broker(pid_file: Path) -> bool:
    """Ask the broker whose pid is in ``pid_file`` to re-read its files (SIGHUP)."""
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError) as exc:
        logger.warning("could not reload the broker from %s: %s", pid_file, exc)
        return False
    return True
