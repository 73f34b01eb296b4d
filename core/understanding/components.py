"""Finding infrastructure components in folded text: kinds, counts, sizes, removals and templates.

How words become components:
- Each phrase is matched once, longest first ("container registry" is a registry, not a container).
- Words next to each other that name the same thing merge: "postgres database", "redis cache",
  "pubsub topic", "gcs storage bucket" are one component each.
- Generic words ("database", "cache", "storage", "queue") count only when no specific word for the same
  kind appears in the message: "a db, mysql please" is one MySQL, not a Postgres plus a MySQL. A generic
  database is MySQL when MySQL/MariaDB is said anywhere, otherwise Postgres.
- Repeated kinds add up: "a bucket for uploads and another bucket for backups" is two buckets.

Template or component ("api" especially): a template word ("web app", "worker", "static site", "api")
followed by "template"/"one"/"stack"/"setup" is always the template ("the api one", "api template").
"web app", "worker" and "static site" said on their own, with no other component, also mean the
template ("a static site for my blog", "a worker for mailer"). "api" on its own means one service,
because "I need an api" rarely asks for a database and a cache as well. Next to other components,
all of them are plain components: "an api and a database" is a service plus Postgres.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.spec import Component
from core.understanding.templates import TEMPLATES, template_components
from core.understanding.vocab import SIZE_PATTERN, SIZE_WORDS, size_value

GENERIC_DB = "db"
_SIZE_TOKENS = frozenset(w for phrase in SIZE_WORDS for w in phrase.replace("-", " ").split())
MAX_COUNT = 10

_DB_TAIL = r"(?:\s+(?:database|db|instance|server|cluster)s?)?"

# (kind, regex, specific, template). Plurals are part of each regex.
_PHRASES: tuple[tuple[str, str, bool, str | None], ...] = (
    ("service", r"cloud\s*run(?:\s+(?:service|app|container)s?)?", True, None),
    ("service", r"web\s*(?:service|server|frontend)s?", True, None),
    ("service", r"web\s*sites?", True, None),
    ("service", r"(?<!between\s)(?:micro)?services?(?!\s+accounts?)", True, None),
    ("service", r"servers?", True, None),
    ("service", r"containers?(?!\s+(?:images?|registry|registries|repos?))", True, None),
    # "api key", "api responses", "api calls" describe something else: they are not a service.
    ("service", r"(?:rest\s+|graphql\s+|grpc\s+|http\s+|json\s+)?apis?"
                r"(?!\s+(?:keys?|responses?|calls?|requests?|tokens?|limits?|docs?|rate|results?))", True, "api"),
    ("service", r"back\s*-?\s*ends?", True, None),
    ("service", r"front\s*-?\s*ends?", True, None),
    ("service", r"web\s*-?\s*app(?:lication)?s?|full\s*-?\s*stack\s+app(?:lication)?s?", True, "web app"),
    ("service", r"(?:background\s+)?workers?|background\s+(?:jobs?|tasks?|processing)", True, "worker"),
    ("bucket", r"static\s+(?:web\s*)?sites?|static\s+hosting", True, "static site"),
    ("postgres", r"(?:cloud\s+sql\s+(?:for\s+)?)?(?:postgres(?:ql)?|postgre|pgsql|psql|pg)" + _DB_TAIL, True,
     None),
    ("mysql", r"(?:cloud\s+sql\s+(?:for\s+)?)?(?:mysql|maria\s*db)" + _DB_TAIL, True, None),
    (GENERIC_DB, r"(?:sql\s+|relational\s+)?(?:database|db)s?(?!\s+backups?)|cloud\s+sql|rdbms", False, None),
    ("redis", r"(?:cloud\s+)?(?:memorystore(?:\s+for\s+redis)?|redis|valkey)"
              r"(?:\s+(?:cache|instance|server|cluster|db|database)s?)?", True, None),
    ("redis", r"caches?|caching(?:\s+layer)?|in\s*-?\s*memory\s+(?:store|cache)|key\s*-?\s*value\s+store"
              r"|kv\s+store", False, None),
    ("bucket", r"buckets?|gcs|s3|cloud\s+storage", True, None),
    ("bucket", r"(?:object|blob|file|static\s+file)\s+storage|storage|files?\s+uploads?"
               r"|(?:user|image|photo)\s+uploads", False, None),
    ("queue", r"(?:cloud\s+|google\s+)?pubsub(?:\s+(?:topic|queue)s?)?|topics?", True, None),
    ("queue", r"(?:message|task|job|event|work)\s+(?:queue|bus|broker)s?|queues?|messaging|subscriptions?",
     False, None),
    ("secret", r"(?:secret\s+manager\s+)?secrets?(?:\s+manager)?", True, None),
    # "a secret for the sendgrid api key" is one secret: the key is what the secret holds.
    ("secret", r"api\s+keys?", False, None),
    ("registry", r"(?:artifact|container|docker|image)\s+(?:registry|registries|repos?|repositor(?:y|ies))"
                 r"|registry|registries|gcr", True, None),
)
# Needs, said instead of products ("somewhere to store invoices"): read only when no component is named,
# so "store customer records in a db" stays one database. Ordered: "hold container images" is a registry
# before "images" can be files.
NEEDS: tuple[tuple[str, str], ...] = (
    ("registry", r"(?:container|docker|oci)\s+images?|(?:push|hold|publish)\w*\s+(?:\w+\s+){0,2}?images?"),
    ("secret", r"tokens?|credentials?|creds|passwords?|passwd|private\s+keys?|keys|certificates?|certs?"),
    ("queue", r"async(?:hronous(?:ly)?)?\s+(?:processing|jobs?|tasks?|work)|events?\s+between\s+services"
              r"|(?:buffer|fan\s*-?\s*out|publish|broadcast|decouple)\w*\s+(?:\w+\s+){0,2}?(?:events?|messages?)"
              r"|process\w*\s+(?:\w+\s+){0,3}?(?:async\w*|in\s+the\s+background)"),
    ("redis", r"cach(?:e|es|ed|ing)|sessions?\s+store"),
    ("bucket", r"files?|pdfs?|invoices|avatars|videos|backups?|receipts|documents|attachments|uploads?|blobs?"
               r"|exports|images|photos|pictures|media|archives?|artifacts|assets"),
    ("postgres", r"relational|(?:customer|user|order)\s+records"),
)
_NEEDS = tuple((kind, re.compile(rf"(?<![\w-])(?:{rx})(?![\w-])")) for kind, rx in NEEDS)

_COMPILED = tuple((kind, re.compile(rf"(?<![\w-])(?:{rx})(?![\w-])"), specific, template)
                  for kind, rx, specific, template in _PHRASES)

# Words that may sit between two words naming the same component ("s3 style bucket").
_FILLER = (r"managed|hosted|style|like|compatible|type|based|backed|google|gcp|cloud|dedicated|shared|"
           r"private|public|regional|new|extra|more|additional|separate|simple|basic|single|fully|small|"
           r"proper|real|little|standard|default|own")
_GAP = re.compile(rf"^\s*(?:(?:{_FILLER})\s+)*$")

_NUMBER_WORDS = {
    "one": 1, "single": 1, "another": 1, "a": 1, "an": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "both": 2, "several": 3,
    "a couple of": 2, "a couple": 2, "couple of": 2, "a pair of": 2, "pair of": 2, "a few": 3, "few": 3,
}
_QTY = (r"(?P<num>\d+)x?|(?P<word>" + "|".join(
    re.escape(w).replace(r"\ ", r"\s+") for w in sorted(_NUMBER_WORDS, key=len, reverse=True)) + ")")
_BEFORE = re.compile(
    rf"(?:(?<![\w-])(?:{_QTY})\s+)?(?:(?P<size>{SIZE_PATTERN})\s+)?(?:(?:{_FILLER})\s+){{0,3}}$")
_AFTER_COUNT = re.compile(r"^\s*(?:x\s*(?P<a>\d+)|\(\s*(?P<b>\d+)\s*\)|times\s+(?P<c>\d+))(?![\w-])")

_REMOVE_CUE = re.compile(
    r"(?<![\w-])(?:drop|remove|delete|destroy|kill|lose|ditch|skip|without|minus|except|exclude|no|nix|"
    r"scrap|forget(?:\s+about)?|never\s*mind|get\s+rid\s+of|(?:do\s+not|dont|doesnt|does\s+not)\s+"
    r"(?:need|want)(?:\s+an?y?)?|no\s+need\s+for|no\s+more|instead\s+of|rather\s+than|not|replace|"
    r"swap(?:\s+out)?|(?:switch|change|move|migrate|go)\s+(?:away\s+)?from)"
    rf"\s+(?:(?:the|a|an|any|that|those|this|my|our|its|of|extra|second)\s+)*"
    rf"(?:(?:{_QTY})\s+)?(?:(?:{SIZE_PATTERN})\s+)?(?:(?:{_FILLER})\s+)*$"
)
_REMOVE_AFTER = re.compile(r"^\s*(?:is\s+|are\s+)?(?:not|no\s+longer)\s+(?:needed|required|necessary)\b")
_LIST_JOIN = re.compile(r"^\s*(?:,\s*)?(?:and|or|nor)?\s*(?:,\s*)?(?:(?:the|a|an|any)\s+)?$")
_TEMPLATE_MARKER = re.compile(r"^\s*(?:(?:one|template|stack|setup|starter|preset|blueprint|pattern|"
                              r"option|kind|type)s?)(?![\w-])")


@dataclass
class Mention:
    kind: str
    start: int
    end: int
    specific: bool
    template: str | None
    count: int = 1
    size: str | None = None
    removed: bool = False
    marked_template: bool = False
    size_span: tuple[int, int] | None = None


@dataclass
class ComponentFindings:
    components: list[Component] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    template: str | None = None
    spans: list[tuple[int, int]] = field(default_factory=list)  # text used up, sizes included

    @property
    def changes(self) -> bool:
        return bool(self.components or self.remove or self.template)


def _scan(text: str) -> list[Mention]:
    found: list[Mention] = []
    for kind, rx, specific, template in _COMPILED:
        for m in rx.finditer(text):
            found.append(Mention(kind, m.start(), m.end(), specific, template))
    found.sort(key=lambda x: (x.start, -(x.end - x.start)))
    chosen: list[Mention] = []
    for mention in found:
        if chosen and mention.start < chosen[-1].end:
            continue
        chosen.append(mention)
    return chosen


def _mergeable(a: Mention, b: Mention) -> bool:
    if a.kind == b.kind:
        return True
    db_kinds = {GENERIC_DB, "postgres", "mysql"}
    return GENERIC_DB in (a.kind, b.kind) and a.kind in db_kinds and b.kind in db_kinds


def _merge_adjacent(text: str, mentions: list[Mention]) -> list[Mention]:
    merged: list[Mention] = []
    for m in mentions:
        prev = merged[-1] if merged else None
        if prev and _mergeable(prev, m) and _GAP.match(text[prev.end:m.start]):
            if prev.kind == GENERIC_DB:
                prev.kind = m.kind
            prev.end = m.end
            prev.specific = prev.specific or m.specific
            # "worker service" stays a worker; "api server" stays an api.
            prev.template = prev.template or m.template
            continue
        merged.append(m)
    return merged


def _annotate(text: str, mentions: list[Mention]) -> None:
    """Counts, sizes, removals and template markers, from the words around each mention."""
    prev_end = 0
    prev: Mention | None = None
    for m in mentions:
        window = text[prev_end:m.start]
        before = _BEFORE.search(window)
        if before:
            if before.group("num"):
                m.count = int(before.group("num"))
            elif before.group("word"):
                m.count = _NUMBER_WORDS[" ".join(before.group("word").split())]
            if before.group("size"):
                m.size = size_value(before.group("size"))
                m.size_span = (prev_end + before.start("size"), prev_end + before.end("size"))
        after = text[m.end:]
        count_after = _AFTER_COUNT.match(after)
        if count_after:
            m.count = int(next(g for g in count_after.groups() if g))
        m.count = max(1, min(m.count, MAX_COUNT))
        if _REMOVE_CUE.search(window) or _REMOVE_AFTER.match(after):
            m.removed = True
        elif prev is not None and prev.removed and _LIST_JOIN.match(window):
            m.removed = True  # "remove the bucket and the queue"
        if m.template and _TEMPLATE_MARKER.match(after):
            m.marked_template = True
        prev_end, prev = m.end, m


def _absorb_generic(mentions: list[Mention]) -> list[Mention]:
    said_mysql = any(m.kind == "mysql" for m in mentions)
    for m in mentions:
        if m.kind == GENERIC_DB:
            m.kind = "mysql" if said_mysql else "postgres"
    specific_kinds = {m.kind for m in mentions if m.specific}
    return [m for m in mentions if m.specific or m.kind not in specific_kinds]


def _pick_template(mentions: list[Mention]) -> Mention | None:
    marked = [m for m in mentions if m.marked_template and not m.removed]
    if marked:
        return marked[0]
    live = [m for m in mentions if not m.removed]
    if (len(live) == 1 and live[0].template and live[0].template != "api" and live[0].count == 1):
        return live[0]
    return None


def _add(components: list[Component], kind: str, count: int, size: str | None) -> None:
    """Merge duplicates of a kind by adding counts (capped at the spec's limit)."""
    for c in components:
        if c.kind == kind:
            c.count = min(c.count + count, MAX_COUNT)
            c.size = c.size or size
            return
    components.append(Component(kind=kind, count=count, size=size))  # type: ignore[arg-type]


def _needs(text: str) -> list[Mention]:
    found: list[Mention] = []
    taken: list[tuple[int, int]] = []
    for kind, rx in _NEEDS:
        for m in rx.finditer(text):
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue
            taken.append((m.start(), m.end()))
            if all(f.kind != kind for f in found):
                found.append(Mention(kind, m.start(), m.end(), True, None))
    return sorted(found, key=lambda f: f.start)


def find_components(text: str) -> ComponentFindings:
    mentions = _merge_adjacent(text, _scan(text))
    _annotate(text, mentions)
    mentions = _absorb_generic(mentions)
    if not any(not m.removed for m in mentions):
        # Counts come only from quantities, so a need is one component whatever it is said about.
        mentions += _needs(text)
    findings = ComponentFindings()
    chosen = _pick_template(mentions)
    if chosen is not None and chosen.template in TEMPLATES:
        findings.template = chosen.template
        for c in template_components(chosen.template):
            _add(findings.components, c.kind, c.count, chosen.size)
    for m in mentions:
        findings.spans.append((m.start, m.end))
        if m.size_span:
            findings.spans.append(m.size_span)
        if m is chosen:
            continue
        if m.removed:
            if m.kind not in findings.remove:
                findings.remove.append(m.kind)
            continue
        _add(findings.components, m.kind, m.count, m.size)
    # A kind removed in this message is not also added by it ("a web app without the bucket").
    findings.components = [c for c in findings.components if c.kind not in findings.remove]
    return findings


def is_component_phrase(text: str) -> bool:
    """True when all of `text` names a component ("redis", "db", "buckets")."""
    return any(rx.fullmatch(text) for _, rx, _, _ in _COMPILED)


# Words that may come before the first component of a telegraphic request ("also 2 small redis").
_LEAD_WORDS = frozenset("""
a an one two three four five six seven eight nine ten some another more extra also plus and new additional
second single couple pair few several of hey hi yo ok okay so then now just only oh um actually and
, . : ! xappx
""".split()) | frozenset(w for phrase in _FILLER.split("|") for w in phrase.split())


def leads_with_component(text: str, spans: list[tuple[int, int]]) -> bool:
    """The message opens with a component, after at most quantities, sizes and fillers."""
    if not spans:
        return False
    words = text[:min(start for start, _ in spans)].split()
    return len(words) <= 5 and all(w in _LEAD_WORDS or w.isdigit() or w in _SIZE_TOKENS for w in words)
