"""A local SMTP server for ``make run``: keeps every e-mail the portal sends in a folder.

``python -m devstack.mailcatcher --port 1025 --dir var/mail`` listens on 127.0.0.1 and
writes each message to ``<dir>/<n>.eml``, logging its recipient and subject. Nothing
leaves the machine. Tests use :class:`MailCatcher` directly.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

logger = logging.getLogger(__name__)


class _Handler:
    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.messages: list[Message] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        msg = message_from_bytes(envelope.content)
        with self.lock:
            self.messages.append(msg)
            n = len(self.messages)
        if self.folder is not None:
            (self.folder / f"{n:05d}.eml").write_bytes(envelope.content)
        logger.info("mail to %s: %s", msg["To"], msg["Subject"])
        return "250 Message accepted for delivery"


class MailCatcher:
    """An SMTP server on 127.0.0.1 that keeps what it receives (in memory and optionally on disk)."""

    def __init__(self, port: int, folder: Path | None = None) -> None:
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        self.handler = _Handler(folder)
        self.port = port
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=port)

    @property
    def messages(self) -> list[Message]:
        """What arrived so far."""
        with self.handler.lock:
            return list(self.handler.messages)

    def start(self) -> MailCatcher:
        """Start listening."""
        self.controller.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        self.controller.stop()


def main() -> None:
    """Entry point of ``python -m devstack.mailcatcher``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", type=Path, default=Path("var/mail"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    catcher = MailCatcher(args.port, args.dir).start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    logger.info("catching mail on 127.0.0.1:%d into %s", args.port, args.dir)
    stop.wait()
    catcher.stop()


if __name__ == "__main__":
    main()
