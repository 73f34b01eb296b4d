"""Group commit for inserts: the inserts that arrive while one is on its way go together in the next one.

FerretDB takes one writer at a time, and each write is its own SQLite transaction. Twenty turns inserting
their words at once queue twenty transactions, the last of them waiting for all the others; as one
`insert_many` they are one transaction that costs little more than a single insert. An insert that finds
nothing on its way goes at once, so a quiet store pays nothing for this.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from pymongo.errors import BulkWriteError, WriteError

log = logging.getLogger("infrabot.store")

DUPLICATE_KEY = 11000


class Inserts(Protocol):
    """What the batch needs of a collection: PyMongo's `AsyncCollection` is one."""

    async def insert_many(self, documents: list[dict[str, Any]], *, ordered: bool = ...) -> Any: ...


class InsertBatch:
    """One per collection and process. Each document gets its own answer: stored, already there (its `_id`
    was taken), or the error that stopped it; a failure of the whole call is every document's error."""

    def __init__(self, collection: Inserts, max_docs: int = 500) -> None:
        self.collection = collection
        self.max_docs = max_docs
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[bool]]] = []
        self._sending: asyncio.Task[None] | None = None

    async def insert(self, docs: list[dict[str, Any]]) -> list[bool]:
        """True for each document stored now, False for each whose `_id` was stored already."""
        if not docs:
            return []
        loop = asyncio.get_running_loop()
        answers = [loop.create_future() for _ in docs]
        self._waiting += zip(docs, answers, strict=True)
        if self._sending is None:
            self._sending = asyncio.create_task(self._send())
        # A caller that is cancelled leaves its documents in the batch: like a single insert cut off on
        # its way, they may be stored or not, and the next delivery's insert settles which.
        return list(await asyncio.gather(*answers))

    async def _send(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:self.max_docs], self._waiting[self.max_docs:]
                await self._insert(batch)
        finally:
            self._sending = None
            # Only a cancelled sender (its process closing) leaves documents behind: their callers learn it.
            left, self._waiting = self._waiting, []
            for _, answer in left:
                answer.cancel()

    async def _insert(self, batch: list[tuple[dict[str, Any], asyncio.Future[bool]]]) -> None:
        errors: dict[int, dict[str, Any]] = {}
        try:
            # Unordered: one document already there (a redelivery) does not stop the others.
            await self.collection.insert_many([doc for doc, _ in batch], ordered=False)
        except BulkWriteError as exc:
            errors = {int(err["index"]): err for err in exc.details.get("writeErrors", [])}
            if exc.details.get("writeConcernErrors"):
                for _, answer in batch:
                    _settle(answer, error=exc)
                return
        except asyncio.CancelledError:
            for _, answer in batch:
                answer.cancel()
            raise
        except Exception as exc:
            for _, answer in batch:
                _settle(answer, error=exc)
            return
        for index, (_, answer) in enumerate(batch):
            err = errors.get(index)
            if err is None:
                _settle(answer, stored=True)
            elif err.get("code") == DUPLICATE_KEY:
                _settle(answer, stored=False)
            else:
                log.warning("insert refused (code %s): %s", err.get("code"), err.get("errmsg"))
                _settle(answer, error=WriteError(str(err.get("errmsg", "")), err.get("code"), err))


def _settle(answer: asyncio.Future[bool], *, stored: bool = False, error: BaseException | None = None) -> None:
    if answer.done():  # its caller was cancelled
        return
    if error is None:
        answer.set_result(stored)
    else:
        answer.set_exception(error)
