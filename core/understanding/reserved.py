"""Words that can't be an app name because they already mean something to the parser."""

from __future__ import annotations

from core.understanding.components import is_component_phrase
from core.understanding.typos import correct_word
from core.understanding.vocab import ENVIRONMENT_WORDS, GCP_REGIONS, REGION_ALIASES, SIZE_WORDS

_FUNCTION_WORDS = """
a an the my our your their his her its it this that these those me us we you them i everything all
anything something nothing some any each every both one two three four five six seven eight nine ten
few couple pair several another new now later today tomorrow please pls plz thanks thank real free fun
with without for and or but in on at to into from of by as is are be was were will would should could can
may might do does did not no yes ok okay sure what which who where when why how there here then than so
too also just only really very more less most least same other next last first whole entire
""".split()

_COMMAND_WORDS = """
create make build deploy launch ship release set setup spin provision add remove delete drop destroy use
switch move change rename need want get give put run start stop cancel apply approve plan preview status
list show history help outputs output region zone size env environment environments app apps application
applications project projects stack stacks infra infrastructure resources resource cloud gcp google
team company customers users user testing test tests live template templates option web
needs uses wants requires
""".split()

# "a bucket for uploads" says what the bucket holds, not which app it belongs to.
_PURPOSE_WORDS = """
uploads upload images image photos photo videos video media assets asset backups backup logs logging
files file documents static caching sessions session jobs tasks events messages notifications emails
email data metrics reports exports imports artifacts builds secrets keys credentials storage background
async processing state queueing streaming persistence hosting traffic production development staging
""".split()

_ALWAYS: frozenset[str] = frozenset(_FUNCTION_WORDS + _COMMAND_WORDS + ["xappx"])
RESERVED: frozenset[str] = _ALWAYS | frozenset(
    _PURPOSE_WORDS + list(ENVIRONMENT_WORDS) + list(SIZE_WORDS) + list(GCP_REGIONS) + list(REGION_ALIASES))


def is_reserved(word: str, explicit: bool = False) -> bool:
    """Whether `word` can't be an app name. Said explicitly ("app photos", "called media"), only
    grammar, commands and component words are refused; guesses ("for photos") refuse far more."""
    word = word.lower().strip()
    if explicit:  # the user's spelling is the name: "called Reddis" is an app, not a typo for redis
        return word in _ALWAYS or is_component_phrase(word)
    return any(w in RESERVED or is_component_phrase(w) for w in {word, correct_word(word)})


def only_a_component(word: str) -> bool:
    """Whether `word` is reserved just for naming a component ("postgres", "queue"), so that said where a
    name goes it is the name."""
    word = word.lower().strip()
    return word not in _ALWAYS and is_component_phrase(word)
