"""The pending request a thread is building up, merged turn by turn from parsed utterances, and the one
question asked at a time while it is incomplete (`ask_next`) with the reading of its answers.

Counts need more than the parse: the parser reports "another bucket" and "a bucket" both as one bucket,
so `count_cues` reads the words around each kind. "another"/"one more"/"an extra"/"a second" add to what
is there, "only one"/"just one"/"a single" set the count, a number above one ("3 buckets") sets it too,
and a plain mention of a kind already present ("a small bucket") leaves its count alone.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from core.markup import Code, Inline, Message, Numbered, Strong, line, spans
from core.spec import DEFAULT_CLOUD, DEFAULT_ENVIRONMENT, DEFAULT_SIZE, Component, InfraSpec
from core.understanding.clouds import region_for
from core.understanding.components import MAX_COUNT, find_components
from core.understanding.model import Parsed
from core.understanding.normalize import fold, strip_chat_formatting
from core.understanding.templates import TEMPLATES, resolve_template
from core.understanding.typos import correct_tokens

_MORE = re.compile(r"(?<![\w-])(?:another|more|extra|additional|second|2nd|third|3rd)\s+")
_EXACT = re.compile(r"(?<![\w-])(?:only|just|exactly|single)\s+(?:(?:one|a|an|1)\s+)?")
# Words allowed between a cue and the kind: "another small managed redis" counts, "more robust with a
# redis" does not.
_BETWEEN = frozenset("small medium large tiny big managed hosted new separate dedicated cloud google gcp "
                     "private public regional".split())
_CUE_REACH = 4
_MAX_CUES = 12  # a real message has one or two; a message of hundreds is not worth reading them all
# "make it mysql" / "switch to postgres" / "mysql instead" said of a database swaps the engine; it never
# asks for a second database unless an additive word says so ("also add a mysql").
_SWAP = re.compile(r"(?<![\w-])(?:make\s+(?:it|that|the\s+\w+)|switch|change|instead|rather|replace|swap|"
                   r"go\s+with|use|prefer|convert)(?![\w-])")
_ADDITIVE = re.compile(r"(?<![\w-])(?:add|also|too|plus|as\s+well|both|another|extra|second|and)(?![\w-])")
_ALTERNATIVES = {"postgres": ("mysql",), "mysql": ("postgres",)}


@dataclass(frozen=True)
class CountCues:
    added: frozenset[str] = frozenset()  # kinds whose count grows by what was said
    exact: frozenset[str] = frozenset()  # kinds whose count is set to what was said
    swap: bool = False  # a kind said replaces its alternative ("make it mysql" drops postgres)


def _kinds_after(text: str, cue: re.Pattern[str]) -> set[str]:
    kinds: set[str] = set()
    for m in itertools.islice(cue.finditer(text), _MAX_CUES):
        # A bounded slice: splitting the whole rest of the text for every cue would be quadratic.
        near = " ".join(text[m.end():m.end() + _CUE_REACH * 40].split()[:_CUE_REACH])
        found = find_components(near)
        if not found.components or not found.spans:
            continue
        lead = near[:min(start for start, _ in found.spans)].split()
        if all(word in _BETWEEN for word in lead):
            kinds.add(found.components[0].kind)
    return kinds


def count_cues(text: str) -> CountCues:
    folded = " ".join(correct_tokens(fold(strip_chat_formatting(text)).split()))
    swap = bool(_SWAP.search(folded)) and not _ADDITIVE.search(folded)
    return CountCues(frozenset(_kinds_after(folded, _MORE)), frozenset(_kinds_after(folded, _EXACT)), swap)


@dataclass
class Draft:
    app: str | None = None
    environment: str | None = None
    region: str | None = None
    size: str | None = None
    cloud: str | None = None
    components: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Draft:
        # Contexts outlive deploys: a key this version doesn't know is ignored, not fatal.
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_spec(cls, spec: InfraSpec) -> Draft:
        return cls(
            app=spec.app,
            environment=spec.environment,
            region=spec.region,
            size=spec.size,
            cloud=spec.cloud,
            components=[c.model_dump() for c in spec.components],
        )

    def merge(self, parsed: Parsed, cues: CountCues | None = None) -> bool:
        """Applies what the user just said; returns True when anything changed."""
        cues = cues or CountCues()
        before = self.as_dict()
        for name in ("app", "environment", "region", "size", "cloud"):
            value = getattr(parsed, name)
            if value:
                setattr(self, name, value)
        by_kind = {c["kind"]: dict(c) for c in self.components}
        for component in parsed.components:
            existing = by_kind.get(component.kind)
            if existing is None or parsed.remove:
                by_kind[component.kind] = component.model_dump()
                continue
            existing["size"] = component.size or existing.get("size")
            count = int(existing.get("count", 1))
            if component.kind in cues.added:
                count += component.count
            elif component.kind in cues.exact or component.count > 1:
                count = component.count
            existing["count"] = max(1, min(count, MAX_COUNT))
        for kind in parsed.remove:
            by_kind.pop(kind, None)
        said = {c.kind for c in parsed.components}
        if cues.swap and not parsed.remove:
            for kind in said:
                for alternative in _ALTERNATIVES.get(kind, ()):
                    if alternative not in said:
                        by_kind.pop(alternative, None)
        self.components = list(by_kind.values())
        return self.as_dict() != before

    def missing(self) -> list[str]:
        """What still has to be asked, in the order it is asked: what to build first, then its name."""
        gaps = []
        if not self.components:
            gaps.append("components")
        if not self.app:
            gaps.append("app")
        return gaps

    def to_spec(self, requested_by: str, default_cloud: str = DEFAULT_CLOUD) -> InfraSpec:
        cloud = self.cloud or default_cloud
        return InfraSpec(
            app=self.app or "",
            cloud=cloud,  # type: ignore[arg-type]
            environment=self.environment or DEFAULT_ENVIRONMENT,  # type: ignore[arg-type]
            # A place said for one cloud moves with the request to the other ("frankfurt" on either).
            region=region_for(cloud, self.region),
            size=self.size or DEFAULT_SIZE,  # type: ignore[arg-type]
            components=[Component(**c) for c in self.components],
            requested_by=requested_by,
        )

    def defaults_note(self, default_cloud: str = DEFAULT_CLOUD) -> str:
        parts = []
        if not self.region:
            parts.append(f"region {region_for(self.cloud or default_cloud, None)}")
        if not self.environment:
            parts.append(f"environment {DEFAULT_ENVIRONMENT}")
        if not self.size:
            parts.append(f"size {DEFAULT_SIZE}")
        return ", ".join(parts)

    def summary(self) -> Inline:
        """What the draft holds so far, for status answers and question preambles."""
        parts = []
        for c in self.components:
            count = f"{c['count']}× " if c.get("count", 1) > 1 else ""
            size = f" ({c['size']})" if c.get("size") else ""
            parts.append(f"{count}{c['kind']}{size}")
        what = ", ".join(parts) or "nothing chosen yet"
        return spans(what, " for ", Strong(self.app)) if self.app else spans(what)


# An answer to "what's the app called?" is a name, not a sentence: longer answers are not guessed at.
_MAX_NAME_WORDS = 4
_MAX_NAME_CHARS = 60


def _defaults(draft: Draft) -> str:
    note = draft.defaults_note()
    return f" I'll use {note} unless you say otherwise." if note else ""


def ask_app(draft: Draft, suggestion: str | None = None) -> Message:
    what = spans(" (it will get ", *draft.summary(), ")") if draft.components else ()
    if suggestion:
        return Message((line("What should the app", *what, " be called? Say ", Code("yes"), " to use ",
                             Code(suggestion), ", or give another name: lowercase letters, digits and hyphens.",
                             _defaults(draft)),))
    return Message((line("What's the app", *what, " called? Lowercase letters, digits and hyphens, e.g. ",
                         Code("shop"), " or ", Code("checkout-api"), ".", _defaults(draft)),))


def ask_template(draft: Draft) -> Message:
    app = spans(" for ", Strong(draft.app)) if draft.app else ()
    return Message((
        line("What should I set up", *app, "? Pick a template by name or number, or list components "
             "(service, postgres, mysql, redis, bucket, queue, secret, registry):"),
        Numbered(tuple(spans(Strong(name), f": {what}") for name, (what, _) in TEMPLATES.items())),
        line("Say ", Code("yes"), " for the first one.", _defaults(draft)),
    ))


def ask_next(draft: Draft, suggestion: str | None = None) -> tuple[str, Message] | None:
    """(what is awaited, the question) for the first gap in `draft`, or None when it is complete.

    The thread context keeps only the draft, what is awaited and the suggestion, never the question: it is
    asked afresh from them each time, so a context stored by an older version needs no reading of its text.
    """
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


UNCLEAR_APPROVAL = Message((line("I'll only apply on a clear go-ahead. Say ", Code("apply"), " to build the plan "
                                 "shown above (or press Approve), or tell me what to change."),))

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
