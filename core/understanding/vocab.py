"""Words the parser understands: GCP regions, environments, sizes.

Matchers here run on folded text (see normalize.fold) and return the value plus the span it came from,
so callers can tell what a word was already used for.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# Every GCP region generally available at the time of writing, with the place it is named after.
GCP_REGIONS: dict[str, str] = {
    "africa-south1": "Johannesburg",
    "asia-east1": "Taiwan",
    "asia-east2": "Hong Kong",
    "asia-northeast1": "Tokyo",
    "asia-northeast2": "Osaka",
    "asia-northeast3": "Seoul",
    "asia-south1": "Mumbai",
    "asia-south2": "Delhi",
    "asia-southeast1": "Singapore",
    "asia-southeast2": "Jakarta",
    "australia-southeast1": "Sydney",
    "australia-southeast2": "Melbourne",
    "europe-central2": "Warsaw",
    "europe-north1": "Finland",
    "europe-north2": "Stockholm",
    "europe-southwest1": "Madrid",
    "europe-west1": "Belgium",
    "europe-west2": "London",
    "europe-west3": "Frankfurt",
    "europe-west4": "Netherlands",
    "europe-west6": "Zurich",
    "europe-west8": "Milan",
    "europe-west9": "Paris",
    "europe-west10": "Berlin",
    "europe-west12": "Turin",
    "me-central1": "Doha",
    "me-central2": "Dammam",
    "me-west1": "Tel Aviv",
    "northamerica-northeast1": "Montreal",
    "northamerica-northeast2": "Toronto",
    "northamerica-south1": "Queretaro",
    "southamerica-east1": "Sao Paulo",
    "southamerica-west1": "Santiago",
    "us-central1": "Iowa",
    "us-east1": "South Carolina",
    "us-east4": "Northern Virginia",
    "us-east5": "Columbus",
    "us-south1": "Dallas",
    "us-west1": "Oregon",
    "us-west2": "Los Angeles",
    "us-west3": "Salt Lake City",
    "us-west4": "Las Vegas",
}

# Cities, states, countries and continents people say instead of region ids (folded spelling).
REGION_ALIASES: dict[str, str] = {
    "johannesburg": "africa-south1", "south africa": "africa-south1", "africa": "africa-south1",
    "taiwan": "asia-east1", "changhua": "asia-east1",
    "hong kong": "asia-east2", "hongkong": "asia-east2",
    "tokyo": "asia-northeast1", "japan": "asia-northeast1", "asia": "asia-northeast1",
    "osaka": "asia-northeast2",
    "seoul": "asia-northeast3", "korea": "asia-northeast3", "south korea": "asia-northeast3",
    "mumbai": "asia-south1", "bombay": "asia-south1", "india": "asia-south1",
    "delhi": "asia-south2", "new delhi": "asia-south2",
    "singapore": "asia-southeast1", "southeast asia": "asia-southeast1",
    "jakarta": "asia-southeast2", "indonesia": "asia-southeast2",
    "sydney": "australia-southeast1", "australia": "australia-southeast1",
    "melbourne": "australia-southeast2",
    "warsaw": "europe-central2", "poland": "europe-central2",
    "finland": "europe-north1", "hamina": "europe-north1",
    "stockholm": "europe-north2", "sweden": "europe-north2",
    "madrid": "europe-southwest1", "spain": "europe-southwest1",
    "belgium": "europe-west1", "europe": "europe-west1", "eu": "europe-west1", "the eu": "europe-west1",
    "london": "europe-west2", "uk": "europe-west2", "england": "europe-west2", "britain": "europe-west2",
    "united kingdom": "europe-west2",
    "frankfurt": "europe-west3", "germany": "europe-west3",
    "netherlands": "europe-west4", "holland": "europe-west4", "eemshaven": "europe-west4",
    "amsterdam": "europe-west4",
    "zurich": "europe-west6", "switzerland": "europe-west6",
    "milan": "europe-west8", "italy": "europe-west8",
    "paris": "europe-west9", "france": "europe-west9",
    "berlin": "europe-west10",
    "turin": "europe-west12",
    "doha": "me-central1", "qatar": "me-central1",
    "dammam": "me-central2", "saudi arabia": "me-central2",
    "tel aviv": "me-west1", "israel": "me-west1",
    "montreal": "northamerica-northeast1", "canada": "northamerica-northeast1",
    "toronto": "northamerica-northeast2",
    "queretaro": "northamerica-south1", "mexico": "northamerica-south1",
    "sao paulo": "southamerica-east1", "brazil": "southamerica-east1", "south america": "southamerica-east1",
    "santiago": "southamerica-west1", "chile": "southamerica-west1",
    "iowa": "us-central1", "usa": "us-central1", "united states": "us-central1", "america": "us-central1",
    "north america": "us-central1",
    "south carolina": "us-east1",
    "virginia": "us-east4", "northern virginia": "us-east4", "ashburn": "us-east4",
    "columbus": "us-east5", "ohio": "us-east5",
    "dallas": "us-south1", "texas": "us-south1",
    "oregon": "us-west1",
    "los angeles": "us-west2", "california": "us-west2",
    "salt lake city": "us-west3", "utah": "us-west3",
    "las vegas": "us-west4", "nevada": "us-west4",
}


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
