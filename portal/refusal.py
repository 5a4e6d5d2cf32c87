"""One way to say no: :class:`Refused` carries the message a person reads and the HTTP status.

Services raise it for input or actions they refuse (bad form, a conflict, a role that
may not act on an object in its scope). Views that show the form again with what was
typed catch it; everywhere else the app-level handler rolls the session back and
answers with the message (an error page, or JSON on the API). Objects outside the
account's scope are not refused but not found: :class:`portal.access.NotVisible`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from flask_babel import LazyString


class Refused(ValueError):
    """Input or action refused; ``status`` is the HTTP status to answer with (400 by default).

    A refused form carries every problem in ``errors`` (field name → messages), so the page
    can show them all at once beside their fields; ``message`` then lists them all."""

    def __init__(
        self, message: str | LazyString, status: int = 400, errors: dict[str, list[str]] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.errors = errors or {}

    @classmethod
    def from_form(cls, errors: Mapping[str, Sequence[str]]) -> Refused:
        """A 400 listing a validated form's errors (one line, every message)."""
        flat = {name: [str(m) for m in messages] for name, messages in errors.items() if messages}
        return cls(" ".join(m for messages in flat.values() for m in messages), 400, flat)
