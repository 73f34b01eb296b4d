"""Which cloud a request is for, and regions and places that only make sense per cloud.

"on aws", "amazon", "on gcp", "google cloud" name the cloud; an AWS region id (`eu-west-1`) implies
AWS. A place ("frankfurt", "tokyo") resolves to the named cloud's region there; when no cloud is
said the GCP vocabulary (vocab.py) reads it, and `region_for` moves it to the cloud the spec ends
up on, so "frankfurt" is `europe-west3` on GCP and `eu-central-1` on AWS whichever came first.
Matchers run on folded text (see normalize.fold).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from core.markup import Code, Inline, spans
from core.understanding.vocab import GCP_REGIONS, REGION_ALIASES

CLOUDS: tuple[str, ...] = ("gcp", "aws")
DEFAULT_REGIONS: dict[str, str] = {"gcp": "us-central1", "aws": "us-east-1"}

# Commercial AWS regions at the time of writing, with the place each serves.
AWS_REGIONS: dict[str, str] = {
    "us-east-1": "N. Virginia", "us-east-2": "Ohio", "us-west-1": "N. California", "us-west-2": "Oregon",
    "af-south-1": "Cape Town", "ap-east-1": "Hong Kong", "ap-south-1": "Mumbai", "ap-south-2": "Hyderabad",
    "ap-southeast-1": "Singapore", "ap-southeast-2": "Sydney", "ap-southeast-3": "Jakarta",
    "ap-southeast-4": "Melbourne", "ap-northeast-1": "Tokyo", "ap-northeast-2": "Seoul",
    "ap-northeast-3": "Osaka", "ca-central-1": "Canada", "ca-west-1": "Calgary", "eu-central-1": "Frankfurt",
    "eu-central-2": "Zurich", "eu-west-1": "Ireland", "eu-west-2": "London", "eu-west-3": "Paris",
    "eu-south-1": "Milan", "eu-south-2": "Spain", "eu-north-1": "Stockholm", "il-central-1": "Tel Aviv",
    "me-south-1": "Bahrain", "me-central-1": "UAE", "sa-east-1": "Sao Paulo",
}

# Places on AWS (folded spelling). Places GCP also knows are listed too, so a place said with
# "on aws" never lands in a GCP region.
AWS_PLACES: dict[str, str] = {
    "virginia": "us-east-1", "northern virginia": "us-east-1", "n virginia": "us-east-1",
    "ashburn": "us-east-1", "usa": "us-east-1", "united states": "us-east-1", "america": "us-east-1",
    "north america": "us-east-1", "ohio": "us-east-2", "columbus": "us-east-2",
    "california": "us-west-1", "northern california": "us-west-1", "oregon": "us-west-2",
    "cape town": "af-south-1", "south africa": "af-south-1", "africa": "af-south-1",
    "hong kong": "ap-east-1", "mumbai": "ap-south-1", "india": "ap-south-1", "hyderabad": "ap-south-2",
    "singapore": "ap-southeast-1", "southeast asia": "ap-southeast-1", "sydney": "ap-southeast-2",
    "australia": "ap-southeast-2", "jakarta": "ap-southeast-3", "indonesia": "ap-southeast-3",
    "melbourne": "ap-southeast-4", "tokyo": "ap-northeast-1", "japan": "ap-northeast-1",
    "asia": "ap-northeast-1", "seoul": "ap-northeast-2", "korea": "ap-northeast-2", "osaka": "ap-northeast-3",
    "canada": "ca-central-1", "montreal": "ca-central-1", "calgary": "ca-west-1",
    "frankfurt": "eu-central-1", "germany": "eu-central-1", "berlin": "eu-central-1",
    "zurich": "eu-central-2", "switzerland": "eu-central-2",
    "ireland": "eu-west-1", "dublin": "eu-west-1", "europe": "eu-west-1", "eu": "eu-west-1",
    "the eu": "eu-west-1", "london": "eu-west-2", "uk": "eu-west-2", "england": "eu-west-2",
    "britain": "eu-west-2", "united kingdom": "eu-west-2", "paris": "eu-west-3", "france": "eu-west-3",
    "milan": "eu-south-1", "italy": "eu-south-1", "spain": "eu-south-2", "madrid": "eu-south-2",
    "stockholm": "eu-north-1", "sweden": "eu-north-1", "tel aviv": "il-central-1", "israel": "il-central-1",
    "bahrain": "me-south-1", "uae": "me-central-1", "dubai": "me-central-1",
    "sao paulo": "sa-east-1", "brazil": "sa-east-1", "south america": "sa-east-1",
}

# The nearest AWS region to each GCP region, for a request that moves from one cloud to the other.
_GCP_TO_AWS: dict[str, str] = {
    "us-central1": "us-east-2", "us-east1": "us-east-1", "us-east4": "us-east-1", "us-east5": "us-east-2",
    "us-south1": "us-east-2", "us-west1": "us-west-2", "us-west2": "us-west-1", "us-west3": "us-west-2",
    "us-west4": "us-west-1", "europe-west1": "eu-west-1", "europe-west2": "eu-west-2",
    "europe-west3": "eu-central-1", "europe-west4": "eu-central-1", "europe-west6": "eu-central-2",
    "europe-west8": "eu-south-1", "europe-west9": "eu-west-3", "europe-west10": "eu-central-1",
    "europe-west12": "eu-south-1", "europe-north1": "eu-north-1", "europe-north2": "eu-north-1",
    "europe-central2": "eu-central-1", "europe-southwest1": "eu-south-2", "asia-northeast1": "ap-northeast-1",
    "asia-northeast2": "ap-northeast-3", "asia-northeast3": "ap-northeast-2", "asia-east1": "ap-east-1",
    "asia-east2": "ap-east-1", "asia-south1": "ap-south-1", "asia-south2": "ap-south-1",
    "asia-southeast1": "ap-southeast-1", "asia-southeast2": "ap-southeast-3",
    "australia-southeast1": "ap-southeast-2", "australia-southeast2": "ap-southeast-4",
    "africa-south1": "af-south-1", "me-west1": "il-central-1", "me-central1": "me-central-1",
    "me-central2": "me-central-1", "northamerica-northeast1": "ca-central-1",
    "northamerica-northeast2": "ca-central-1", "northamerica-south1": "us-east-2",
    "southamerica-east1": "sa-east-1", "southamerica-west1": "sa-east-1",
}
_AWS_TO_GCP: dict[str, str] = {
    "us-east-1": "us-east4", "us-east-2": "us-east5", "us-west-1": "us-west2", "us-west-2": "us-west1",
    "af-south-1": "africa-south1", "ap-east-1": "asia-east2", "ap-south-1": "asia-south1",
    "ap-south-2": "asia-south1", "ap-southeast-1": "asia-southeast1", "ap-southeast-2": "australia-southeast1",
    "ap-southeast-3": "asia-southeast2", "ap-southeast-4": "australia-southeast2",
    "ap-northeast-1": "asia-northeast1", "ap-northeast-2": "asia-northeast3", "ap-northeast-3": "asia-northeast2",
    "ca-central-1": "northamerica-northeast1", "ca-west-1": "northamerica-northeast1",
    "eu-central-1": "europe-west3", "eu-central-2": "europe-west6", "eu-west-1": "europe-west1",
    "eu-west-2": "europe-west2", "eu-west-3": "europe-west9", "eu-south-1": "europe-west8",
    "eu-south-2": "europe-southwest1", "eu-north-1": "europe-north2", "il-central-1": "me-west1",
    "me-south-1": "me-central1", "me-central-1": "me-central1", "sa-east-1": "southamerica-east1",
}


class Hit(NamedTuple):
    value: str
    start: int
    end: int


def _bounded(body: str) -> str:
    return rf"(?<![\w-])(?:{body})(?![\w-])"


def _words(phrase: str) -> str:
    return r"\s+".join(re.escape(w) for w in phrase.split())


_CLOUD_WORDS: dict[str, str] = {
    "aws": "aws", "amazon": "aws", "amazon web services": "aws", "amazon cloud": "aws",
    "gcp": "gcp", "google cloud": "gcp", "google cloud platform": "gcp",
}
_CLOUD = re.compile(_bounded("|".join(_words(w) for w in sorted(_CLOUD_WORDS, key=len, reverse=True))))
_AWS_REGION = re.compile(_bounded("|".join(sorted(AWS_REGIONS, key=len, reverse=True))))
_AWS_PLACE = re.compile(_bounded("|".join(_words(p) for p in sorted(AWS_PLACES, key=len, reverse=True))))
# Places only AWS has a region in: said without a cloud, they still resolve (to AWS's region there).
_AWS_ONLY_PLACES = frozenset(p for p in AWS_PLACES if p not in REGION_ALIASES)
# The cloud or place being left: "from aws", "instead of aws", "rather than gcp", "not on aws".
_FROM_BEFORE = re.compile(r"\b(?:from|instead\s+of|rather\s+than|not)\s+(?:the\s+)?(?:on\s+|in\s+)?$")
# `shop-staging-aws`: how AWS stacks are named (InfraSpec.stack_name).
_AWS_STACK = re.compile(r"(?<![\w-])([a-z][a-z0-9]*(?:-[a-z0-9]+)*?)-(dev|staging|prod)-aws(?![\w-])")


def _last(hits: list[Hit], text: str) -> Hit | None:
    """The value being moved to: the last one said, ignoring ones introduced by 'from'."""
    chosen = [h for h in hits if not _FROM_BEFORE.search(text[max(0, h.start - 24):h.start])]
    return max(chosen or hits, key=lambda h: h.start) if hits else None


def find_cloud(text: str) -> Hit | None:
    hits = [Hit(_CLOUD_WORDS[" ".join(m.group(0).split())], m.start(), m.end()) for m in _CLOUD.finditer(text)]
    return _last(hits, text)


class CloudChoice(NamedTuple):
    cloud: str | None
    region: str | None  # an AWS region, when one was said or a place was resolved for AWS


def find_choice(text: str) -> CloudChoice:
    """The cloud said (or implied by an AWS region id) and the AWS region said, if any."""
    said = find_cloud(text)
    region_hits = [Hit(m.group(0), m.start(), m.end()) for m in _AWS_REGION.finditer(text)]
    taken = [(h.start, h.end) for h in region_hits]
    for m in _AWS_PLACE.finditer(text):
        place = " ".join(m.group(0).split())
        if any(s <= m.start() < e for s, e in taken):
            continue
        if (said and said.value == "aws") or place in _AWS_ONLY_PLACES:
            region_hits.append(Hit(AWS_PLACES[place], m.start(), m.end()))
    region = _last(region_hits, text)
    said_id = any(text[h.start:h.end] == h.value for h in region_hits)
    cloud = said.value if said else ("aws" if said_id else None)
    if cloud == "gcp" and region is not None and text[region.start:region.end] != region.value:
        region = None  # a place said "on gcp" is read by the GCP vocabulary
    return CloudChoice(cloud, region.value if region else None)


def find_aws_stack(text: str) -> tuple[str, str, str] | None:
    """(stack, app, environment) for a stack named like `shop-staging-aws`."""
    m = _AWS_STACK.search(text)
    return (m.group(0), m.group(1), m.group(2)) if m else None


def region_for(cloud: str, region: str | None) -> str:
    """`region` on `cloud`: kept when it is that cloud's, moved to the nearest one when it is the other's."""
    if not region:
        return DEFAULT_REGIONS[cloud]
    if cloud == "aws":
        return region if region in AWS_REGIONS else _GCP_TO_AWS.get(region, DEFAULT_REGIONS["aws"])
    return region if region in GCP_REGIONS else _AWS_TO_GCP.get(region, DEFAULT_REGIONS["gcp"])


def cloud_label(cloud: str) -> str:
    return {"gcp": "GCP", "aws": "AWS"}.get(cloud, cloud)


_EXAMPLES: dict[str, tuple[str, str, str, str]] = {
    "gcp": ("europe-west1", "us-central1", "frankfurt", "tokyo"),
    "aws": ("eu-west-1", "us-east-1", "ireland", "tokyo"),
}
# `eu-west-9` is shaped like an AWS region id (a hyphen before the number), `europe-west9` like a GCP one.
_AWS_SHAPED = re.compile(r"^[a-z]+(?:-[a-z]+)+-\d+$")


def shaped_like(region: str) -> str:
    """The cloud whose region ids look like `region`."""
    return "aws" if _AWS_SHAPED.match(region) else "gcp"


def unknown_region_text(region: str, cloud: str) -> Inline:
    """What to say about a region id `cloud` does not have, with that cloud's own examples."""
    first, second, place, other = _EXAMPLES.get(cloud, _EXAMPLES["gcp"])
    return spans("I don't know the region ", Code(region), f": {cloud_label(cloud)} regions look like ",
                 Code(first), " or ", Code(second), ", or name a place such as ", Code(place), " or ", Code(other),
                 ".")
