"""The embedded FerretDB finds a document by `_id` through an index, not by scanning its collection.

FerretDB v1.24 looks `_id` up with `_ferretdb_sjson->'$._id'` while its own index is on `->"_id"`, which
SQLite does not match; scripts/ferretdb adds an index on the expression the lookups use (idindex.go).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pymongo import AsyncMongoClient

from config.local_services import REPO_ROOT, free_port, start_ferretdb
from tests.support import eventually

LOOKUP = "SELECT _ferretdb_sjson FROM {table} WHERE _ferretdb_sjson->'$._id' = ?"


def plan(db_file: Path, collection: str) -> str:
    with sqlite3.connect(db_file) as conn:
        (table,) = conn.execute("SELECT table_name FROM _ferretdb_collections WHERE name = ?", (collection,)).fetchone()
        rows = conn.execute("EXPLAIN QUERY PLAN " + LOOKUP.format(table=f'"{table}"'), ('"x"',)).fetchall()
    return " ".join(str(row[-1]) for row in rows)


async def test_lookups_by_id_use_an_index_in_every_collection_even_one_made_later(tmp_path: Path) -> None:
    port = free_port()
    proc = start_ferretdb(tmp_path, port, bin_dir=REPO_ROOT / ".data" / "bin")
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(f"mongodb://127.0.0.1:{port}/")
    try:
        db = client.probe
        await db.jobs.insert_many([{"_id": f"job-{i}", "events": ["step"] * 20} for i in range(500)])
        db_file = tmp_path / "ferretdb" / "probe.sqlite"

        async def indexed(collection: str) -> bool:
            return "USING INDEX" in plan(db_file, collection)

        await eventually(lambda: indexed("jobs"), within=20)
        await db.later.insert_one({"_id": "made-after-start"})
        await eventually(lambda: indexed("later"), within=20)
        # FerretDB itself still works on those collections: reads, updates and deletes by `_id`, and its own
        # index list does not show the added index.
        assert (await db.jobs.find_one({"_id": "job-7"}) or {}).get("_id") == "job-7"
        await db.jobs.update_one({"_id": "job-7"}, {"$set": {"done": True}})
        assert (await db.jobs.find_one({"_id": "job-7"}) or {}).get("done") is True
        await db.jobs.delete_one({"_id": "job-8"})
        assert await db.jobs.count_documents({}) == 499
        assert [i["name"] async for i in await db.jobs.list_indexes()] == ["_id_"]
        await db.jobs.drop()
        assert "jobs" not in await db.list_collection_names()
    finally:
        await client.close()
        proc.terminate()
        proc.wait(timeout=10)
