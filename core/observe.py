"""Events worth counting that no port sees, such as a status card given up on.

core/ and the adapters call these functions; the process installs an observer that turns them into
metrics (telemetry/). Until one is installed they do nothing, so tests and tools need no set-up.
"""

from __future__ import annotations

from core.ports import Observer


class _Nobody:
    def dead_letter(self, platform: str) -> None:
        return None


_observer: Observer = _Nobody()


def install(observer: Observer) -> None:
    global _observer
    _observer = observer


def dead_letter(platform: str) -> None:
    """A status update that will never be shown (the place is gone or the platform refuses for good)."""
    _observer.dead_letter(platform)
