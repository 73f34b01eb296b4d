"""Errors every engine raises, so workers handle them the same way."""

from __future__ import annotations


class StackBusy(Exception):
    """Another change holds the stack; the job should wait its turn."""

    def __init__(self, stack: str) -> None:
        super().__init__(f"another change is running on {stack}, you are next")
        self.stack = stack


class EngineFailed(Exception):
    """The engine ran and reported a failure; the message is safe to show in chat."""


class EngineConfigError(ValueError):
    """An engine cannot start: a required setting is missing or wrong."""
