"""Stale Pulumi stack locks: a lock left by a dead process is cleared, a live one is respected.

A worker that is SIGKILLed (OOM, node loss) mid-update leaves the backend's stack lock behind, and the
CLI refuses every later update with "the stack is currently locked". The stack lease (infra/locks.py)
says who may drive a stack: a Pulumi lock found while this task holds that lease was made by a holder
that has since lost it, i.e. is dead, unless the lock itself says otherwise:
  - made on this host by a process that still runs -> live (a CLI outliving its cancelled task);
  - made after this lease was taken -> not an infrabot worker's (they need the lease) -> live;
  - another holder of the stack is still alive, or Redis came back empty less than a lease ago -> live.
    A flush (or failover to an empty Redis) drops the lease of a worker whose Pulumi still runs; until
    its heartbeat takes it back, another worker can take the stack and would see that worker's lock as
    older than its own lease. Every holder beats a record of its own for as long as its hold lasts, and
    a lock counts as stale only when no other holder's record is alive and the keyspace is at least a
    lease old, i.e. every live holder has had a full lease to beat again (infra/locks.py, `Lease.alone`).
Anything else is cleared with `pulumi cancel`, which for DIY (file://, gs://) backends deletes the
stack's lock files and for Pulumi Cloud cancels the update in progress.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pulumi import automation as auto

from infra.locks import Lease, current_lease

log = logging.getLogger(__name__)

# pkg/backend/diy/lock.go: "\n  <url>: created by <user>@<host> (pid <pid>) at <RFC3339>"
_HOLDER = re.compile(r"created by (?P<user>[^@\s]*)@(?P<host>\S*) \(pid (?P<pid>\d+)\) at (?P<at>\S+)")
# The lock's time has whole seconds only: one made in the same second as the lease may be newer.
_CLOCK_SLACK_SECONDS = 1.0


@dataclass(frozen=True)
class LockHolder:
    user: str
    host: str
    pid: int
    at: datetime


def holders(stderr: str) -> list[LockHolder]:
    found = []
    for m in _HOLDER.finditer(stderr):
        try:
            at = datetime.fromisoformat(m["at"])
        except ValueError:
            continue
        found.append(LockHolder(user=m["user"], host=m["host"], pid=int(m["pid"]), at=at))
    return found


def pulumi_process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    # A recycled pid running something else is not the CLI that made the lock.
    return b"pulumi" in cmdline


def is_stale(holder: LockHolder, lease: Lease, hostname: str) -> bool:
    if holder.at.timestamp() >= lease.acquired_at - _CLOCK_SLACK_SECONDS:
        return False
    return not (holder.host == hostname and pulumi_process_alive(holder.pid))


def stale(stack_name: str, stderr: str, lease: Lease | None, hostname: str | None = None) -> bool:
    """Whether the lock named in the CLI's `stderr` may be cleared by the holder of `lease`."""
    if lease is None or lease.stack != stack_name or lease.lost:
        return False
    hostname = hostname or socket.gethostname()
    if not all(is_stale(h, lease, hostname) for h in holders(stderr)):
        return False
    return lease.alone is not None and lease.alone()


def clear_if_stale(stack: auto.Stack, stderr: str) -> bool:
    """Clears the stack's lock when it is stale; True when the operation may be retried."""
    if not stale(stack.name, stderr, current_lease.get()):
        return False
    log.warning("clearing a stale Pulumi lock on stack %s (left by: %s)", stack.name,
                ", ".join(f"{h.user}@{h.host} pid {h.pid} at {h.at.isoformat()}" for h in holders(stderr))
                or "an update the backend still counts as running")
    stack.cancel()
    return True
