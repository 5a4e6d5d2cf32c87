"""What a page tells ``static/js/live.js``: its rooms, where to re-sync, and the words to use."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import gettext

from portal.i18n import locale_code
from portal.web.filters import FAULT_LABELS, STATE_LABELS, STATUS_SENTENCES, fault_label, state_label


def page_config(
    *, assets: Iterable[int] = (), sites: Iterable[int] = (), resync: str | None = None,
    resident: str | None = None, tz: str | None = None, resync_on_join: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """The JSON the page embeds (``<script type="application/json" id="live-config">``).

    ``resync_on_join``: the page was served from a cache, so the browser re-reads the
    statuses as soon as its live connection has joined (not only after a reconnect)."""
    return {
        "assets": sorted(set(assets)),
        "sites": sorted(set(sites)),
        "resync": resync,
        "resync_on_join": resync_on_join,
        "resident": resident,
        "tz": tz,
        "locale": locale_code(),
        "states": {k: state_label(k) for k in STATE_LABELS},  # translated once per locale
        "faults": {k: fault_label(k) for k in FAULT_LABELS},
        "sentences": {k: str(v) for k, v in STATUS_SENTENCES.items()},
        "texts": {
            "connecting": gettext("Connecting…"),
            "live": gettext("Live"),
            "reconnecting": gettext("Reconnecting…"),
            "fault": gettext("Fault: {fault}"),
            "down_since": gettext("since {time}"),
            "updated": gettext("Updated at {time}"),
        },
    }
