"""The one question asked at a time while a request is incomplete, and reading its answers."""

from __future__ import annotations

import re

from core.dialog import Draft
from core.understanding.model import Parsed
from core.understanding.normalize import fold, strip_chat_formatting
from core.understanding.templates import TEMPLATES, resolve_template

# An answer to "what's the app called?" is a name, not a sentence: longer answers are not guessed at.
_MAX_NAME_WORDS = 4
_MAX_NAME_CHARS = 60


def _defaults(draft: Draft) -> str:
    note = draft.defaults_note()
    return f" I'll use {note} unless you say otherwise." if note else ""


def ask_app(draft: Draft, suggestion: str | None = None) -> str:
    what = f" (it will get {draft.summary()})" if draft.components else ""
    if suggestion:
        return (f"What should the app{what} be called? Say `yes` to use `{suggestion}`, or give another "
                "name: lowercase letters, digits and hyphens." + _defaults(draft))
    return (
        f"What's the app{what} called? Lowercase letters, digits and hyphens, e.g. `shop` or `checkout-api`."
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
        f"Say `yes` for the first one.{_defaults(draft)}"
    )


def ask_next(draft: Draft, suggestion: str | None = None) -> tuple[str, str] | None:
    """(what is awaited, the question) for the first gap in `draft`, or None when it is complete."""
    missing = draft.missing()
    if not missing:
        return None
    if missing[0] == "components":
        return "template", ask_template(draft)
    return "app", ask_app(draft, suggestion)


def template_answer(parsed: Parsed, text: str) -> bool:
    """Turns an answer to the template question into components on the parse; True if it was one.

    Said in answer to the menu, a lone template word means the template even where the parser, with no
    menu in sight, reads one component ("api" is a service on its own, but option 2 here).
    """
    if parsed.template:
        return True
    lone = len(parsed.components) == 1 and parsed.components[0].count == 1
    if parsed.components and not lone:
        return False
    name = resolve_template(text) or (next(iter(TEMPLATES)) if parsed.affirm and not lone else None)
    if not name:
        return False
    parsed.components = [c.model_copy() for c in TEMPLATES[name][1]]
    parsed.template = name
    return True


UNCLEAR_APPROVAL = ("I'll only apply on a clear go-ahead. Say `apply` to build the plan shown above (or press "
                    "Approve), or tell me what to change.")

_NEGATED = re.compile(r"\b(?:not|dont|do\s+not|never|no)\s+(?:\w+\s+){0,2}?"
                      r"(?:sure|ok|okay|apply|deploy|ship|approve|go|yet|ready|convinced|happy)\b")
_ASKING = re.compile(r"^(?:is|are|should|shall|can|could|would|will|may|do|does|did|how|what|why|when)\b")


def hesitant(text: str) -> bool:
    """A consent word said in a question or under a "not" ("not sure", "should I apply?", "do not deploy"):
    never enough to apply a plan, whatever the parser made of it."""
    folded = fold(strip_chat_formatting(text))
    return bool(_NEGATED.search(folded) or _ASKING.match(folded) or folded.rstrip().endswith("?"))


_NAME_LEAD = re.compile(r"^(?:(?:the\s+)?(?:app\s+)?name\s*[:=]?|app\s*[:=]|it'?s|it\s+is)\s+", re.I)
_NAME_TAIL = re.compile(r"(?:please|pls|plz|thanks|thank you|thx)$", re.I)


def _bare_name(text: str) -> str:
    bare = strip_chat_formatting(text).strip().rstrip(".!")
    bare = _NAME_LEAD.sub("", bare)
    tail = _NAME_TAIL.search(bare)
    # Only a separate word is a politeness tail: "shop please" loses it, "shopthanks" is a name.
    if tail and bare[:tail.start()] != bare[:tail.start()].rstrip(" \t,"):
        bare = bare[:tail.start()]
    return bare.strip(" \t,")


def looks_like_name(text: str) -> bool:
    """Could `text` be a bare answer to "what's the app called?" ("shop", "My Shop", "`checkout-api`")."""
    bare = _bare_name(text)
    if not bare or len(bare) > _MAX_NAME_CHARS or bare.endswith("?"):
        return False
    return len(bare.split()) <= _MAX_NAME_WORDS and not re.search(r"[\n\"]", bare)


def name_candidate(text: str) -> str:
    """The answer as a quoted app mention, so the parser judges the whole of it as one name."""
    return f'app "{_bare_name(text)}"'
