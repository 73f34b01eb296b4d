"""`infrabot run` (what `make run` starts): own Redis and FerretDB, web and worker, the loop, Ctrl-C."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from config.local_services import REPO_ROOT, free_port, port_open


def _wait(predicate: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_run_starts_everything_serves_the_loop_and_ctrl_c_stops_it_all(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "bin").mkdir(parents=True)
    shutil.copy2(REPO_ROOT / ".data" / "bin" / "ferretdb", data / "bin" / "ferretdb")
    port, redis_port, mongo_port = free_port(), free_port(), free_port()
    env = {
        k: v for k, v in os.environ.items()
        if k not in ("REDIS_URL", "MONGODB_URL", "SLACK_BOT_TOKEN", "DISCORD_TOKEN")
    }
    env.update(PORT=str(port), DATA_DIR=str(data), LOCAL_REDIS_PORT=str(redis_port),
               LOCAL_MONGODB_PORT=str(mongo_port), ENGINE="offline", LOG_LEVEL="WARNING")
    proc = subprocess.Popen([sys.executable, "-m", "bots.cli", "run"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait(lambda: port_open(port), 60, "the web chat")
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok", "redis": True, "mongodb": True}
        reply = httpx.post(f"{base}/api/chat", json={
            "thread": "run", "user": "ana",
            "text": "create a postgres database and a bucket for my app shop in staging",
        }).json()
        assert "planning" in reply["reply"].lower()

        def plan_shown() -> bool:
            messages = httpx.get(f"{base}/api/chat/run").json()
            return any(m["role"] == "status" and "Plan ready for" in m["text"] for m in messages)

        _wait(plan_shown, 30, "the worker's plan in the thread")
        assert (data / "ferretdb").is_dir() and (data / "redis").is_dir(), "data lives under DATA_DIR"
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output.decode()[-2000:]
    for p in (port, redis_port, mongo_port):
        assert not port_open(p), f"port {p} still open after Ctrl-C"
