"""Every Redis key infrabot uses, with how long each lives: the one place to read before touching Redis.

Here in infra/ rather than jobs/ because the leases (infra/lease.py, infra/locks.py) need them too and
jobs/ imports infra/, not the other way round. Everything else in Redis belongs to arq (its own job,
result and in-progress keys, from `arq.constants`). `tests/unit/test_redis_keys.py` fails when a module
spells an `infrabot:` key itself instead of importing it from here.

Redis holds only what may be lost: MongoDB is the truth, and each key below says what losing it costs.
"""

from __future__ import annotations

NAMESPACE = "infrabot:"

# arq's queue (a sorted set of job ids). No TTL: arq owns its entries.
QUEUE_NAME = f"{NAMESPACE}queue"

# Pub/sub channel on which workers announce a job change to the chat processes' relays (not a key).
STATUS_CHANNEL = f"{NAMESPACE}status"


def status_channel(platform: str) -> str:
    """Where a change to a job of a known platform is announced: only the relays showing its cards wake."""
    return f"{STATUS_CHANNEL}:{platform}" if platform else STATUS_CHANNEL

# A platform event's claim (`<prefix><event key>`), so a redelivery gets no second answer. It lasts
# EVENT_PENDING_SECONDS while the turn runs (a process dying mid-turn lets the platform's retry in), then
# EVENT_TTL_SECONDS once settled: longer than any platform retries.
EVENT_PREFIX = f"{NAMESPACE}event:"
EVENT_TTL_SECONDS = 24 * 3600
EVENT_PENDING_SECONDS = 60

# A thread's conversation context (`<prefix><thread key>`); its TTL is Settings.context_ttl_seconds.
CONTEXT_PREFIX = f"{NAMESPACE}ctx:"
# The lighter marker that a thread is a conversation, kept THREAD_MARKER_TTL_SECONDS (at least the
# context's TTL) so the bot can say it started over.
THREAD_MARKER_PREFIX = f"{NAMESPACE}thread:"
THREAD_MARKER_TTL_SECONDS = 90 * 24 * 3600

# Slack reply streams opened for a turn and not yet filled (bots/slack/open_streams.py): one sorted set, scored
# by when each opened, no TTL. One still open after OPEN_STREAM_STALE_SECONDS lost its process mid-turn and is
# closed with an apology by any Slack process; losing the set only leaves such a stream empty.
SLACK_OPEN_STREAMS = f"{NAMESPACE}slack:open-streams"
OPEN_STREAM_STALE_SECONDS = 120.0

# The relay's work list (jobs/stores/relay_work.py): sorted sets of job ids, no TTL; MongoDB's `relay_pending`
# flag rebuilds them. A claim lasts RELAY_CLAIM_SECONDS (a score in INFLIGHT, not a key TTL).
RELAY_PREFIX = f"{NAMESPACE}relay"
RELAY_NEW = f"{RELAY_PREFIX}:new"  # marked by whoever changed a job without knowing its platform
RELAY_INFLIGHT = f"{RELAY_PREFIX}:inflight"  # claimed, scored by when the claim runs out
RELAY_SYNCED = f"{RELAY_PREFIX}:synced"  # set once the lists were rebuilt from MongoDB
RELAY_CLAIM_SECONDS = 60.0


def relay_list_key(platform: str) -> str:
    """The list a job waits on (or backs off in) for its platform's relay; RELAY_NEW when that is not known."""
    return f"{RELAY_PREFIX}:p:{platform}" if platform else RELAY_NEW


# The line of jobs waiting for a busy stack (`<prefix><stack>` and `<prefix><stack>:seen`); entries
# not refreshed for STACK_LINE_STALE_SECONDS are dropped, and both keys expire a little after twice that.
STACK_LINE_PREFIX = f"{NAMESPACE}stack-line:"
STACK_LINE_STALE_SECONDS = 60.0

# Leases (infra/lease.py), each `<prefix><name>` with its holder's token as the value and a TTL, renewed
# every third of it while held.
STACK_LOCK_PREFIX = f"{NAMESPACE}stack-lock:"  # one Pulumi run per stack
STACK_LOCK_TTL_SECONDS = 60.0
STACK_ALIVE_PREFIX = f"{NAMESPACE}stack-alive:"  # the stack lock's holders' heartbeats; same TTL
DOC_LOCK_PREFIX = f"{NAMESPACE}doclock:"  # one writer per MongoDB document (jobs/stores/doc_lock.py)
DOC_LOCK_TTL_MS = 10_000
JOB_LEASE_PREFIX = f"{NAMESPACE}job-lease:"  # a running job's heartbeat: gone means its worker died
JOB_LEASE_TTL_SECONDS = 30.0
LEADER_PREFIX = NAMESPACE
LEADER_NAME = "reconciler-leader"  # one reconciler at a time; TTL a little over two of its passes

# Fencing-token counter behind every lease grant. No TTL.
LEASE_FENCE_KEY = f"{NAMESPACE}lease-fence"
# When this Redis keyspace began, by Redis's clock (ms): set by the first lease call after Redis started
# empty, so a stack lock's `alone` can tell "nobody else is here" from "nobody had time to come back yet".
LEASE_EPOCH_KEY = f"{NAMESPACE}lease-epoch"
