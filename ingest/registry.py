"""The asset registry as the ingester sees it: MQTT id ↔ asset id, refreshed from SQL."""

from __future__ import annotations

import logging
import time

from sqlalchemy import select

from fleet.db import Database
from fleet.models import Asset

logger = logging.getLogger(__name__)


class AssetRegistry:
    """A cached map of MQTT ids to asset ids. Unknown ids trigger a (rate-limited) reload.

    Archived assets are kept apart: their messages are not stored (``not_allowed``)."""

    def __init__(self, db: Database, refresh_s: float = 60.0, miss_reload_s: float = 5.0) -> None:
        self.db = db
        self.refresh_s = refresh_s
        self.miss_reload_s = miss_reload_s
        self.by_mqtt: dict[str, int] = {}
        self.by_id: dict[int, str] = {}
        self.archived: frozenset[str] = frozenset()
        self._loaded = 0.0

    def reload(self) -> None:
        """Read every asset's MQTT id from SQL."""
        with self.db.session() as session:
            rows = session.execute(select(Asset.mqtt_id, Asset.id, Asset.archived_at)).all()
        self.by_mqtt = {m: i for m, i, archived in rows if archived is None}
        self.by_id = {i: m for m, i, archived in rows if archived is None}
        self.archived = frozenset(m for m, _i, archived in rows if archived is not None)
        self._loaded = time.monotonic()
        logger.debug("registry: %d assets", len(rows))

    def maybe_refresh(self) -> None:
        """Reload when the cache is older than ``refresh_s``."""
        if time.monotonic() - self._loaded > self.refresh_s:
            self.reload()

    def lookup(self, mqtt_id: str) -> int | None:
        """The asset id for ``mqtt_id`` (None for an unknown or archived asset); reloads once
        in a while on a miss (new assets)."""
        asset_id = self.by_mqtt.get(mqtt_id)
        if asset_id is None and time.monotonic() - self._loaded > self.miss_reload_s:
            self.reload()
            asset_id = self.by_mqtt.get(mqtt_id)
        return asset_id

    def is_archived(self, mqtt_id: str) -> bool:
        """True if ``mqtt_id`` names an archived asset (as of the last reload)."""
        return mqtt_id in self.archived
