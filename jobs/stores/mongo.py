"""MongoDB adapters (PyMongo's native async API): history, requests, job status, audit, card refs."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from core.job import TERMINAL, JobStatus, Phase
from core.messages import HistoryEntry, ThreadRef
from core.request import LIVE, IllegalTransition, Request, Status, check_transition, encode
from jobs.stores.doc_lock import FENCE_FIELD, DocLocks
from jobs.stores.insert_batch import InsertBatch

_JOB_FIELDS = {f.name for f in fields(JobStatus)}
# Everything the relay and the worker read of a job; the change log stays on disk.
_NO_EVENTS = {"events": 0}
_OPEN_PHASES = [str(p) for p in Phase if p not in TERMINAL]


def now() -> datetime:
    return datetime.now(UTC)


def _stored_time(at: datetime) -> datetime:
    """`at` as BSON keeps it: to the millisecond."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


# Every call has an upper bound: a half-open connection fails the call instead of hanging a turn that
# holds a lock. The socket timeout outlasts a brief stall of the server (a failover, a pause).
SELECT_TIMEOUT_MS = 5000
CONNECT_TIMEOUT_MS = 5000
SOCKET_TIMEOUT_MS = 15000


def connect(url: str, db_name: str) -> tuple[AsyncMongoClient[dict[str, Any]], AsyncDatabase[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        url, tz_aware=True, serverSelectionTimeoutMS=SELECT_TIMEOUT_MS, connectTimeoutMS=CONNECT_TIMEOUT_MS,
        socketTimeoutMS=SOCKET_TIMEOUT_MS,
    )
    return client, client[db_name]


async def filters_are_atomic(db: AsyncDatabase[dict[str, Any]]) -> bool:
    """False on FerretDB v1: it finds a document by index only for a filter of `_id` alone and applies an
    update as a read-modify-write without isolation, so extra conditions in a write's filter cost a scan of
    the collection and still guard nothing atomically. MongoDB checks them and writes in one step."""
    info = await db.client.admin.command("buildInfo")
    return "ferretdbVersion" not in info


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db.messages.create_index([("thread_key", ASCENDING), ("order", ASCENDING)])
    await db.requests.create_index([("user_key", ASCENDING)])
    await db.requests.create_index([("thread_key", ASCENDING)])
    await db.jobs.create_index([("relay_pending", ASCENDING)])
    await db.requests.create_index([("stack", ASCENDING)])
    await db.jobs.create_index([("phase", ASCENDING)])
    await db.audit.create_index([("request_id", ASCENDING)])
    await backfill_live_stacks(db)
    await backfill_thread_latest(db)
    await backfill_request_lists(db)


class MongoHistory:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.col = db.messages
        # Every turn writes here twice (the words, then the replies): concurrent turns share the writes.
        self._inserts = InsertBatch(self.col)

    @staticmethod
    def _doc(entry: HistoryEntry) -> dict[str, Any]:
        return {
            "_id": entry.key,
            "thread_key": entry.thread.key(),
            "thread": entry.thread.as_dict(),
            "role": entry.role,
            "text": entry.text,
            "ts": now(),
            "order": time.time_ns(),
            "meta": entry.meta or {},
        }

    async def append(
        self, thread: ThreadRef, role: str, text: str, *, key: str, meta: dict[str, Any] | None = None
    ) -> bool:
        """Inserts once per key, so a redelivered event or a re-run job never doubles a line."""
        [stored] = await self._inserts.insert([self._doc(HistoryEntry(thread, role, text, key, meta))])
        return stored

    async def append_many(self, entries: list[HistoryEntry]) -> None:
        """One round trip for a turn's lines, in order; lines already stored (a redelivery) are skipped."""
        await self._inserts.insert([self._doc(e) for e in entries])

    async def list(self, thread: ThreadRef, limit: int = 500) -> list[dict[str, Any]]:
        cursor = self.col.find({"thread_key": thread.key()}).sort("order", ASCENDING).limit(limit)
        return [doc async for doc in cursor]


_BACKFILLED = "__backfilled__"


async def backfill_live_stacks(db: AsyncDatabase[dict[str, Any]]) -> None:
    """Once per database: points each stack at its live request, for stores written before the pointers."""
    if await db.live_stacks.find_one({"_id": _BACKFILLED}):
        return
    query = {"status": {"$in": [str(s) for s in LIVE]}}
    cursor = db.requests.find(query, {"stack": 1, "created_at": 1}).sort("created_at", 1)
    async for doc in cursor:
        if doc.get("stack"):
            await _upsert_once(db.live_stacks, doc["stack"], {"request_id": doc["_id"], "updated_at": now()})
    await _upsert_once(db.live_stacks, _BACKFILLED, {"at": now()})


async def _upsert_once(collection: Any, doc_id: str, doc: dict[str, Any]) -> None:
    # Replicas starting together both find nothing and both insert; the loser's write is the same backfill.
    with contextlib.suppress(DuplicateKeyError):
        await collection.replace_one({"_id": doc_id}, doc, upsert=True)


async def backfill_thread_latest(db: AsyncDatabase[dict[str, Any]]) -> None:
    """Once per database: points each thread at its newest request, for stores written before the pointers."""
    if await db.thread_latest.find_one({"_id": _BACKFILLED}):
        return
    latest: dict[str, str] = {}
    async for doc in db.requests.find({}, {"thread_key": 1, "created_at": 1}).sort("created_at", 1):
        if doc.get("thread_key"):
            latest[str(doc["thread_key"])] = doc["_id"]
    pointers = [{"_id": key, "request_id": request_id} for key, request_id in latest.items()]
    for start in range(0, len(pointers), 500):
        # A pointer a create wrote meanwhile is newer than the backfill's: the duplicate is left as it is.
        with contextlib.suppress(BulkWriteError):
            await db.thread_latest.insert_many(pointers[start:start + 500], ordered=False)
    await _upsert_once(db.thread_latest, _BACKFILLED, {"at": now()})


# A user's list and history read this many of their newest requests, each by `_id`.
USER_RECENT = 50
# Reads by `_id` in flight at once: FerretDB answers a burst of new connections far slower than a few reused ones.
_READ_AHEAD = 8


def _user_list(user_key: str) -> str:
    return f"user:{user_key}"


def _stack_list(stack: str) -> str:
    return f"stack:{stack}"


async def _add_to_lists(collection: Any, entries: dict[str, list[str]], locks: DocLocks | None = None) -> None:
    """Adds request ids to keyed lists, the lists side by side. Lists only grow; a reader checks each request.

    Each list is updated under its document lock: FerretDB v1 loses one of two concurrent `$addToSet`s on
    one document (a user's first requests made at once). One update per list, not one bulk write: FerretDB
    answers a bulk write that hit a duplicate key without `nModified`, and PyMongo then raises a KeyError."""
    async def add(key: str, ids: list[str]) -> None:
        async with locks.hold(f"lists:{key}") if locks else contextlib.nullcontext():
            for attempt in (1, 2):
                try:
                    await collection.update_one({"_id": key}, {"$addToSet": {"ids": {"$each": ids}}}, upsert=True)
                    return
                except DuplicateKeyError:
                    # Two writers creating one new list at once (only without locks, at start-up): the loser's
                    # second try finds the list and adds to it.
                    if attempt == 2:
                        raise

    await asyncio.gather(*(add(key, ids) for key, ids in entries.items() if ids))


async def backfill_request_lists(db: AsyncDatabase[dict[str, Any]]) -> None:
    """Once per database: lists each user's and each stack's requests, for stores written before the lists."""
    if await db.request_lists.find_one({"_id": _BACKFILLED}):
        return
    entries: dict[str, list[str]] = {}
    cursor = db.requests.find({}, {"user_key": 1, "stack": 1, "created_at": 1}).sort("created_at", 1)
    async for doc in cursor:
        for key in (_user_list(str(doc.get("user_key") or "")), _stack_list(str(doc.get("stack") or ""))):
            if not key.endswith(":"):
                entries.setdefault(key, []).append(doc["_id"])
    keys = list(entries)
    for start in range(0, len(keys), 500):
        await _add_to_lists(db.request_lists, {k: entries[k] for k in keys[start:start + 500]})
    await _upsert_once(db.request_lists, _BACKFILLED, {"at": now()})


def _field(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


class MongoRequests:
    """Requests as `core.request.Request`; the status only moves through `transition` (one compare-and-set)."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], locks: DocLocks) -> None:
        self.col = db.requests
        self.live = db.live_stacks
        self.keys = db.request_keys
        # latest_in_thread() reads this pointer by _id: FerretDB answers a thread_key query by scanning requests.
        self.thread_latest = db.thread_latest
        # for_user() and on_stack() read these lists of request ids by _id, for the same reason.
        self.lists = db.request_lists
        self.locks = locks

    async def create(self, request: Request) -> tuple[Request, bool]:
        """Stores `request` once per event: a redelivered event gets the request its first delivery made.

        The event key is claimed first, in its own collection keyed by it, so two processes handling one
        event at once agree on a single random id; a crash between the two inserts is finished by the retry.
        """
        request_id = request.id
        if request.event_key:
            try:
                await self.keys.insert_one({"_id": request.event_key, "request_id": request.id, "ts": now()})
            except DuplicateKeyError:
                claimed = await self.keys.find_one({"_id": request.event_key})
                request_id = str((claimed or {}).get("request_id") or request.id)
        fresh = request.model_copy(update={"id": request_id, "latest_job": f"plan-{request_id}-1"})
        # Listed before the insert: an entry whose request never got stored is skipped by the readers, while a
        # stored request missing from its lists would be missing from `list` and from the stack's checks.
        await _add_to_lists(self.lists, {_user_list(fresh.user_key): [request_id],
                                         _stack_list(fresh.stack): [request_id]}, self.locks)
        stamp = _stored_time(now())
        doc = {**fresh.to_doc(), "created_at": stamp, "updated_at": stamp}
        try:
            await self.col.insert_one(doc)
            created = True
        except DuplicateKeyError:
            created = False
        # The thread's pointer (a whole-document replace, nothing to lose to a race) follows the insert, also
        # on a redelivery, whose retry so finishes what a failed first delivery left undone.
        await _upsert_once(self.thread_latest, fresh.thread_key, {"request_id": request_id})
        if not created:
            stored = await self.get(request_id)
            assert stored is not None, f"request {request_id} vanished right after it was stored"
            return stored, False
        # What was just inserted is what a read would return; reading it back would cost the turn a round trip.
        return Request.from_doc(doc), True

    async def get(self, request_id: str) -> Request | None:
        doc = await self.col.find_one({"_id": request_id})
        return Request.from_doc(doc) if doc else None

    async def update(
        self, request_id: str, changes: dict[str, Any], expect: dict[str, Any] | None = None
    ) -> bool:
        """Changes fields other than the status, only while every `expect` field (dotted paths) still holds."""
        if "status" in changes:
            raise IllegalTransition("the status only changes through transition()")
        return await self._set(request_id, changes, expect or {}) is not None

    async def transition(
        self, request_id: str, source: Status, target: Status, changes: dict[str, Any] | None = None,
        expect: dict[str, Any] | None = None,
    ) -> Request | None:
        """Moves the request from `source` to `target` if it is still at `source` (and `expect` holds).

        Returns the request as it now is, or None when another move won the race.
        """
        check_transition(source, target)
        return await self._set(request_id, {**(changes or {}), "status": target},
                               {**(expect or {}), "status": str(source)})

    async def _set(self, request_id: str, changes: dict[str, Any], expect: dict[str, Any]) -> Request | None:
        async with self.locks.hold(f"requests:{request_id}") as held:
            doc = await self.col.find_one({"_id": request_id})
            held.check(doc)
            if doc is None or any(_field(doc, k) != encode(v) for k, v in expect.items()):
                return None
            was_live = doc.get("status") in LIVE
            encoded = {k: encode(v) for k, v in changes.items()}
            if encoded.get("stack") and encoded["stack"] != doc.get("stack"):
                # A renamed request joins its new stack's list first (the old list's entry is skipped on read).
                await _add_to_lists(self.lists, {_stack_list(str(encoded["stack"])): [request_id]}, self.locks)
            async with held.write():
                doc = await self.col.find_one_and_update(
                    held.where(request_id), held.stamp({"$set": {**encoded, "updated_at": now()}}),
                    return_document=ReturnDocument.AFTER,
                )
            if doc is None:
                raise held.lost()  # requests are never deleted: only a later holder's stamp stops the match
            # Only moves into or out of the live states touch the pointer: most status changes don't.
            if "status" in changes and doc.get("stack") and was_live != (doc.get("status") in LIVE):
                await self._track_live(doc["stack"], request_id, str(doc["status"]))
            return Request.from_doc(doc)

    async def _track_live(self, stack: str, request_id: str, status: str) -> None:
        # live_stack() reads this pointer by _id: FerretDB answers any other query by scanning every request.
        if status in LIVE:
            await self.live.replace_one({"_id": stack}, {"request_id": request_id, "updated_at": now()}, upsert=True)
        else:
            await self.live.delete_one({"_id": stack, "request_id": request_id})

    async def for_user(self, platform: str, workspace: str, user: str) -> list[Request]:
        """The user's newest requests (at most USER_RECENT), oldest first."""
        user_key = f"{platform}:{workspace}:{user}"
        ids = await self._listed(_user_list(user_key))
        if ids is None:  # a store not backfilled yet
            cursor = self.col.find({"user_key": user_key}).sort("created_at", ASCENDING)
            return [Request.from_doc(doc) async for doc in cursor][-USER_RECENT:]
        found = await self._by_ids(ids[-USER_RECENT:])
        return [r for r in found if r.user_key == user_key]

    async def latest_in_thread(self, thread: ThreadRef) -> Request | None:
        pointer = await self.thread_latest.find_one({"_id": thread.key()})
        if pointer is not None:
            request = await self.get(str(pointer["request_id"]))
            if request is not None:
                return request
        elif await self.thread_latest.find_one({"_id": _BACKFILLED}):
            return None  # every request made since the backfill left a pointer: this thread has none
        return await self._latest({"thread_key": thread.key()})  # a store not backfilled yet

    async def live_stack(self, stack: str) -> Request | None:
        """The request whose apply built this stack and which was not destroyed since."""
        pointer = await self.live.find_one({"_id": stack})
        if pointer is None:
            return None
        request = await self.get(pointer["request_id"])
        return request if request and request.status in LIVE else None

    async def on_stack(self, stack: str, statuses: Collection[Status]) -> list[Request]:
        ids = await self._listed(_stack_list(stack))
        if ids is None:  # a store not backfilled yet
            cursor = self.col.find({"stack": stack, "status": {"$in": [str(s) for s in statuses]}})
            return [Request.from_doc(doc) async for doc in cursor.sort("created_at", ASCENDING)]
        wanted = {Status(s) for s in statuses}
        return [r for r in await self._by_ids(ids) if r.stack == stack and r.status in wanted]

    async def _listed(self, key: str) -> list[str] | None:
        """The ids on a keyed list; None when the store has no lists yet (not backfilled)."""
        doc = await self.lists.find_one({"_id": key})
        if doc is not None:
            return [str(i) for i in doc.get("ids") or []]
        # Every request made since the backfill is listed: no list means none.
        return [] if await self.lists.find_one({"_id": _BACKFILLED}) else None

    async def _by_ids(self, ids: list[str]) -> list[Request]:
        """Each by `_id` (FerretDB scans for `$in`), a few at a time, oldest first."""
        docs: list[dict[str, Any] | None] = []
        for start in range(0, len(ids), _READ_AHEAD):
            docs += await asyncio.gather(*(self.col.find_one({"_id": i}) for i in ids[start:start + _READ_AHEAD]))
        found = [Request.from_doc(doc) for doc in docs if doc is not None]
        return sorted(found, key=lambda r: r.created_at or datetime.min.replace(tzinfo=UTC))

    async def _latest(self, query: dict[str, Any]) -> Request | None:
        cursor = self.col.find(query).sort("created_at", -1).limit(1)
        docs = [doc async for doc in cursor]
        return Request.from_doc(docs[0]) if docs else None


def _platform(doc: dict[str, Any]) -> str:
    thread = doc.get("thread")
    return str(thread.get("platform", "")) if isinstance(thread, dict) else ""


def _to_status(doc: dict[str, Any]) -> JobStatus:
    data = {k: v for k, v in doc.items() if k in _JOB_FIELDS}
    data["job_id"] = doc["_id"]
    data["phase"] = Phase(doc["phase"])
    return JobStatus(**data)


class MongoJobs:
    """One document per job; every change bumps `version` and flags it for the chat-side relay."""

    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        locks: DocLocks,
        on_change: Callable[[str, str], Awaitable[None]] | None = None,
    ) -> None:
        self.col = db.jobs
        # The jobs not finished yet, keyed by job id: the reconciler reads this small collection instead of
        # querying `phase`, which FerretDB answers by scanning every job (and its change log) ever run.
        self.open = db.open_jobs
        self.locks = locks
        # Puts the job on the relay's work list; MongoDB's `relay_pending` stays the truth it is rebuilt from.
        self.on_change = on_change

    async def create(self, status: JobStatus) -> bool:
        doc = {k: getattr(status, k) for k in _JOB_FIELDS if k != "job_id"}
        doc["_id"] = status.job_id
        doc["phase"] = str(status.phase)
        doc["created_at"] = doc.get("created_at") or now()
        doc["relay_pending"] = True
        doc["events"] = [{"ts": now(), "version": status.version, "phase": str(status.phase),
                          "message": status.message}]
        try:
            await self.col.insert_one(doc)
            created = True
        except DuplicateKeyError:
            created = False
        # Listed after the insert, also when the job was there already: a retry lists what a failed run did not.
        await self._track_open(status.job_id, doc["phase"], doc["created_at"])
        if not created:
            return False
        if self.on_change:
            await self.on_change(status.job_id, str(status.thread.get("platform", "")))
        return True

    async def _track_open(self, job_id: str, phase: str, created_at: datetime | None) -> None:
        if phase in _OPEN_PHASES:
            await _upsert_once(self.open, job_id, {"created_at": created_at or now()})
        else:
            await self.open.delete_one({"_id": job_id})

    async def get(self, job_id: str) -> JobStatus | None:
        doc = await self.col.find_one({"_id": job_id}, _NO_EVENTS)
        return _to_status(doc) if doc else None

    async def relay_state(self, job_id: str) -> tuple[JobStatus, dict[str, Any]] | None:
        """The status plus the relay's own bookkeeping (`relay_pending`, `relay_dead`)."""
        doc = await self.col.find_one({"_id": job_id}, _NO_EVENTS)
        if doc is None:
            return None
        return _to_status(doc), {k: doc.get(k) for k in ("relay_pending", "relay_dead", "relay_attempts")}

    async def events(self, job_id: str) -> list[dict[str, Any]]:
        doc = await self.col.find_one({"_id": job_id}, {"events": 1})
        return list(doc.get("events", [])) if doc else []

    async def update(self, job_id: str, **changes: Any) -> JobStatus | None:
        return await self._update(job_id, changes, only_open=False)

    async def update_open(self, job_id: str, **changes: Any) -> JobStatus | None:
        """Like `update`, but only while the job has not finished: None when it already had (a user's
        cancel, or another run's result, stays as it is)."""
        return await self._update(job_id, changes, only_open=True)

    async def open_jobs(self, limit: int = 500) -> list[JobStatus]:
        """Jobs not finished yet, oldest first; for the reconciler, off the chat path.

        Read through the open-jobs list, each job then by `_id`; the job document stays the truth, so an
        entry whose job has finished (its writer stopped between the two writes) is dropped here.
        """
        if not await self.open.find_one({"_id": _BACKFILLED}):
            await self._backfill_open()
        listed = [doc async for doc in self.open.find({}).sort("created_at", ASCENDING).limit(limit + 1)]
        ids = [str(doc["_id"]) for doc in listed if doc["_id"] != _BACKFILLED][:limit]
        docs: list[dict[str, Any] | None] = []
        for start in range(0, len(ids), _READ_AHEAD):  # a burst of hundreds at once stalls FerretDB for seconds
            docs += await asyncio.gather(*(self.col.find_one({"_id": job_id}, _NO_EVENTS)
                                           for job_id in ids[start:start + _READ_AHEAD]))
        found: list[JobStatus] = []
        for job_id, doc in zip(ids, docs, strict=True):
            if doc is None or doc.get("phase") not in _OPEN_PHASES:
                await self.open.delete_one({"_id": job_id})
            else:
                found.append(_to_status(doc))
        return found

    async def _backfill_open(self) -> None:
        """Once per database: lists the open jobs of a store written before the list existed."""
        cursor = self.col.find({"phase": {"$in": _OPEN_PHASES}}, {"created_at": 1})
        entries = [{"_id": doc["_id"], "created_at": doc.get("created_at") or now()} async for doc in cursor]
        for start in range(0, len(entries), 500):
            with contextlib.suppress(BulkWriteError):  # entries a create wrote meanwhile are the same
                await self.open.insert_many(entries[start:start + 500], ordered=False)
        await _upsert_once(self.open, _BACKFILLED, {"created_at": datetime.min.replace(tzinfo=UTC)})

    async def _update(self, job_id: str, changes: dict[str, Any], *, only_open: bool) -> JobStatus | None:
        """Bumps the version; phase changes and errors also go to the job's change log, progress steps don't:
        a long apply reports hundreds of them, and the log would grow with each (FerretDB v1 ignores `$slice`)."""
        if "phase" in changes:
            changes["phase"] = str(changes["phase"])
        update: dict[str, Any] = {
            "$set": {**changes, "updated_at": now(), "relay_pending": True},
            "$inc": {"version": 1},
        }
        logged = "phase" in changes or changes.get("error")
        async with self.locks.hold(f"jobs:{job_id}") as held:
            current = await self.col.find_one({"_id": job_id}, {"version": 1, "phase": 1, FENCE_FIELD: 1})
            held.check(current)
            if current is None:
                return None
            # Checked here rather than in the update's filter: FerretDB scans for anything but `_id`.
            if only_open and current.get("phase") not in _OPEN_PHASES:
                return None
            if logged:
                update["$push"] = {"events": {
                    "ts": now(), "version": int(current.get("version", 0)) + 1, "phase": changes.get("phase"),
                    "message": changes.get("message", ""), "error": changes.get("error"),
                }}
            async with held.write():
                # FerretDB v1: no projection here
                doc = await self.col.find_one_and_update(held.where(job_id), held.stamp(update),
                                                         return_document=ReturnDocument.AFTER)
            if doc is None:
                raise held.lost()  # jobs are never deleted: only a later holder's stamp stops the match
        steps = [self.on_change(job_id, _platform(doc))] if self.on_change else []
        # Only a move between open and finished touches the list (queued -> running writes nothing more).
        if "phase" in changes and (current.get("phase") in _OPEN_PHASES) != (doc.get("phase") in _OPEN_PHASES):
            steps.append(self._track_open(job_id, str(doc.get("phase")), doc.get("created_at")))
        await asyncio.gather(*steps)
        return _to_status(doc)

    async def unrelayed(self, platforms: list[str], limit: int = 100) -> list[JobStatus]:
        query = {"relay_pending": True, "thread.platform": {"$in": platforms}}
        cursor = self.col.find(query, _NO_EVENTS).sort("created_at", ASCENDING).limit(limit)
        return [_to_status(doc) async for doc in cursor]

    async def pending_relay(self) -> list[tuple[str, str]]:
        """(job id, platform) of every job whose card is behind: what the relay's work list is rebuilt from."""
        cursor = self.col.find({"relay_pending": True}, {"thread.platform": 1})
        return [(doc["_id"], str((doc.get("thread") or {}).get("platform", ""))) async for doc in cursor]

    async def mark_relayed(self, job_id: str, version: int) -> None:
        # Only the version that was shown is cleared; a newer change keeps the flag for the next pass.
        await self._relay_write(job_id, {"version": version}, {
            "$set": {"relay_pending": False, "relay_attempts": 0}, "$max": {"relayed_version": version}})

    async def relay_failed(self, job_id: str, version: int) -> int:
        """Counts a failure to show `version`; 0 (not counted) once the job has moved past it."""
        doc = await self._relay_write(job_id, {"version": version}, {"$inc": {"relay_attempts": 1}})
        return int((doc or {}).get("relay_attempts", 0))

    async def dead_letter(self, job_id: str, reason: str, version: int) -> bool:
        """Gives up on the card only while `version` is still the newest and not shown: a slow process that
        failed an old version never stops the card of a newer one, or one another process showed."""
        doc = await self._relay_write(job_id, {"version": version, "relay_pending": True}, {
            "$set": {"relay_pending": False, "relay_dead": {"reason": reason[:500], "at": now()}}})
        return doc is not None

    async def _relay_write(self, job_id: str, expect: dict[str, Any], update: dict[str, Any]) -> dict[str, Any] | None:
        """The relay's bookkeeping: compare-and-set on `expect`, under the job's lock and fenced like every
        other write, so a relaying process that stalled past its lock cannot undo what a later one wrote."""
        async with self.locks.hold(f"jobs:{job_id}") as held:
            current = await self.col.find_one({"_id": job_id}, {FENCE_FIELD: 1, **dict.fromkeys(expect, 1)})
            held.check(current)
            if current is None or any(current.get(k) != v for k, v in expect.items()):
                return None  # the common miss (an older version shown) costs no write
            async with held.write():
                # The same conditions again in the filter: what was read may have changed since, if this
                # holder stalled past its lease. FerretDB v1: no projection here.
                return await self.col.find_one_and_update(held.where(job_id, **expect), held.stamp(update),
                                                          return_document=ReturnDocument.AFTER)


class MongoAudit:
    """Append-only: this adapter never updates or deletes."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.col = db.audit

    async def record(self, event: str, *, once: str | None = None, **fields_: Any) -> None:
        """`once` names the event: recording it again (a re-run job) keeps the first record only."""
        doc = {"event": event, "ts": now(), **fields_}
        if once is not None:
            doc["_id"] = once
        try:
            await self.col.insert_one(doc)
        except DuplicateKeyError:
            if once is None:
                raise

    async def list(self, **query: Any) -> list[dict[str, Any]]:
        return [doc async for doc in self.col.find(query).sort("ts", ASCENDING)]


class MongoStackOwners:
    """Insert-only: the first workspace to use a stack name keeps it."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.col = db.stacks

    async def claim(self, stack: str, owner: str) -> str | None:
        """None when `owner` has the stack (now or already); otherwise the workspace that has it."""
        try:
            await self.col.insert_one({"_id": stack, "owner": owner, "created_at": now()})
            return None
        except DuplicateKeyError:
            doc = await self.col.find_one({"_id": stack})
        holder = (doc or {}).get("owner")
        return None if holder in (None, owner) else str(holder)


class MongoCardRefs:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], locks: DocLocks) -> None:
        self.col = db.cards
        self.locks = locks

    async def get(self, request_id: str, platform: str) -> dict[str, Any] | None:
        doc = await self.col.find_one({"_id": f"{platform}:{request_id}"})
        return doc.get("ref") if doc else None

    async def state(self, request_id: str, platform: str) -> dict[str, Any] | None:
        return await self.col.find_one({"_id": f"{platform}:{request_id}"})

    async def begin_post(self, request_id: str, platform: str) -> None:
        await self.col.update_one(
            {"_id": f"{platform}:{request_id}"}, {"$set": {"posting": now(), "updated_at": now()}}, upsert=True
        )

    async def put(
        self, request_id: str, platform: str, ref: dict[str, Any], *, job_started: float = 0.0, version: int = -1
    ) -> bool:
        # Callers hold the card's lock; the comparison is for one whose lock lapsed while it was stalled.
        key = f"{platform}:{request_id}"
        doc = {"ref": ref, "job_started": job_started, "version": version, "updated_at": now()}
        if not self.locks.fence_in_filter:
            # FerretDB v1 (see DocLocks): compared on a read by `_id`, under the card's lock.
            shown = await self.col.find_one({"_id": key})
            if shown is not None and "version" in shown and \
                    (float(shown.get("job_started", 0.0)), int(shown["version"])) >= (job_started, version):
                return False
            await self.col.replace_one({"_id": key}, doc, upsert=True)
            return True
        # A record that matches none of this is newer, so the upsert's insert then collides with it.
        older = {"$or": [{"version": {"$exists": False}}, {"job_started": {"$lt": job_started}},
                         {"job_started": job_started, "version": {"$lt": version}}]}
        try:
            await self.col.replace_one({"_id": key, **older}, doc, upsert=True)
        except DuplicateKeyError:
            return False
        return True
