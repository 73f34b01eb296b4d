"""Structured logs: every line of a turn or a job carries request_id, job_id, thread and platform.

The fields live in context variables, so asyncio tasks started inside a turn or a job inherit them and
concurrent turns never see each other's. A logging filter copies them onto each record; LOG_FORMAT=json
prints one JSON object per line.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

FIELDS: tuple[str, ...] = ("request_id", "job_id", "thread", "platform")

_context: dict[str, contextvars.ContextVar[str | None]] = {
    name: contextvars.ContextVar(f"infrabot_log_{name}", default=None) for name in FIELDS
}


def bind(**fields: str | None) -> None:
    """Sets fields for the rest of the current task (and tasks it starts); None leaves a field alone."""
    for name, value in fields.items():
        if value is not None:
            _context[name].set(value)


@contextlib.contextmanager
def scope(**fields: str | None) -> Iterator[None]:
    """Fields for the duration of a block; restores the previous values afterwards."""
    tokens = [(_context[name], _context[name].set(value)) for name, value in fields.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def current() -> dict[str, str | None]:
    return {name: var.get() for name, var in _context.items()}


RECORD_ATTR = "infrabot_context"  # not `thread`: LogRecord already has one (the OS thread id)


class ContextFilter(logging.Filter):
    """Puts the current turn's or job's fields on every record (None outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, RECORD_ATTR):
            setattr(record, RECORD_ATTR, current())
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = getattr(record, RECORD_ATTR, None) or {}
        for name in FIELDS:
            line[name] = context.get(name)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def handler(log_format: str, stream: Any = None) -> logging.Handler:
    out = logging.StreamHandler(stream or sys.stderr)
    out.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    # On the handler, not a logger: records from every logger (ours, uvicorn's, arq's) pass through it.
    out.addFilter(ContextFilter())
    return out


def setup_logging(level: str, log_format: str = "text") -> None:
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler(log_format))
    root.setLevel(level)
