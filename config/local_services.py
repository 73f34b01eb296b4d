"""Starts a local redis-server and the embedded FerretDB when no REDIS_URL / MONGODB_URL is given."""

from __future__ import annotations

import contextlib
import logging
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("infrabot.services")

REPO_ROOT = Path(__file__).resolve().parent.parent
FERRETDB_SOURCE = REPO_ROOT / "scripts" / "ferretdb"


class ServiceError(RuntimeError):
    pass


@dataclass
class LocalServices:
    redis_url: str
    mongodb_url: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.processes.clear()


def die_with_parent() -> None:
    """Runs in a child before it starts: on Linux the child gets SIGTERM when the process that started it
    dies, even by SIGKILL, so no server or worker outlives what started it."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def spawn(args: list[str], **options: Any) -> subprocess.Popen[bytes]:
    """A child in its own process group (a terminal's Ctrl-C reaches only its parent, which stops it in
    order) that dies with its parent."""
    return subprocess.Popen(args, start_new_session=True, preexec_fn=die_with_parent, **options)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceError(f"{name} exited with code {proc.returncode}; see its log")
        if port_open(port):
            return
        time.sleep(0.05)
    proc.terminate()
    raise ServiceError(f"{name} did not listen on port {port} within {timeout:.0f}s")


def ferretdb_binary(bin_dir: Path) -> Path:
    """Builds the FerretDB wrapper with the local Go toolchain when the binary is missing or stale."""
    binary = bin_dir / "ferretdb"
    sources = [*FERRETDB_SOURCE.glob("*.go"), FERRETDB_SOURCE / "go.mod", FERRETDB_SOURCE / "go.sum"]
    newest = max(p.stat().st_mtime for p in sources)
    if binary.exists() and binary.stat().st_mtime >= newest:
        return binary
    go = shutil.which("go")
    if go is None:
        raise ServiceError("the Go toolchain is needed to build FerretDB (or set MONGODB_URL)")
    binary.parent.mkdir(parents=True, exist_ok=True)
    log.info("building FerretDB wrapper (first run only)")
    subprocess.run([go, "build", "-o", str(binary.resolve()), "."], cwd=FERRETDB_SOURCE, check=True)
    return binary


def start_redis(data_dir: Path, port: int, log_file: Path | None = None) -> subprocess.Popen[bytes]:
    server = shutil.which("redis-server")
    if server is None:
        raise ServiceError("redis-server is not installed (apt-get install redis-server) or set REDIS_URL")
    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    args = [
        server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(redis_dir.resolve()),
        "--save", "60 1", "--appendonly", "no", "--protected-mode", "yes",
    ]
    out = open(log_file, "ab") if log_file else subprocess.DEVNULL
    proc = spawn(args, stdout=out, stderr=subprocess.STDOUT)
    _wait_for_port(port, proc, "redis-server")
    return proc


def start_ferretdb(
    data_dir: Path, port: int, log_file: Path | None = None, bin_dir: Path | None = None, durable: bool = True,
    socket_path: Path | None = None,
) -> subprocess.Popen[bytes]:
    """`socket_path` places FerretDB's own socket, behind the wrapper's write gate, where a benchmark can reach it."""
    binary = ferretdb_binary(bin_dir or data_dir / "bin")
    db_dir = data_dir / "ferretdb"
    db_dir.mkdir(parents=True, exist_ok=True)
    out = open(log_file, "ab") if log_file else subprocess.DEVNULL
    proc = spawn(
        [str(binary), "-listen", f"127.0.0.1:{port}", "-data", str(db_dir.resolve()),
         "-synchronous", "full" if durable else "normal",
         *(["-socket", str(socket_path)] if socket_path else [])],
        stdout=out, stderr=subprocess.STDOUT,
    )
    _wait_for_port(port, proc, "ferretdb")
    return proc


def ensure_services(
    redis_url: str | None,
    mongodb_url: str | None,
    data_dir: Path,
    redis_port: int = 6390,
    mongo_port: int = 27027,
    log_dir: Path | None = None,
    bin_dir: Path | None = None,
    durable: bool = True,
) -> LocalServices:
    """Uses the given URLs; starts local servers only for the ones not given."""
    services = LocalServices(redis_url or "", mongodb_url or "")
    try:
        if not redis_url:
            if not port_open(redis_port):
                log_file = log_dir / "redis.log" if log_dir else None
                services.processes.append(start_redis(data_dir, redis_port, log_file))
            services.redis_url = f"redis://127.0.0.1:{redis_port}/0"
        if not mongodb_url:
            if not port_open(mongo_port):
                log_file = log_dir / "ferretdb.log" if log_dir else None
                services.processes.append(start_ferretdb(data_dir, mongo_port, log_file, bin_dir, durable))
            services.mongodb_url = f"mongodb://127.0.0.1:{mongo_port}/"
    except Exception:
        services.stop()
        raise
    return services
