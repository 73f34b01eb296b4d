"""The embedded FerretDB lets one write through at a time (scripts/ferretdb/writegate.go).

FerretDB v1 applies an update as a read-modify-write without isolation, and its SQLite writers that collide
sleep in SQLite's busy back-off. The wrapper's write gate queues write commands in front of FerretDB instead:
no update is lost, and a client that misbehaves on the wire cannot hold the others up.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import bson
import pytest
from pymongo import AsyncMongoClient

from config.local_services import REPO_ROOT, free_port, start_ferretdb

OP_MSG = 2013


@pytest.fixture
def ferretdb(tmp_path: Path) -> Iterator[int]:
    """A FerretDB of this test's own: the raw sockets below misbehave on purpose."""
    port = free_port()
    proc = start_ferretdb(tmp_path, port, bin_dir=REPO_ROOT / ".data" / "bin")
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
async def client(ferretdb: int) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(f"mongodb://127.0.0.1:{ferretdb}/",
                                                               serverSelectionTimeoutMS=10_000)
    try:
        yield mongo
    finally:
        await mongo.close()


def op_msg(command: dict[str, Any], request_id: int = 1) -> bytes:
    body = struct.pack("<I", 0) + b"\x00" + bson.encode(command)
    return struct.pack("<iiii", 16 + len(body), request_id, 0, OP_MSG) + body


def raw_socket(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return sock


def answer(sock: socket.socket) -> dict[str, Any]:
    header = b""
    while len(header) < 16:
        chunk = sock.recv(16 - len(header))
        if not chunk:
            raise ConnectionError("closed before an answer")
        header += chunk
    size = struct.unpack("<i", header[:4])[0]
    rest = b""
    while len(rest) < size - 16:
        chunk = sock.recv(size - 16 - len(rest))
        if not chunk:
            raise ConnectionError("closed mid-answer")
        rest += chunk
    return bson.decode(rest[5:])  # after the flag bits and the section kind


async def test_concurrent_updates_of_one_document_from_two_clients_all_count(ferretdb: int) -> None:
    # Without the gate FerretDB v1 kept 17 of these 64 increments.
    clients: list[AsyncMongoClient[dict[str, Any]]] = [
        AsyncMongoClient(f"mongodb://127.0.0.1:{ferretdb}/") for _ in range(2)
    ]
    try:
        col = clients[0].probe.counters
        await col.insert_one({"_id": "n", "v": 0, "seen": []})

        async def bump(i: int) -> None:
            await clients[i % 2].probe.counters.update_one({"_id": "n"}, {"$inc": {"v": 1}, "$addToSet": {"seen": i}})

        await asyncio.wait_for(asyncio.gather(*(bump(i) for i in range(64))), timeout=60)
        doc = await col.find_one({"_id": "n"}) or {}
        assert doc["v"] == 64
        assert sorted(doc["seen"]) == list(range(64))
    finally:
        for c in clients:
            await c.close()


async def test_a_client_that_dies_or_stalls_mid_write_does_not_hold_up_the_others(
    ferretdb: int, client: AsyncMongoClient[dict[str, Any]]
) -> None:
    insert = op_msg({"insert": "things", "documents": [{"_id": "from-a-dead-client"}], "$db": "probe"})
    gone = raw_socket(ferretdb)
    gone.sendall(insert)
    # Sent a write and left at once, with a reset: the gate's answer to it then fails to send.
    gone.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    gone.close()
    deaf = raw_socket(ferretdb)
    deaf.sendall(op_msg({"insert": "things", "documents": [{"_id": "never-read"}], "$db": "probe"}))
    half = raw_socket(ferretdb)
    half.sendall(insert[:20])  # a write that never finishes arriving
    try:
        for i in range(20):
            await asyncio.wait_for(client.probe.things.insert_one({"_id": f"after-{i}"}), timeout=10)
        assert await client.probe.things.count_documents({"_id": {"$regex": "^after-"}}) == 20
        # The deaf client's write went through although it never read its answer.
        assert await client.probe.things.find_one({"_id": "never-read"}) is not None
    finally:
        deaf.close()
        half.close()


async def test_large_documents_and_cursors_pass_through_whole(client: AsyncMongoClient[dict[str, Any]]) -> None:
    col = client.probe.big
    payload = "x" * 1_000_000
    await col.insert_many([{"_id": i, "payload": payload} for i in range(30)])
    await col.insert_one({"_id": "huge", "payload": "y" * 15_000_000})
    seen = [doc async for doc in col.find({"_id": {"$ne": "huge"}}).batch_size(4)]
    assert sorted(d["_id"] for d in seen) == list(range(30))
    assert all(d["payload"] == payload for d in seen)
    huge = await col.find_one({"_id": "huge"}) or {}
    assert len(huge["payload"]) == 15_000_000


def test_an_open_port_means_ferretdb_answers(tmp_path: Path) -> None:
    """The port opens only after FerretDB listens behind the gate: a first command right away gets an answer."""
    port = free_port()
    proc = start_ferretdb(tmp_path, port, bin_dir=REPO_ROOT / ".data" / "bin")
    try:
        sock = raw_socket(port)
        sock.sendall(op_msg({"ping": 1, "$db": "admin"}))
        assert answer(sock)["ok"] == 1.0
        sock.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
