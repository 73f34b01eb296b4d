"""App names: finding the one the user gave, and holding it to what GCP resource names allow.

The app name becomes part of every resource name (`<app>-<environment>-...`), and some GCP names are
short (service account ids are 6-30 characters), so app names are kept to 20 characters of lowercase
letters, digits and hyphens, starting with a letter and not ending with a hyphen.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from core.markup import Code, Inline, spans
from core.understanding.normalize import ascii_fold

MAX_APP_LENGTH = 20
APP_NAME_RULE = (
    f"App names need to start with a letter, use only lowercase letters, digits and hyphens, not end "
    f"with a hyphen, and be at most {MAX_APP_LENGTH} characters long, because infrabot builds GCP "
    f"resource names from them."
)

_VALID = re.compile(rf"[a-z](?:[a-z0-9-]{{0,{MAX_APP_LENGTH - 2}}}[a-z0-9])?")

# Names GCP refuses or that collide with what the databases already have. Bucket names may not
# start with "goog" or contain "google" (Pub/Sub topic names may not start with "goog" either);
# the app name also becomes the database and user name, which must not be a built-in one.
GOOGLE_PREFIX = "goog"
GOOGLE_WORD = "google"
BUILT_IN_NAMES = frozenset({"postgres", "mysql", "root", "sys"})
# Its stacks would be the environment's shared network stack (`infrabot-net-{env}`).
INFRABOT_OWN = frozenset({"infrabot-net"})


@dataclass(frozen=True)
class NameCheck:
    app: str | None
    problem: Inline | None = None
    suggestion: str | None = None


def gcp_name_problem(name: str) -> str | None:
    """Why GCP would refuse `name` (a well-formed app name) in resource names, if it would."""
    if GOOGLE_WORD in name:
        return "contains \"google\", which GCP does not allow in bucket names"
    if name.startswith(GOOGLE_PREFIX):
        return "starts with \"goog\", which GCP does not allow for bucket and topic names"
    if name in BUILT_IN_NAMES:
        return "is the name of a built-in database user or database, and infrabot names the app's own after it"
    if name in INFRABOT_OWN:
        return "is the name infrabot gives each environment's shared network"
    return None


def is_valid_app_name(name: str) -> bool:
    return _VALID.fullmatch(name) is not None and gcp_name_problem(name) is None


def _without_google(slug: str) -> str:
    slug = slug.replace(GOOGLE_WORD, "-")
    while slug.startswith(GOOGLE_PREFIX):
        slug = slug[len(GOOGLE_PREFIX):].lstrip("-")
    return re.sub(r"-{2,}", "-", slug).strip("-")


def suggest_app_name(raw: str) -> str:
    """A valid name as close to `raw` as possible."""
    slug = _without_google(re.sub(r"[^a-z0-9]+", "-", ascii_fold(raw).lower()).strip("-"))
    if not slug:
        return "my-app"
    if not slug[0].isalpha():
        slug = f"app-{slug}"
    if slug in BUILT_IN_NAMES or slug in INFRABOT_OWN:
        slug = f"{slug}-app"
    if len(slug) > MAX_APP_LENGTH:
        cut = slug[:MAX_APP_LENGTH]
        # Prefer ending on a whole word when that keeps a useful amount of the name.
        if slug[MAX_APP_LENGTH] != "-" and "-" in cut and cut.rfind("-") >= 6:
            cut = cut[:cut.rfind("-")]
        slug = cut
    slug = slug.rstrip("-")
    # Cutting or prefixing can bring a refused form back ("app-goog..." cannot, "goog" can).
    return slug if is_valid_app_name(slug) else "my-app"


def _reasons(name: str) -> list[str]:
    reasons: list[str] = []
    if not name.isascii():
        reasons.append("has characters other than plain letters")
    if " " in name:
        reasons.append("has spaces")
    if "_" in name:
        reasons.append("has underscores")
    if re.search(r"[^a-z0-9\-_ ]", name) and name.isascii():
        reasons.append("has symbols other than hyphens")
    if name and not name[0].isalpha():
        reasons.append("doesn't start with a letter")
    if name.endswith("-"):
        reasons.append("ends with a hyphen")
    if len(name) > MAX_APP_LENGTH:
        reasons.append(f"is {len(name)} characters long")
    return reasons or ["isn't in the allowed form"]


def check_app_name(raw: str) -> NameCheck:
    """Fix case silently; anything else invalid is explained, with a suggestion, and not accepted."""
    name = raw.strip()
    lowered = name.lower()
    if is_valid_app_name(lowered):
        return NameCheck(app=lowered)
    if _VALID.fullmatch(lowered):
        gcp_problem = gcp_name_problem(lowered)
        problem = spans(Code(name), f" can't be used as an app name: it {gcp_problem}.")
        return NameCheck(app=None, problem=problem, suggestion=suggest_app_name(name))
    reasons = _reasons(lowered)
    said = " and ".join([", ".join(reasons[:-1]), reasons[-1]] if len(reasons) > 1 else reasons)
    problem = spans(Code(name), f" can't be used as an app name: it {said}. {APP_NAME_RULE}")
    return NameCheck(app=None, problem=problem, suggestion=suggest_app_name(name))


@dataclass(frozen=True)
class AppMention:
    raw: str
    start: int  # span of clean text to hide from the other matchers
    end: int
    explicit: bool  # said with "called"/"app ..."; otherwise inferred from "for shop" and the like


_NAME = (r"(?:\"(?P<dq>[^\"\n]{1,60})\"|'(?P<sq>[^'\n]{1,60})'"
         r"|(?P<bare>[^\s,;!?()\[\]{}<>\"']+))")
_BARE = r"(?P<bare>[A-Za-z][\w.-]*)"

_GRAMMAR = frozenset("the a an my our your this that it is in on to for with and or of new".split())
_COMPONENT_HEAD = (r"(?:redis|postgres\w*|mysql|db|database|bucket|queue|topic|secret|registry|service|"
                   r"cache|storage|api|backend|frontend|infra\w*|stack|cloud\s+run)\b")
# A name set apart on its own: `pay-2` or "inventory" ("new project `pay-2`", "`hermes` needs a secret").
_MARKED = re.compile(r"`([A-Za-z][\w.-]{0,40})`|\"([A-Za-z][\w.-]{0,40})\"")

# A word that ends its phrase ("... app postgres", "... called redis in dev"), not one that starts a longer
# one ("called postgres db"): only then is a component word in a name slot the name.
_STANDS_ALONE = r"(?=\s*(?:[,.;:!?]|$|\s+(?:in|on|to|with|please|pls|and)\b))"

# Ordered: explicit naming first, then the looser "for X" style guesses. The third field says what may fill
# the name slot: OUTRIGHT any word but grammar ("for app api"), SLOT also a component word that stands
# alone ("called postgres", "for my app redis"), which the user would not say to ask for that component.
OUTRIGHT, SLOT = "outright", "slot"
_PATTERNS: tuple[tuple[re.Pattern[str], bool, str | None], ...] = tuple(
    (re.compile(p, re.IGNORECASE), explicit, slot) for p, explicit, slot in (
        (r"\b(?:called|named|call(?:ing)?\s+it|nam(?:e|ing)\s+it|call\s+the\s+app|name\s+the\s+app)\s+"
         + _NAME, True, SLOT),
        # "for app api": after "for app", a word is the name even when it is also a component word.
        (r"\bfor\s+(?:the\s+)?app(?:lication)?\s+(?!(?:called|named)\b)(?P<bare>[A-Za-z][\w-]*)" + _STANDS_ALONE,
         True, OUTRIGHT),
        (r"\bfor\s+(?:my|our|your|this)\s+app(?:lication)?\s+(?!(?:called|named)\b)(?P<bare>[A-Za-z][\w-]*)"
         + _STANDS_ALONE, True, SLOT),
        (r"\b(?:app(?:lication)?|project)(?:\s+name)?(?:\s*[:=]\s*|\s+is\s+|\s+)(?:called\s+|named\s+)?"
         + _NAME, True, None),
        (r"\brenam(?:e|ing)\s+(?:it\s+|the\s+app\s+|the\s+application\s+|app\s+)?(?:to|as)\s+" + _NAME, True,
         SLOT),
        (r"\bchange\s+(?:the\s+)?(?:app\s+)?name\s+to\s+" + _NAME, True, SLOT),
        (r"\b(?:the|my|our)\s+" + _BARE + r"\s+(?:app|application|service|project)\b", False, None),
        (r"\b(?:deploy|ship|launch|release)\s+" + _BARE + r"(?=\s+(?:to|in|on|into)\b)", False, None),
        (r"\bfor\s+" + _NAME + r"(?:\s+app\b)?", False, None),
        # "shop's redis": the owner of a component is its app.
        (_BARE + r"'s\s+(?=(?:[\w-]+\s+){0,2}?" + _COMPONENT_HEAD + r")", False, None),
    )
)
_ALONE = re.compile(_STANDS_ALONE)


def find_app(clean: str, is_reserved: Callable[[str, bool], bool], is_stack: Callable[[str], bool],
             is_component: Callable[[str], bool]) -> AppMention | None:
    """The app name in `clean` (chat markup already removed, case kept), if the user gave one.

    `is_reserved(word, explicit)` says a word means something else to the parser ("redis", "the");
    `is_component(word)` says it only names a component, so a name slot or quotes make it a name
    ("for my app postgres", `called "mysql"`): it then reaches the name check, never the plan.
    Stack-looking guesses ("for shop-staging") are left for the stack matcher.
    """
    for pattern, explicit, slot in _PATTERNS:
        for m in pattern.finditer(clean):
            group = next(g for g in ("dq", "sq", "bare") if g in pattern.groupindex and m.group(g))
            raw = m.group(group)
            end = m.end(group)
            if group == "bare":
                stripped = raw.rstrip(".:-") if not explicit else raw.rstrip(".:")
                end -= len(raw) - len(stripped)
                raw = stripped
            # "google" is a word the parser knows, but said as the name it gets the GCP refusal.
            named = explicit and (is_component(raw.lower()) or gcp_name_problem(raw.lower()) is not None) and (
                group != "bare" or (slot == SLOT and _ALONE.match(clean, end) is not None))
            if not raw or (raw.lower() in _GRAMMAR if slot == OUTRIGHT
                           else is_reserved(raw.lower(), explicit) and not named):
                continue
            if not explicit and (not raw[0].isalpha() or is_stack(raw.lower())):
                continue
            start = m.start(group) - (1 if group in ("dq", "sq") else 0)
            if group in ("dq", "sq"):
                end += 1
            return AppMention(raw=raw, start=start, end=max(end, m.end()) if not explicit else end,
                              explicit=explicit)
    return None


def find_marked_name(raw: str, clean: str, is_reserved: Callable[[str, bool], bool]) -> AppMention | None:
    """A backticked or quoted single word in the message as typed, located in `clean` to be hidden."""
    for m in _MARKED.finditer(raw):
        name = m.group(1) or m.group(2)
        if is_reserved(name.lower(), True):
            continue
        at = re.search(rf"(?<![\w.-])\"?{re.escape(name)}\"?(?![\w.-])", clean)
        if at is not None:
            return AppMention(raw=name, start=at.start(), end=at.end(), explicit=True)
    return None
