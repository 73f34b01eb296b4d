"""MongoDB adapters (PyMongo's native async API): history, requests, job status, audit, card refs."""

from __future__ import annotations

import time
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from core.messages import ThreadRef
from core.status import JobStatus, Phase
from jobs.doc_lock import DocLocks

_JOB_FIELDS = {f.name for f in fields(JobStatus)}


def now() -> datetime:
    return datetime.now(UTC)


def connect(url: str, db_name: str) -> tuple[AsyncMongoClient[dict[str, Any]], AsyncDatabase[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        url, tz_aware=True, serverSelectionTimeoutMS=5000, connectTimeoutMS=3000
    )
    return client, client[db_name]


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db.messages.create_index([("thread_key", ASCENDING), ("order", ASCENDING)])
    await db.requests.create_index([("user_key", ASCENDING)])
    await db.requests.create_index([("thread_key", ASCENDING)])
    await db.jobs.create_index([("relay_pending", ASCENDING)])
    await db.audit.create_index([("request_id", ASCENDING)])


class MongoHistory:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.col = db.messages

    async def append(
        self, thread: ThreadRef, role: str, text: str, *, key: str, meta: dict[str, Any] | None = None
    ) -> bool:
        """Inserts once per key, so a redelivered event or a re-run job never doubles a line."""
        doc = {
            "_id": key,
            "thread_key": thread.key(),
            "thread": thread.as_dict(),
            "role": role,
            "text": text,
            "ts": now(),
            "order": time.time_ns(),
            "meta": meta or {},
        }
        try:
            await self.col.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def list(self, thread: ThreadRef, limit: int = 500) -> list[dict[str, Any]]:
        cursor = self.col.find({"thread_key": thread.key()}).sort("order", ASCENDING).limit(limit)
        return [doc async for doc in cursor]


def _field(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


class MongoRequests:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], locks: DocLocks) -> None:
        self.col = db.requests
        self.locks = locks

    async def create(self, doc: dict[str, Any]) -> bool:
        try:
            await self.col.insert_one({**doc, "created_at": now(), "updated_at": now()})
        except DuplicateKeyError:
            return False
        return True

    async def get(self, request_id: str) -> dict[str, Any] | None:
        return await self.col.find_one({"_id": request_id})

    async def update(
        self, request_id: str, changes: dict[str, Any], expect: dict[str, Any] | None = None
    ) -> bool:
        """Applies `changes` only while every `expect` field (dotted paths allowed) still holds."""
        async with self.locks.hold(f"requests:{request_id}"):
            if expect:
                doc = await self.col.find_one({"_id": request_id})
                if doc is None or any(_field(doc, k) != v for k, v in expect.items()):
                    return False
            result = await self.col.update_one({"_id": request_id}, {"$set": {**changes, "updated_at": now()}})
            return result.matched_count == 1

    async def for_user(self, platform: str, workspace: str, user: str) -> list[dict[str, Any]]:
        cursor = self.col.find({"user_key": f"{platform}:{workspace}:{user}"}).sort("created_at", ASCENDING)
        return [doc async for doc in cursor]

    async def latest_in_thread(self, thread: ThreadRef) -> dict[str, Any] | None:
        return await self._latest({"thread_key": thread.key()})

    async def live_stack(self, stack: str) -> dict[str, Any] | None:
        """The request whose apply built this stack and which was not destroyed since."""
        return await self._latest({"stack": stack, "status": {"$in": ["applied", "destroy_requested"]}})

    async def _latest(self, query: dict[str, Any]) -> dict[str, Any] | None:
        cursor = self.col.find(query).sort("created_at", -1).limit(1)
        docs = [doc async for doc in cursor]
        return docs[0] if docs else None


def _to_status(doc: dict[str, Any]) -> JobStatus:
    data = {k: v for k, v in doc.items() if k in _JOB_FIELDS}
    data["job_id"] = doc["_id"]
    data["phase"] = Phase(doc["phase"])
    return JobStatus(**data)


class MongoJobs:
    """One document per job; every change bumps `version` and flags it for the chat-side relay."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], locks: DocLocks) -> None:
        self.col = db.jobs
        self.locks = locks

    async def create(self, status: JobStatus) -> bool:
        doc = {k: getattr(status, k) for k in _JOB_FIELDS if k != "job_id"}
        doc["_id"] = status.job_id
        doc["phase"] = str(status.phase)
        doc["created_at"] = doc.get("created_at") or now()
        doc["relay_pending"] = True
        doc["events"] = [{"ts": now(), "phase": str(status.phase), "message": status.message}]
        try:
            await self.col.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def get(self, job_id: str) -> JobStatus | None:
        doc = await self.col.find_one({"_id": job_id})
        return _to_status(doc) if doc else None

    async def events(self, job_id: str) -> list[dict[str, Any]]:
        doc = await self.col.find_one({"_id": job_id}, {"events": 1})
        return list(doc.get("events", [])) if doc else []

    async def update(self, job_id: str, **changes: Any) -> JobStatus | None:
        if "phase" in changes:
            changes["phase"] = str(changes["phase"])
        event = {"ts": now(), "phase": changes.get("phase"), "message": changes.get("message", "")}
        if "done" in changes:
            event["done"], event["total"] = changes["done"], changes.get("total")
        async with self.locks.hold(f"jobs:{job_id}"):
            doc = await self.col.find_one_and_update(
                {"_id": job_id},
                {
                    "$set": {**changes, "updated_at": now(), "relay_pending": True},
                    "$inc": {"version": 1},
                    "$push": {"events": event},
                },
                return_document=ReturnDocument.AFTER,
            )
        return _to_status(doc) if doc else None

    async def unrelayed(self, platforms: list[str], limit: int = 100) -> list[JobStatus]:
        query = {"relay_pending": True, "thread.platform": {"$in": platforms}}
        cursor = self.col.find(query).sort("created_at", ASCENDING).limit(limit)
        return [_to_status(doc) async for doc in cursor]

    async def mark_relayed(self, job_id: str, version: int) -> None:
        # Only the version that was shown is cleared; a newer change keeps the flag for the next pass.
        async with self.locks.hold(f"jobs:{job_id}"):
            await self.col.update_one(
                {"_id": job_id, "version": version},
                {"$set": {"relay_pending": False, "relayed_version": version}},
            )


class MongoAudit:
    """Append-only: this adapter never updates or deletes."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.col = db.audit

    async def record(self, event: str, **fields_: Any) -> None:
        await self.col.insert_one({"event": event, "ts": now(), **fields_})

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

    async def put(self, request_id: str, platform: str, ref: dict[str, Any]) -> None:
        async with self.locks.hold(f"cards:{platform}:{request_id}"):
            await self.col.update_one(
                {"_id": f"{platform}:{request_id}"}, {"$set": {"ref": ref, "updated_at": now()}}, upsert=True
            )
