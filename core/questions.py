"""The one question asked at a time while a request is incomplete."""

from __future__ import annotations

from core.dialog import Draft
from core.understanding.model import Parsed
from core.understanding.templates import TEMPLATES, resolve_template


def _defaults(draft: Draft) -> str:
    note = draft.defaults_note()
    return f" I'll use {note} unless you say otherwise." if note else ""


def ask_app(draft: Draft) -> str:
    return (
        "What's the app called? Lowercase letters, digits and hyphens, e.g. `shop` or `checkout-api`."
        + _defaults(draft)
    )


def ask_template(draft: Draft) -> str:
    options = "\n".join(
        f"{i}. *{name}*: {what}" for i, (name, (what, _)) in enumerate(TEMPLATES.items(), start=1)
    )
    app = f" for *{draft.app}*" if draft.app else ""
    return (
        f"What should I set up{app}? Pick a template by name or number, or list components "
        f"(service, postgres, mysql, redis, bucket, queue, secret, registry):\n{options}\n"
        "Say `yes` for the first one." + _defaults(draft)
    )


def template_answer(parsed: Parsed, text: str) -> None:
    """Turns an answer to the template question into components on the parse."""
    if parsed.components:
        return
    name = parsed.template or resolve_template(text) or (next(iter(TEMPLATES)) if parsed.affirm else None)
    if name:
        parsed.components = [c.model_copy() for c in TEMPLATES[name][1]]
