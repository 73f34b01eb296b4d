"""Starter stacks offered when someone asks for infrastructure without saying what it needs."""

from __future__ import annotations

import re
from typing import NamedTuple

from core.spec import Component
from core.understanding.normalize import fold, strip_chat_formatting


class Template(NamedTuple):
    """Unpacks as `(description, components)`; callers copy the components before changing them."""

    description: str
    components: tuple[Component, ...]

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(c.kind for c in self.components)


def _template(description: str, *kinds: str) -> Template:
    return Template(description, tuple(Component(kind=k) for k in kinds))  # type: ignore[arg-type]


# Order matters: it is the numbering shown to users ("reply 1-4").
TEMPLATES: dict[str, Template] = {
    "web app": _template("a Cloud Run service with a Postgres database and a storage bucket",
                         "service", "postgres", "bucket"),
    "api": _template("a Cloud Run service with a Postgres database and a Redis cache",
                     "service", "postgres", "redis"),
    "worker": _template("a Cloud Run service fed by a Pub/Sub queue", "service", "queue"),
    "static site": _template("a storage bucket that serves static files", "bucket"),
}


def template_components(name: str) -> list[Component]:
    return [c.model_copy() for c in TEMPLATES[name].components]


# How each template is referred to in a sentence (folded spelling).
TEMPLATE_ALIASES: dict[str, tuple[str, ...]] = {
    "web app": ("web app", "webapp", "web application", "web apps", "web-app", "fullstack", "full stack",
                "full-stack"),
    "api": ("api", "apis", "rest api", "api backend", "api service"),
    "worker": ("worker", "workers", "background worker", "background job", "background jobs", "job runner"),
    "static site": ("static site", "static sites", "static website", "static web site", "static hosting",
                    "static"),
}

_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": len(TEMPLATES)}
_NUMBER = re.compile(r"^(?:the\s+|option\s+|number\s+|no\s*|#\s*)?(\d+)(?:\s*(?:st|nd|rd|th))?"
                     r"(?:\s+(?:one|option|please|pls))*\s*[.!]?$")


def template_menu() -> str:
    return "\n".join(f"{i}. {name} - {t.description}" for i, (name, t) in enumerate(TEMPLATES.items(), 1))


def resolve_template(answer: str) -> str | None:
    """Template name for an answer to "which template?": a number, an ordinal or a name.

    "1", "#2", "the api one", "web app", "the last one" all resolve; anything else is None.
    """
    text = fold(strip_chat_formatting(answer))
    text = re.sub(r"[,.;:!?]", " ", text)
    text = " ".join(text.split())
    names = list(TEMPLATES)
    m = _NUMBER.match(text)
    if m:
        index = int(m.group(1))
        return names[index - 1] if 1 <= index <= len(names) else None
    for word, index in _ORDINALS.items():
        if re.search(rf"\b{word}\b", text):
            return names[index - 1]
    for name, aliases in sorted(TEMPLATE_ALIASES.items(), key=lambda kv: -max(len(a) for a in kv[1])):
        for alias in sorted(aliases, key=len, reverse=True):
            if re.search(rf"(?<![\w-]){re.escape(alias)}(?![\w-])", text):
                return name
    return None
