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


def raw_socket(port: int, receive_window: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_window is not None:
        # Set before connecting: the window is agreed on during the handshake.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_window)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
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


class HeldGate:
    """Holds the gate with a write whose 15 MB answer its client does not read, until `release`."""

    def __init__(self, port: int) -> None:
        # A small receive window, so the answer cannot fit in the kernel's buffers whatever this machine's TCP
        # autotuning allows.
        self.sock = raw_socket(port, receive_window=64 * 1024)

    async def hold(self, client: AsyncMongoClient[dict[str, Any]]) -> None:
        await client.probe.held.insert_one({"_id": "big", "payload": "z" * 15_000_000})
        self.sock.sendall(op_msg({"findAndModify": "held", "query": {"_id": "big"}, "update": {"$set": {"n": 1}},
                                  "$db": "probe"}))
        await asyncio.sleep(0.5)  # FerretDB answers, and the gate blocks writing it to a socket nobody reads

    async def release(self) -> None:
        self.sock.settimeout(30)
        await asyncio.to_thread(answer, self.sock)
        self.sock.close()


async def finishing_order(client: AsyncMongoClient[dict[str, Any]], port: int,
                          writes: list[tuple[str, Any]]) -> list[str]:
    """Queues `writes` (name, coroutine function) behind a held gate, in that order, and lists them in the order
    they finished once it is let go."""
    # Every write gets a connection of its own before the gate is held: opening one would reorder them.
    await asyncio.gather(*(client.probe.warm.find_one({"_id": i}) for i in range(len(writes) + 2)))
    gate = HeldGate(port)
    await gate.hold(client)
    finished: list[str] = []

    async def run(name: str, write: Any) -> None:
        await write()
        finished.append(name)

    tasks = []
    for name, write in writes:
        tasks.append(asyncio.create_task(run(name, write)))
        await asyncio.sleep(0.1)  # each one waiting at the gate before the next is sent
    await gate.release()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    return finished


async def test_a_chat_message_insert_goes_ahead_of_queued_writes(
    ferretdb: int, client: AsyncMongoClient[dict[str, Any]]
) -> None:
    """A user waits on the words' insert before the reply; status and card writes have nobody waiting."""
    db = client.probe
    await db.jobs.insert_one({"_id": "j", "v": 0})
    writes: list[tuple[str, Any]] = [
        (f"update-{i}", lambda: db.jobs.update_one({"_id": "j"}, {"$inc": {"v": 1}})) for i in range(6)
    ]
    writes.append(("words", lambda: db.messages.insert_one({"_id": "m1", "text": "make it medium"})))
    writes.append(("audit", lambda: db.audit.insert_one({"_id": "a1"})))
    order = await finishing_order(client, ferretdb, writes)
    assert order[0] == "words", order
    assert order[1:] == [*(f"update-{i}" for i in range(6)), "audit"], "the others keep the order they came in"
    assert (await db.jobs.find_one({"_id": "j"}) or {})["v"] == 6


async def test_a_stream_of_message_inserts_still_lets_other_writes_through(
    ferretdb: int, client: AsyncMongoClient[dict[str, Any]]
) -> None:
    db = client.probe
    writes: list[tuple[str, Any]] = [("status", lambda: db.jobs.insert_one({"_id": "s"}))]
    writes += [(f"words-{i}", lambda i=i: db.messages.insert_one({"_id": f"m{i}"})) for i in range(10)]
    order = await finishing_order(client, ferretdb, writes)
    assert order.index("status") == 4, f"after four urgent writes an ordinary one that waited goes: {order}"


async def test_only_inserts_into_the_chat_history_go_ahead(
    ferretdb: int, client: AsyncMongoClient[dict[str, Any]]
) -> None:
    """An update of a message, or an insert into a collection whose name only starts like it, waits its turn."""
    db = client.probe
    await db.messages.insert_one({"_id": "old"})
    writes: list[tuple[str, Any]] = [
        ("update-message", lambda: db.messages.update_one({"_id": "old"}, {"$set": {"seen": True}})),
        ("lookalike", lambda: db.messages_archive.insert_one({"_id": "x"})),
        ("words", lambda: db.messages.insert_one({"_id": "new"})),
    ]
    order = await finishing_order(client, ferretdb, writes)
    assert order == ["words", "update-message", "lookalike"], order
