"""Telling a clear go-ahead from talk that merely contains approval words.

An approval starts an apply with the only cloud credentials there are, so it is read as a closed
grammar, not by keywords: the whole message must be made of go-ahead phrases ("apply", "lgtm ship it",
"yes, go ahead") and harmless fillers ("please", "thanks", "now", "the plan"). Any other word, such as
a question mark, a "not", an "if", a "later", or a third person ("the manager said go ahead"), makes
the message something other than an approval. When it still carries approval words it is reported as
`unclear`, so the caller can ask for a plain `apply` and change nothing.

Works on folded text (see normalize.fold): lowercase tokens, clause punctuation as its own token.
"""

from __future__ import annotations

import itertools
from enum import Enum


class Verdict(Enum):
    APPROVE = "approve"  # a clear go-ahead, and nothing else
    UNCLEAR = "unclear"  # approval words inside something else: a question, hedge, deferral, report
    NONE = "none"  # no approval words at all


# Phrases that say "go ahead" on their own. Longest are tried first, so "go ahead" beats "go".
_GO_AHEAD = """
apply | apply it | apply that | apply this | apply the plan | apply the changes | apply them | apply all
approve | approved | approve it | approve that | approve this | approve the plan | i approve
lgtm | ship it | shipit | ship | deploy | deploy it | deploy that | deploy this | deploy the plan
go | go ahead | go for it | go on | do it | lets do it | lets go | lets ship it | lets apply | lets deploy
lets do this | lets apply it | lets deploy it | just do it | make it so | send it | run it | build it
launch it | execute | execute it | proceed | please proceed | confirm | confirmed | i confirm
yes | y | yeah | yea | yep | yup | ya | ok | okay | k | kk | sure | absolutely | definitely | agreed
alright | all right | fine | yes please | sounds good | looks good | looks good to me | good to go
green light | greenlight | you may proceed | you can proceed | go ahead and apply | go ahead and deploy
go ahead and build it | go ahead and ship it | ship it please | yes do it | for sure | sounds good to me
""".replace("\n", "|").split("|")
# Words that may surround a go-ahead without changing it. Nothing here can defer, condition or negate.
_FILLER = """
please | pls | plz | thanks | thank you | thx | ty | cheers | great | awesome | nice | cool | perfect
excellent | good | now | right now | then | and | the plan | it | this | that | bot | hey | hi
for real | lets | right away | asap | straight away | to me
""".replace("\n", "|").split("|")
_PUNCTUATION = frozenset({",", ".", "!", ";", ":"})

# Any of these in a message means it is about approving, even though it did not approve.
_APPROVAL_WORDS = frozenset("""
apply applying applied approve approved approval approving lgtm ship shipit shipping deploy deploying
proceed proceeding confirm confirmed go ahead execute launch greenlight green yes yeah yep yup ok okay
sure
""".split())


# Words that make what follows or precedes them a condition ("go ahead unless it touches prod").
_CONDITIONS = frozenset({"if", "unless", "provided", "assuming", "once", "whenever"})
_CONDITION_PAIRS = frozenset({("as", "long"), ("only", "when"), ("only", "after")})
# Approval words that, next to a condition, make the whole message a conditional approval.
_CONDITIONED = frozenset({"apply", "approve", "lgtm", "ship", "shipit", "go", "yes", "ok", "okay", "proceed"})


def conditional(tokens: list[str]) -> bool:
    """A condition and an approval word in one message: token sets, so any length costs one pass."""
    words = set(tokens)
    if not words & _CONDITIONED:
        return False
    return bool(words & _CONDITIONS) or any(pair in _CONDITION_PAIRS for pair in itertools.pairwise(tokens))


def _phrases(items: list[str]) -> dict[int, frozenset[tuple[str, ...]]]:
    by_length: dict[int, set[tuple[str, ...]]] = {}
    for item in items:
        words = tuple(item.split())
        if words:
            by_length.setdefault(len(words), set()).add(words)
    return {n: frozenset(p) for n, p in sorted(by_length.items(), reverse=True)}


_GO_PHRASES = _phrases(_GO_AHEAD)
_FILLER_PHRASES = _phrases(_FILLER)
# A message longer than this is never a bare go-ahead; the scan stays cheap on any input.
_MAX_TOKENS = 16


def _match(tokens: list[str], at: int, table: dict[int, frozenset[tuple[str, ...]]]) -> int:
    for n, phrases in table.items():
        if tuple(tokens[at:at + n]) in phrases:
            return n
    return 0


def is_clear_go_ahead(tokens: list[str]) -> bool:
    """Every token is part of a go-ahead phrase, a filler or clause punctuation, with one go-ahead."""
    if not tokens or len(tokens) > _MAX_TOKENS:
        return False
    at, said = 0, False
    while at < len(tokens):
        if tokens[at] in _PUNCTUATION:
            at += 1
            continue
        go, fill = _match(tokens, at, _GO_PHRASES), _match(tokens, at, _FILLER_PHRASES)
        if go == 0 and fill == 0:
            return False
        said = said or go >= fill
        at += max(go, fill)
    return said


def verdict(folded: str) -> Verdict:
    tokens = folded.split()
    if is_clear_go_ahead(tokens):
        return Verdict.APPROVE
    if any(t in _APPROVAL_WORDS for t in tokens):
        return Verdict.UNCLEAR
    return Verdict.NONE
