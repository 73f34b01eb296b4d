"""Interfaces the core talks to. Adapters in bots/, jobs/ and infra/ implement them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any, Protocol

from core.job import JobStatus
from core.messages import ActionEvent, HistoryEntry, IncomingMessage, Reply, ThreadRef
from core.plan import ApplyResult, PlanResult
from core.request import Request, Status
from core.spec import InfraSpec
from core.status_card import StatusCard
from core.understanding.model import Parsed

ProgressFn = Callable[[int, int, str], Awaitable[None]]
# A monthly cost estimate for a spec, in USD (None when it can't be told), known before any planning.
CostEstimate = Callable[[InfraSpec], float | None]


class EventGate(Protocol):
    """Drops redelivered platform events: `claim` first, `settle` once handled, `release` on failure."""

    async def claim(self, key: str) -> bool: ...
    async def settle(self, key: str) -> None: ...
    async def release(self, key: str) -> None: ...


class ContextStore(Protocol):
    """Short-lived per-thread conversation state; expires after its TTL."""

    async def load(self, thread: ThreadRef) -> dict[str, Any] | None: ...
    async def save(self, thread: ThreadRef, context: dict[str, Any]) -> None: ...
    async def seen(self, thread: ThreadRef) -> bool: ...
    async def known(self, thread: ThreadRef) -> bool: ...
    async def recall(self, thread: ThreadRef) -> tuple[dict[str, Any] | None, bool]:
        """`load` and `known` at once: what a turn starts from, asked in one round trip."""
        ...


class HistoryStore(Protocol):
    async def append(
        self, thread: ThreadRef, role: str, text: str, *, key: str, meta: dict[str, Any] | None = None
    ) -> bool: ...
    async def append_many(self, entries: list[HistoryEntry]) -> None: ...
    async def list(self, thread: ThreadRef, limit: int = 500) -> list[dict[str, Any]]: ...


class RequestStore(Protocol):
    """Durable requests. The status moves only through `transition`, one compare-and-set per move."""

    async def create(self, request: Request) -> tuple[Request, bool]:
        """The stored request and whether this call made it (False: its event had made it already)."""
        ...
    async def get(self, request_id: str) -> Request | None: ...
    async def update(
        self, request_id: str, changes: dict[str, Any], expect: dict[str, Any] | None = None
    ) -> bool:
        """Fields other than the status, only while every `expect` field (dotted paths) still holds."""
        ...
    async def transition(
        self, request_id: str, source: Status, target: Status, changes: dict[str, Any] | None = None,
        expect: dict[str, Any] | None = None,
    ) -> Request | None:
        """`source` -> `target` (as core.request.TRANSITIONS allows) with `changes`; None if it lost a race."""
        ...
    async def for_user(self, platform: str, workspace: str, user: str) -> list[Request]: ...
    async def latest_in_thread(self, thread: ThreadRef) -> Request | None: ...
    async def live_stack(self, stack: str) -> Request | None: ...
    async def on_stack(self, stack: str, statuses: Collection[Status]) -> list[Request]: ...


class StackOwners(Protocol):
    """Which workspace an app's stacks belong to: app names are one namespace per deployment."""

    async def claim(self, stack: str, owner: str) -> str | None: ...


class JobStore(Protocol):
    async def create(self, status: JobStatus) -> bool: ...
    async def get(self, job_id: str) -> JobStatus | None: ...
    async def update(self, job_id: str, **changes: Any) -> JobStatus | None: ...
    async def update_open(self, job_id: str, **changes: Any) -> JobStatus | None:
        """Changes the job only while it has not finished; None otherwise."""
        ...
    async def unrelayed(self, platforms: list[str], limit: int = 100) -> list[JobStatus]: ...
    async def mark_relayed(self, job_id: str, version: int) -> None: ...
    async def relay_state(self, job_id: str) -> tuple[JobStatus, dict[str, Any]] | None:
        """The status (without its change log) and the relay's bookkeeping: `relay_pending`, `relay_dead`."""
        ...
    async def pending_relay(self) -> list[tuple[str, str]]:
        """(job id, platform) of every job whose card is behind."""
        ...
    async def relay_failed(self, job_id: str, version: int) -> int:
        """Counts one failed attempt to show `version` of the job's card; returns the attempts so far, or 0
        (not counted) when the job has moved past that version."""
        ...
    async def dead_letter(self, job_id: str, reason: str, version: int) -> bool:
        """Stops relaying this job for good (its card can't be shown), only while `version` is its newest and
        not shown yet; False when it was not given up."""
        ...


