"""Words the parser understands: GCP regions, environments, sizes.

Matchers here run on folded text (see normalize.fold) and return the value plus the span it came from,
so callers can tell what a word was already used for.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# Every GCP region generally available at the time of writing: its id, the place it is named after, and the
# cities, states, countries and continents people say instead of the id (folded spelling). A table rather than
# two dicts, so a region and the words for it are read and changed on one line.
_REGION_TABLE = """
africa-south1           | Johannesburg      | johannesburg, south africa, africa
asia-east1              | Taiwan            | taiwan, changhua
asia-east2              | Hong Kong         | hong kong, hongkong
asia-northeast1         | Tokyo             | tokyo, japan, asia
asia-northeast2         | Osaka             | osaka
asia-northeast3         | Seoul             | seoul, korea, south korea
asia-south1             | Mumbai            | mumbai, bombay, india
asia-south2             | Delhi             | delhi, new delhi
asia-southeast1         | Singapore         | singapore, southeast asia
asia-southeast2         | Jakarta           | jakarta, indonesia
australia-southeast1    | Sydney            | sydney, australia
australia-southeast2    | Melbourne         | melbourne
europe-central2         | Warsaw            | warsaw, poland
europe-north1           | Finland           | finland, hamina
europe-north2           | Stockholm         | stockholm, sweden
europe-southwest1       | Madrid            | madrid, spain
europe-west1            | Belgium           | belgium, europe, eu, the eu
europe-west2            | London            | london, uk, england, britain, united kingdom
europe-west3            | Frankfurt         | frankfurt, germany
europe-west4            | Netherlands       | netherlands, holland, eemshaven, amsterdam
europe-west6            | Zurich            | zurich, switzerland
europe-west8            | Milan             | milan, italy
europe-west9            | Paris             | paris, france
europe-west10           | Berlin            | berlin
europe-west12           | Turin             | turin
me-central1             | Doha              | doha, qatar
me-central2             | Dammam            | dammam, saudi arabia
me-west1                | Tel Aviv          | tel aviv, israel
northamerica-northeast1 | Montreal          | montreal, canada
northamerica-northeast2 | Toronto           | toronto
northamerica-south1     | Queretaro         | queretaro, mexico
southamerica-east1      | Sao Paulo         | sao paulo, brazil, south america
southamerica-west1      | Santiago          | santiago, chile
us-central1             | Iowa              | iowa, usa, united states, america, north america
us-east1                | South Carolina    | south carolina
us-east4                | Northern Virginia | virginia, northern virginia, ashburn
us-east5                | Columbus          | columbus, ohio
us-south1               | Dallas            | dallas, texas
us-west1                | Oregon            | oregon
us-west2                | Los Angeles       | los angeles, california
us-west3                | Salt Lake City    | salt lake city, utah
us-west4                | Las Vegas         | las vegas, nevada
"""


def _region_rows(table: str) -> list[tuple[str, str, list[str]]]:
    rows = [[cell.strip() for cell in line.split("|")] for line in table.strip().splitlines()]
    return [(region, place, [a.strip() for a in aliases.split(",")]) for region, place, aliases in rows]


_REGION_ROWS = _region_rows(_REGION_TABLE)
GCP_REGIONS: dict[str, str] = {region: place for region, place, _ in _REGION_ROWS}
REGION_ALIASES: dict[str, str] = {alias: region for region, _, aliases in _REGION_ROWS for alias in aliases}


class Hit(NamedTuple):
    value: str
    start: int
    end: int


def _words(phrase: str) -> str:
    return r"\s+".join(re.escape(w) for w in phrase.split())


def _bounded(body: str) -> str:
    # Hyphens count as part of a word so "europe" inside "europe-west1" or "shop-staging" never matches.
    return rf"(?<![\w-])(?:{body})(?![\w-])"


_REGION_ID = re.compile(_bounded("|".join(sorted(GCP_REGIONS, key=len, reverse=True))))
_REGION_ALIAS = re.compile(_bounded("|".join(
    _words(a) for a in sorted(REGION_ALIASES, key=len, reverse=True))))
# "us" is also a pronoun ("a bucket for us"), so it only counts where it can only mean the country.
_REGION_US = re.compile(r"(?<![\w-])(?:(?:in|into|to)\s+(?:the\s+)?us|the\s+us"
                        r"|us(?:\s+|-)(?:region|based|only))(?![\w-])")
_FROM_BEFORE = re.compile(r"\bfrom\s+(?:the\s+)?$")


def _pick_last(hits: list[Hit], text: str) -> Hit | None:
    """The value the user is moving to: the last one said, ignoring ones introduced by 'from'."""
    chosen = [h for h in hits if not _FROM_BEFORE.search(text[max(0, h.start - 12):h.start])]
    return max(chosen or hits, key=lambda h: h.start) if hits else None


# Shaped like a cloud region id (AWS "eu-west-1", a mistyped "europe-west9") but not one GCP has.
_REGION_LIKE = re.compile(
    r"(?<![\w-])(?:us|eu|europe|asia|australia|northamerica|southamerica|me|af|africa|ap|sa|ca|uk)"
    r"-(?:north|south|east|west|central|northeast|northwest|southeast|southwest)-?\d+(?![\w-])"
)


def find_unknown_region(text: str) -> str | None:
    for m in _REGION_LIKE.finditer(text):
        if m.group(0) not in GCP_REGIONS:
            return m.group(0)
    return None


def find_region(text: str) -> Hit | None:
    hits = [Hit(m.group(0), m.start(), m.end()) for m in _REGION_ID.finditer(text)]
    taken = [(h.start, h.end) for h in hits]
    for m in _REGION_ALIAS.finditer(text):
        if any(s <= m.start() < e for s, e in taken):
            continue
        hits.append(Hit(REGION_ALIASES[" ".join(m.group(0).split())], m.start(), m.end()))
    hits += [Hit("us-central1", m.start(), m.end()) for m in _REGION_US.finditer(text)]
    return _pick_last(hits, text)


ENVIRONMENT_WORDS: dict[str, str] = {
    "dev": "dev", "development": "dev", "devel": "dev", "sandbox": "dev",
    "staging": "staging", "stage": "staging", "stg": "staging", "qa": "staging", "uat": "staging",
    "preprod": "staging", "pre-prod": "staging", "pre-production": "staging", "preproduction": "staging",
    "prod": "prod", "production": "prod", "prd": "prod",
}
_ENV_WORD = re.compile(_bounded("|".join(sorted(ENVIRONMENT_WORDS, key=len, reverse=True)))
                       + r"(?!\s*-?\s*(?:grade|ready|quality|level)\b)")
# Words that name an environment only in context: "test env", "in live".
_ENV_CONTEXT = re.compile(
    r"(?<![\w-])(?:(?P<dev>test|testing)\s+(?:env|environment)|(?:in|to|into)\s+(?:the\s+)?(?P<dev2>test|testing)"
    r"|(?P<live>live)\s+(?:env|environment|stage)|(?:in|to|into)\s+(?:the\s+)?(?P<live2>live))(?![\w-])"
)


def find_environment(text: str) -> Hit | None:
    hits = [Hit(ENVIRONMENT_WORDS[m.group(0)], m.start(), m.end()) for m in _ENV_WORD.finditer(text)]
    for m in _ENV_CONTEXT.finditer(text):
        value = "dev" if (m.group("dev") or m.group("dev2")) else "prod"
        hits.append(Hit(value, m.start(), m.end()))
    return _pick_last(hits, text)


SIZE_WORDS: dict[str, str] = {
    "small": "small", "tiny": "small", "minimal": "small", "smallest": "small", "cheap": "small",
    "cheapest": "small", "micro": "small", "as cheap as possible": "small", "cheapest possible": "small",
    "on a budget": "small", "low cost": "small", "low-cost": "small", "bare minimum": "small", "cheaper": "small",
    "budget": "small", "bigger": "large", "more powerful": "large", "heavy-duty": "large",
    "mini": "small", "little": "small", "lightweight": "small",
    "medium": "medium", "mid": "medium", "mid-size": "medium", "mid-sized": "medium", "midsize": "medium",
    "medium-sized": "medium", "moderate": "medium", "average": "medium",
    "large": "large", "big": "large", "beefy": "large", "huge": "large", "xl": "large", "heavy": "large",
    "powerful": "large", "production-grade": "large", "production grade": "large",
    "production-ready": "large", "production ready": "large", "high-performance": "large",
    "largest": "large", "biggest": "large", "massive": "large",
}
SIZE_PATTERN = "|".join(_words(w) for w in sorted(SIZE_WORDS, key=len, reverse=True))
_SIZE = re.compile(_bounded(SIZE_PATTERN))


def size_value(word: str) -> str:
    return SIZE_WORDS[" ".join(word.split())]


def find_sizes(text: str) -> list[Hit]:
    return [Hit(size_value(m.group(0)), m.start(), m.end()) for m in _SIZE.finditer(text)]


_STACK = re.compile(r"(?<![\w-])([a-z][a-z0-9]*(?:-[a-z0-9]+)*?)-(dev|staging|prod)(?![\w-])")


def find_stack(text: str) -> tuple[str, str, str] | None:
    """A stack named the way InfraSpec names them: '<app>-<environment>'."""
    m = _STACK.search(text)
    return (m.group(0), m.group(1), m.group(2)) if m else None


def looks_like_stack(name: str) -> bool:
    return _STACK.fullmatch(name) is not None
