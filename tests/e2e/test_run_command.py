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


def _descendants(root: int) -> set[int]:
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigterm_to_the_process_group_mid_apply_leaves_nothing_behind(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "bin").mkdir(parents=True)
    shutil.copy2(REPO_ROOT / ".data" / "bin" / "ferretdb", data / "bin" / "ferretdb")
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "MONGODB_URL", "SLACK_BOT_TOKEN", "DISCORD_TOKEN")}
    env.update(PORT=str(port), DATA_DIR=str(data), LOCAL_REDIS_PORT=str(free_port()),
               LOCAL_MONGODB_PORT=str(free_port()), ENGINE="offline", LOG_LEVEL="WARNING",
               OFFLINE_STEP_SECONDS="1")
    # Its own session, so the signal to its process group cannot reach the test runner.
    proc = subprocess.Popen([sys.executable, "-m", "bots.cli", "run"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait(lambda: port_open(port), 60, "the web chat")
        base = f"http://127.0.0.1:{port}"
        httpx.post(f"{base}/api/chat", json={"thread": "stop", "user": "ana",
                                             "text": "create a bucket and a queue for my app halt in dev"})

        def shown(text: str) -> Callable[[], bool]:
            def probe() -> bool:
                messages = httpx.get(f"{base}/api/chat/stop").json()
                return any(m["role"] == "status" and text in m["text"] for m in messages)
            return probe

        _wait(shown("Plan ready for"), 60, "the plan")
        httpx.post(f"{base}/api/chat", json={"thread": "stop", "user": "ana", "text": "apply"})
        _wait(shown("Applying halt-dev"), 60, "the apply under way")
        family = _descendants(proc.pid)
        assert len(family) >= 4, "redis, ferretdb, web and worker"
        os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=10)
    left = [pid for pid in family if _alive(pid)]
    assert left == [], f"still running after SIGTERM: {left}"
    assert not port_open(port)
