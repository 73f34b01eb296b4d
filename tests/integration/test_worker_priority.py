"""`infrabot worker` runs below the chat processes' CPU priority, by WORKER_NICE; `infrabot relay` by RELAY_NICE."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from config.local_services import REPO_ROOT, LocalServices, free_port, port_open


def niceness(pid: int) -> int:
    # /proc/PID/stat: the command name (field 2) may hold spaces, so count from its closing parenthesis.
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[16])


@contextmanager
def worker(services: LocalServices, tmp_path: Path, **env: str) -> Iterator[subprocess.Popen[str]]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("WORKER_", "SLACK_", "DISCORD_"))}
    environ.update(REDIS_URL=services.redis_url, MONGODB_URL=services.mongodb_url, ENGINE="offline",
                   MONGODB_DB=f"test_nice_{uuid.uuid4().hex[:12]}", DATA_DIR=str(tmp_path), **env)
    proc = subprocess.Popen([sys.executable, "-m", "bots.cli", "worker"], cwd=REPO_ROOT, env=environ,
                            stderr=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[Any]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_ready(proc: subprocess.Popen[str]) -> None:
    """Until the worker says it is ready: its priority is set by then, whatever the setting."""
    deadline = time.monotonic() + 90
    assert proc.stderr is not None
    for line in proc.stderr:
        if "worker ready" in line:
            return
        assert time.monotonic() < deadline, "the worker did not get ready"
    pytest.fail(f"the worker ended before it was ready (exit {proc.wait()})")


def test_the_worker_lowers_its_priority_by_worker_nice(services: LocalServices, tmp_path: Path) -> None:
    mine = os.nice(0)
    if mine > 19 - 4:
        pytest.skip("this test process already runs so low that the three workers' priorities would coincide")
    with worker(services, tmp_path / "default") as default, \
            worker(services, tmp_path / "kept", WORKER_NICE="0") as kept, \
            worker(services, tmp_path / "three", WORKER_NICE="3") as three:
        for proc in (default, kept, three):
            wait_ready(proc)
        # The kernel stops at 19, the lowest priority there is.
        assert niceness(default.pid) == min(mine + 10, 19), "by default the worker yields the CPU to chat processes"
        assert niceness(kept.pid) == mine, "WORKER_NICE=0 keeps the priority it was started with"
        assert niceness(three.pid) == mine + 3


def test_the_card_relay_keeps_its_priority_unless_relay_nice_says(services: LocalServices, tmp_path: Path) -> None:
    mine = os.nice(0)
    if mine > 19 - 3:
        pytest.skip("this test process already runs so low that the relays' priorities would coincide")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("RELAY_", "SLACK_", "DISCORD_"))}
    environ.update(REDIS_URL=services.redis_url, MONGODB_URL=services.mongodb_url, DATA_DIR=str(tmp_path),
                   MONGODB_DB=f"test_nice_{uuid.uuid4().hex[:12]}", SLACK_BOT_TOKEN="xoxb-1-relay",
                   SLACK_API_URL="http://127.0.0.1:9/api/")
    procs: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    try:
        for name, extra in (("default", {}), ("three", {"RELAY_NICE": "3"})):
            port = free_port()
            procs[name] = (subprocess.Popen([sys.executable, "-m", "bots.cli", "relay"], cwd=REPO_ROOT,
                                            env={**environ, **extra, "METRICS_PORT": str(port)}), port)
        for proc, port in procs.values():
            deadline = time.monotonic() + 90
            # Its metrics port opens once it serves, well after it set its priority.
            while not port_open(port):
                assert proc.poll() is None and time.monotonic() < deadline, "the relay did not start"
                time.sleep(0.1)
        assert niceness(procs["default"][0].pid) == mine, "cards are shown at the chat processes' priority"
        assert niceness(procs["three"][0].pid) == mine + 3
    finally:
        for proc, _ in procs.values():
            stop(proc)