class RelayWork(Protocol):
    """Which jobs have a card change to show: a keyed work list, rebuilt from the JobStore when lost."""

    async def mark(self, job_id: str, platform: str = "") -> None:
        """Lists the job for the relays of `platform` (any relay's, until one reads it, when not known)."""
        ...
    async def claim(self, platforms: list[str], limit: int) -> list[str]: ...
    async def done(self, job_id: str) -> None: ...
    async def later(self, job_id: str, delay: float, platform: str | None = None) -> None: ...
    async def synced(self) -> bool:
        """False when the list may have lost entries (a new or flushed Redis): time to rebuild."""
        ...
    async def rebuild(self, pending: list[tuple[str, str]]) -> None: ...


class AuditLog(Protocol):
    async def record(self, event: str, *, once: str | None = None, **fields: Any) -> None:
        """With `once`, a second record under the same name is dropped (re-run jobs record once)."""
        ...


class JobQueue(Protocol):
    async def enqueue(self, task: str, job_id: str) -> bool: ...


class StatusSignal(Protocol):
    """Wake-up for the chat side when a job's durable status changed."""

    async def publish(self, job_id: str, platform: str = "") -> None:
        """Lists the job for the relays of `platform` (all of them when not known) and wakes them."""
        ...


class Engine(Protocol):
    name: str
    simulated: bool

    async def preview(self, spec: InfraSpec, progress: ProgressFn) -> PlanResult: ...
    async def apply(
        self, spec: InfraSpec, progress: ProgressFn, approved: PlanResult | None = None
    ) -> ApplyResult:
        """Applies `approved` and nothing else; raises PlanOutOfDate when that is no longer possible."""
        ...
    async def destroy(self, spec: InfraSpec, progress: ProgressFn) -> ApplyResult: ...


class CardRefStore(Protocol):
    """Remembers which platform message shows a request's status card, and which version it shows.

    Writers hold the card's cross-process lock (see core/cardsink.py); `put` is compare-and-set all the same,
    for a writer whose lock lapsed while it was stalled.
    """

    async def get(self, request_id: str, platform: str) -> dict[str, Any] | None: ...
    async def state(self, request_id: str, platform: str) -> dict[str, Any] | None:
        """The whole record: `ref`, `job_started` and `version` once shown, `posting` while a post is under way."""
        ...
    async def begin_post(self, request_id: str, platform: str) -> None: ...
    async def put(
        self, request_id: str, platform: str, ref: dict[str, Any], *, job_started: float = 0.0, version: int = -1
    ) -> bool:
        """Records the card's reference and what it shows, unless a newer card (by `job_started`, then
        `version`) is recorded already: False then, and nothing changes."""
        ...


class ChatCore(Protocol):
    """`received`, when given, is called once the message is stored and known to be new, before the turn's
    own work (see ChatService.handle_message)."""

    async def handle_message(
        self, message: IncomingMessage, received: Callable[[], None] | None = None
    ) -> list[Reply]: ...
    async def handle_action(self, action: ActionEvent) -> list[Reply]: ...


class StatusSink(Protocol):
    """Implemented per platform: post the request's card the first time, edit it afterwards."""

    async def show(self, thread: ThreadRef, card: StatusCard) -> None: ...


class Observer(Protocol):
    def dead_letter(self, platform: str) -> None: ...


class Planner(Protocol):
    """Deterministic today; a language-model planner can implement the same call later."""

    def parse(self, text: str) -> Parsed: ...


class ChatCompletion(Protocol):
    """An OpenAI-compatible chat-completions endpoint: messages in, the reply's text out."""

    async def complete(self, messages: list[dict[str, str]]) -> str: ...
