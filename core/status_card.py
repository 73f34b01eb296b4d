"""The one status card per request that every adapter renders and edits in place: its fields, its plain
text, its buttons, and how a job's status and its request become one (`build_card`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.job import JobStatus, Phase, card_title, phase_label
from core.markup import Block, Bullets, Code, Message, Strong, line, spans
from core.messages import Button, stored_message
from core.request import Request, Status
from core.spec import DEFAULT_CLOUD


@dataclass
class StatusCard:
    request_id: str
    job_id: str
    phase: str
    title: str
    engine: str
    simulated: bool
    done: int = 0
    total: int = 0
    elapsed_seconds: float = 0.0
    lines: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    buttons: list[Button] = field(default_factory=list)
    version: int = 0
    # When the job was created (epoch seconds): a request's card moves from job to job, and a later job's
    # card is newer than any version of an earlier one.
    job_started: float = 0.0

    @property
    def body(self) -> Message:
        """The card's lines, which the worker stores in the core's light notation ("say `plan`")."""
        return stored_message("\n".join(self.lines)) if self.lines else Message()

    @property
    def engine_label(self) -> str:
        return f"{self.engine} engine" + (" (simulated, no cloud changes)" if self.simulated else "")


def format_elapsed(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def progress_text(card: StatusCard) -> str:
    parts = [phase_label(card.phase)]
    if card.total:
        parts.append(f"{card.done} of {card.total} resources")
    parts.append(format_elapsed(card.elapsed_seconds))
    return " · ".join(parts)


def resource_list(resources: list[str], limit: int | None = None) -> list[Block]:
    """The card's resources as a list, cut after `limit` with a line saying how to see the rest."""
    shown = resources if limit is None else resources[:limit]
    blocks: list[Block] = [Bullets(tuple(spans(r) for r in shown))] if shown else []
    if len(shown) < len(resources):
        blocks.append(line(f"… and {len(resources) - len(shown)} more (say ", Code("plan"), " for the full list)"))
    return blocks


def card_message(card: StatusCard) -> Message:
    """The card as one message, for a platform that shows it as text (the web chat, and history)."""
    blocks: list[Block] = [line(Strong(card.title)), line(f"{progress_text(card)} · {card.engine_label}")]
    blocks += card.body.blocks
    blocks += resource_list(card.resources)
    if card.outputs:
        blocks.append(line("Outputs:"))
        blocks.append(Bullets(tuple(spans(f"{k}: ", Code(v)) for k, v in sorted(card.outputs.items()))))
    if card.error:
        blocks.append(line(f"What failed: {card.error}"))
    return Message(tuple(blocks))


def button_ref(request_id: str, plan_hash: str | None = None) -> str:
    """What an Approve button carries: the request and, for a plan, the hash the press approves."""
    return f"{request_id}.{plan_hash}" if plan_hash else request_id


def parse_button_ref(ref: str) -> tuple[str, str | None]:
    request_id, _, plan_hash = ref.partition(".")
    return request_id, plan_hash or None


def plan_buttons(request_id: str, plan_hash: str | None = None) -> list[Button]:
    return [
        Button("approve", "Approve", button_ref(request_id, plan_hash), style="primary"),
        Button("cancel", "Cancel", request_id, style="danger"),
    ]


def build_card(status: JobStatus, request: Request | None) -> StatusCard:
    stack = request.stack if request else status.spec.get("app", "?")
    if request is not None and request.spec.cloud != DEFAULT_CLOUD:
        stack = f"{stack} ({request.spec.location})"  # GCP cards read as they did before AWS existed
    start = status.started_at or status.created_at
    end = status.finished_at or datetime.now(UTC)
    elapsed = (end - start).total_seconds() if start else 0.0
    waiting = (
        status.kind == "plan"
        and status.phase == Phase.AWAITING_APPROVAL
        and request is not None
        and request.status == Status.AWAITING_APPROVAL
    )
    result = status.result or {}
    return StatusCard(
        request_id=status.request_id,
        job_id=status.job_id,
        phase=str(status.phase),
        title=card_title(status.kind, status.phase, stack),
        engine=status.engine or result.get("engine", ""),
        simulated=bool(result.get("simulated", status.engine == "offline")),
        done=status.done,
        total=status.total,
        elapsed_seconds=max(elapsed, 0.0),
        # A failure's message is its error, which the card shows once on its own line.
        lines=list(result.get("lines", []))
        or ([status.message] if status.message not in ("", status.error) else []),
        resources=list(result.get("resource_lines", [])),
        outputs=dict(result.get("outputs", {})),
        error=status.error,
        buttons=plan_buttons(status.request_id, status.plan_hash) if waiting else [],
        version=status.version,
        job_started=status.created_at.timestamp() if status.created_at else 0.0,
    )
