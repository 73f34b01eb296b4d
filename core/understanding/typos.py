"""Conservative spelling repair for the parser's own vocabulary.

Only words of five letters or more are repaired, only towards a fixed list of words the parser acts on,
only when the first letter matches and the edit distance (with transpositions) is one - two for long
words. Common English words that sit one edit away from a target ("state" vs "stage") are left alone,
and so are tokens holding digits or hyphens, which are usually names.
"""

from __future__ import annotations

from functools import lru_cache

TARGETS: frozenset[str] = frozenset({
    # components
    "postgres", "postgresql", "database", "databases", "bucket", "buckets", "redis", "mysql", "mariadb",
    "pubsub", "queue", "queues", "topic", "topics", "secret", "secrets", "registry", "registries",
    "service", "services", "container", "containers", "backend", "frontend", "website", "memorystore",
    "storage", "cache", "artifact", "docker", "server", "worker", "template", "static",
    # environments, sizes, places
    "staging", "production", "development", "medium", "large", "small", "region", "europe",
    "frankfurt", "london", "tokyo", "belgium", "singapore", "sydney", "oregon", "virginia", "netherlands",
    "mumbai", "zurich", "montreal", "paulo", "taiwan", "carolina", "iowa",
    # verbs and intent words
    # No word that destroys or approves is a target here: see correct_command for those.
    "create", "deploy", "cancel", "status",
    "preview", "outputs", "output", "history", "provision", "build", "setup", "abort",
    "connection", "endpoint", "please", "never", "nevermind", "progress",
    "finished", "without", "instead", "application", "infrastructure", "deployment", "deployments",
})

# Real words one edit away from a target; correcting them would change what the user said.
_LEAVE_ALONE: frozenset[str] = frozenset({
    "state", "states", "store", "stored", "stores", "stage", "stages", "stack", "stacks", "start",
    "stall", "smell", "small", "spell", "shall", "still", "stuff", "sales", "scale", "sauce", "score",
    "cached", "caches", "caching", "queen", "quote", "quite", "built", "builds",
    "builder", "deploys", "deployed", "deletes", "deleted", "removed", "removes", "servers", "served",
    "serves", "secrets", "secure", "backends", "frontends", "websites", "worked", "workers", "works",
    "regions", "regional", "outputs", "output", "please", "pleased", "applied", "applies", "apply",
    "cancelled", "canceled", "created", "creates", "creative", "approves", "statuses", "status",
    "larger", "largely", "lager", "media", "median", "medical", "release", "related", "relay",
    "brazil", "borrow", "taiwan", "europa", "reddit", "radius", "redid", "abort", "about", "above",
    "dealer", "delay", "detail", "dentist", "entry", "tokens", "token", "statue", "statute", "steps",
    "setups", "setup", "secret", "service", "staging", "static", "statics", "storage", "postgres",
    "preview", "previews", "progress", "private", "provide", "provider", "province", "history",
    "whatever", "without", "within", "instead", "never", "newer", "fewer", "sever",
    "docker", "dockers", "worker", "server", "serve", "clone", "close", "closer", "cancer", "candle",
    "anchor", "connect", "collection", "correction", "connections", "endpoints", "develop", "developer",
    "developers", "product", "products", "producer", "productive", "productivity",
    "mobile", "module", "models", "model", "simple", "single", "mysql", "redis", "remote", "remotes",
})

_MIN_LENGTH = 5


def _distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance, giving up early once it exceeds `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


@lru_cache(maxsize=4096)
def correct_word(word: str) -> str:
    """The vocabulary word `word` was probably meant to be, or `word` itself."""
    if (len(word) < _MIN_LENGTH or word in TARGETS or word in _LEAVE_ALONE
            or not word.isalpha() or not word.isascii()):
        return word
    limit = 2 if len(word) >= 9 else 1
    best, best_distance = word, limit + 1
    for target in sorted(TARGETS):
        if target[0] != word[0] or len(target) < _MIN_LENGTH:
            continue
        d = _distance(word, target, limit)
        if d < best_distance:
            best, best_distance = target, d
    return best


def correct_tokens(tokens: list[str]) -> list[str]:
    return [correct_word(t) for t in tokens]


# Said as the whole message, a command word one edit away is that command ("lsit", "hepl", "aply").
COMMANDS: tuple[str, ...] = ("list", "help", "status", "cancel", "history", "plan", "outputs", "preview",
                             "create", "apply", "approve", "destroy")
# Real words one edit from a command: said alone they mean themselves.
_NOT_COMMANDS = frozenset({"apple", "amply", "plain", "plant", "plat", "lost", "last", "lust", "mist", "fist",
                           "hell", "helm", "hemp", "held", "yelp", "kelp", "clan", "plane", "plans", "lists"})


def correct_command(word: str) -> str:
    """The command `word` mistypes, when it is the whole message.

    Only at distance one, and only towards a single command: a typo must never reach `apply` or `destroy`
    by a longer way, or by a word that happens to sit between two commands.
    """
    if word in COMMANDS or word in _NOT_COMMANDS or len(word) < 4 or not word.isalpha():
        return word
    near = [c for c in COMMANDS if _distance(word, c, 1) == 1]
    return near[0] if len(near) == 1 else word
