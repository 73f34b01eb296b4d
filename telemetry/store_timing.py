"""How long each MongoDB command takes, seen from this process: where a turn's time goes.

FerretDB's SQLite takes one writer at a time and makes the others back off, so a write's time depends on
every other process writing; this histogram shows it per command without touching the adapters.
"""

from __future__ import annotations

from pymongo import monitoring

from telemetry import metrics

# A fixed set, so no label grows without bound.
_NAMES = {"find", "insert", "update", "delete", "findAndModify", "aggregate", "count"}


class CommandTimer(monitoring.CommandListener):
    def started(self, event: monitoring.CommandStartedEvent) -> None:
        return None

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._observe(event.command_name, event.duration_micros)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._observe(event.command_name, event.duration_micros)

    @staticmethod
    def _observe(name: str, micros: int) -> None:
        metrics.MONGO_SECONDS.labels(name if name in _NAMES else "other").observe(micros / 1_000_000)


_installed = False


def install() -> None:
    """Times the commands of every MongoDB client this process creates from now on (once per process)."""
    global _installed
    if not _installed:
        monitoring.register(CommandTimer())
        _installed = True
