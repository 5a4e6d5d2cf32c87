"""A per-process cache of rendered page fragments (the portfolio's table and counters).

A facility manager's portfolio page reads and renders hundreds of assets; one person
reloading or coming back to it asks for the very same fragment. It is
kept for ``ttl_s`` seconds and dropped at once when this process

- receives a live event (status change, outage opened or closed) from the MQTT bridge;
- handles any request that may write (anything but GET, HEAD, OPTIONS).

Another process's writes show after at most ``ttl_s`` seconds; pages served from the
cache tell the browser so, and it re-reads the statuses when its live connection joins.
The user-specific parts of a page (header, forms, CSRF tokens, script nonces) are never
cached. ``ttl_s=0`` disables the cache.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fragment:
    """A rendered fragment and what the page around it needs to know."""

    html: str
    extra: dict[str, Any]
    rendered_at: float

    def age_s(self, clock: float | None = None) -> float:
        """Seconds since it was rendered."""
        return (clock if clock is not None else time.monotonic()) - self.rendered_at


class FragmentCache:
    """Rendered fragments by key, for ``ttl_s`` seconds, at most ``max_entries`` (LRU)."""

    def __init__(
        self, ttl_s: float, max_entries: int = 512, monotonic: Callable[[], float] = time.monotonic,
        observe: Callable[[bool], None] | None = None,
    ) -> None:  # fmt: skip
        self.ttl_s = ttl_s
        self.observe = observe  # told of each lookup: True for a hit (the portal's metrics)
        self.monotonic = monotonic  # tests pass a clock they move by hand
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, Fragment] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        """False when ``ttl_s`` is 0."""
        return self.ttl_s > 0

    def get(self, key: Hashable) -> Fragment | None:
        """The fragment for ``key`` if it is younger than ``ttl_s``."""
        if not self.enabled:
            return None
        clock = self.monotonic()
        with self._lock:
            frag = self._entries.get(key)
            if frag is None or frag.age_s(clock) >= self.ttl_s:
                if frag is not None:
                    del self._entries[key]
                self.misses += 1
                frag = None
            else:
                self._entries.move_to_end(key)
                self.hits += 1
        if self.observe is not None:
            self.observe(frag is not None)
        return frag

    def put(self, key: Hashable, html: str, **extra: Any) -> Fragment:
        """Keep a freshly rendered fragment (a no-op store when disabled)."""
        frag = Fragment(html, extra, self.monotonic())
        if self.enabled:
            with self._lock:
                self._entries[key] = frag
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        return frag

    def clear(self) -> None:
        """Forget everything (data changed)."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
