"""Plain-text rendering of a status card, for the web chat and as a fallback text elsewhere."""

from __future__ import annotations

from core.cards import StatusCard
from core.status import phase_label


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


def card_text(card: StatusCard, max_resources: int | None = None) -> str:
    lines = [f"*{card.title}*", f"{progress_text(card)} · {card.engine_label}"]
    lines += card.lines
    resources = card.resources if max_resources is None else card.resources[:max_resources]
    lines += [f"• {r}" for r in resources]
    if max_resources is not None and len(card.resources) > max_resources:
        lines.append(f"… and {len(card.resources) - max_resources} more (say `plan` for the full list)")
    if card.outputs:
        lines.append("Outputs:")
        lines += [f"• {k}: `{v}`" for k, v in sorted(card.outputs.items())]
    if card.error:
        lines.append(f"What failed: {card.error}")
    return "\n".join(lines)
