"""Starter templates offered when a request names no components."""

from __future__ import annotations

import re

from core.spec import Component

TEMPLATES: dict[str, tuple[str, list[Component]]] = {
    "web app": ("service + postgres + bucket",
                [Component(kind="service"), Component(kind="postgres"), Component(kind="bucket")]),
    "api": ("service + postgres + redis",
            [Component(kind="service"), Component(kind="postgres"), Component(kind="redis")]),
    "worker": ("service + queue", [Component(kind="service"), Component(kind="queue")]),
    "static site": ("bucket", [Component(kind="bucket")]),
}

_ALIASES = {
    "web app": ("web app", "webapp", "web application", "web"),
    "api": ("api", "rest api", "backend api"),
    "worker": ("worker", "background worker", "job runner"),
    "static site": ("static site", "static website", "static", "website", "site"),
}


def resolve_template(answer: str) -> str | None:
    """Maps "2", "the api one" or "static site" to a template name."""
    text = answer.strip().lower()
    number = re.fullmatch(r"#?\s*(\d)\.?", text) or re.search(r"\b(?:number|option|#)\s*(\d)\b", text)
    names = list(TEMPLATES)
    if number:
        index = int(number.group(1)) - 1
        return names[index] if 0 <= index < len(names) else None
    for name in sorted(_ALIASES, key=lambda n: -max(len(a) for a in _ALIASES[n])):
        if any(re.search(rf"\b{re.escape(alias)}\b", text) for alias in _ALIASES[name]):
            return name
    return None
