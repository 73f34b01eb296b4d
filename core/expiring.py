"""A set whose members are forgotten after a while, so per-process memory stays flat however many threads a
long-running process sees."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable


class ExpiringSet:
    def __init__(self, ttl_seconds: float, max_size: int = 100_000) -> None:
        self.ttl = ttl_seconds
        self.max_size = max_size
        self._added: OrderedDict[Hashable, float] = OrderedDict()

    def add(self, item: Hashable) -> None:
        self._evict()
        self._added.pop(item, None)
        self._added[item] = time.monotonic()
        while len(self._added) > self.max_size:
            self._added.popitem(last=False)

    def __contains__(self, item: object) -> bool:
        self._evict()
        return item in self._added

    def __len__(self) -> int:
        self._evict()
        return len(self._added)

    def _evict(self) -> None:
        # Insertion order is age order, so expired members are always at the front.
        limit = time.monotonic() - self.ttl
        while self._added and next(iter(self._added.values())) < limit:
            self._added.popitem(last=False)
