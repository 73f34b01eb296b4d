"""Deciding what a message asks for, once its components and attributes are known.

The rules run in a fixed order and the first that fits wins. Anything that changes the request
(components, removals, app, environment, region, size) makes a message `create` unless a stronger
reading applies (destroy, outputs, list, history): "deploy to prod" while a staging plan is pending is a
change to re-plan, never an approval of the old plan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.understanding.approval import Verdict, conditional, verdict


@dataclass(frozen=True)
class Intent:
    name: str
    affirm: bool = False
    deny: bool = False
    unclear_approval: bool = False  # approval words, but no clear go-ahead (see approval.py)


def _rx(body: str) -> re.Pattern[str]:
    return re.compile(body)


_PUNCT = re.compile(r"\s*[,.;:!?]\s*")
_POLITE = re.compile(r"\b(?:please|pls|plz|kindly|then|now|just|thanks|thank\s+you|thx)\b")

_GREETING_ONLY = _rx(r"^(?:(?:hi|hello|hey|heya|hiya|yo|howdy|greetings|good\s+(?:morning|afternoon|evening)"
                     r"|gm|sup|whats\s+up)\s*)+(?:there|all|team|folks|everyone|bot|again)?$")
_THANKS_ONLY = _rx(r"^(?:(?:thanks?|thank\s+you|thx|ty|cheers|much\s+appreciated|appreciate\s+it|great|"
                   r"awesome|nice|cool|perfect|good\s+bot|brilliant)\s*)+(?:so\s+much|a\s+lot|very\s+much)?$")
_CONSENT_WORDS = frozenset("""
yes y yeah yea yep yup ya ok okay k kk sure confirm confirmed approve approved lgtm go ahead do it lets
sounds looks good to me proceed for absolutely definitely alright fine agreed ship please
""".split())
# At least one of these must be present: "it" or "for" alone agree to nothing.
_CONSENT_CORE = frozenset("""
yes y yeah yea yep yup ya ok okay k kk sure confirm confirmed approve approved lgtm go proceed absolutely
definitely alright agreed ship sounds looks
""".split())
_DENY_START = _rx(r"^(?:no|nope|nah|negative|n)(?:$|\s*[,.!]|\s+(?:thanks|thank\s+you|way))|^not\s+now\b")

_CANCEL = _rx(r"\b(?:cancel|abort|never\s*mind|nvm|forget\s+(?:it|about\s+it|that|this|everything)|"
              r"scra(?:p|tch)\s+(?:that|it|this|everything)|stop|halt|call\s+it\s+off|"
              r"dont\s+(?:bother|do\s+it|deploy|apply))\b")
_DESTROY_STRONG = _rx(r"\b(?:destroy|tear\s*down|teardown|decommission|nuke|wipe(?:\s+out)?|take\s+down|"
                      r"shut\s+down|deprovision)\b")
_DESTROY_WEAK = _rx(r"\b(?:delete|remove|kill|get\s+rid\s+of|trash)\b")
_DESTROY_OBJECT = _rx(r"\b(?:stacks?|everything|all\s+of\s+it|environment|env|infra(?:structure)?|app|"
                      r"application|resources|whole\s+thing|it|xappx)\b")
_LIST = _rx(r"^list\b|\blist\s+(?:(?:all|my|our|the|every|of|me|them|what)\s+)*(?:stacks|apps|applications|"
            r"environments|envs|projects|resources|infra\w*|deployments|everything|things|services|databases|"
            r"buckets|requests|xappx)\b|\blist$|\bls\b|\b(?:what|which)\s+(?:stacks|apps|applications|environments|envs|projects)\b"
            r"|(?:show|see|view)\s+(?:me\s+)?(?:all\s+)?(?:of\s+)?(?:my|our|the)?\s*"
            r"(?:stacks|apps|applications|environments)\b|\b(?:my|our|all)\s+(?:stacks|apps)\b"
            r"|what\s+(?:have|do)\s+(?:we|i)\s+(?:got\s+)?(?:running|deployed|live)"
            r"|whats\s+(?:running|deployed|live)|what\s+is\s+(?:running|deployed|live)")
_HISTORY = _rx(r"\bhistory\b|\baudit\b|\bchangelog\b|\bactivity\b"
               r"|(?:past|previous|recent|earlier|last|old)\s+(?:deploy(?:ment)?s|changes|requests|runs)"
               r"|what\s+did\s+(?:we|i|you|they)\s+(?:deploy|create|change|build|do)"
               r"|who\s+(?:changed|deployed|created|destroyed|approved|touched|modified)"
               r"|what\s+happened|deploy(?:ment)?\s+log")
_OUTPUTS = _rx(r"\burls?\b|\bendpoints?\b|\boutputs?\b|\bconnection(?:\s+(?:name|string|info|details)s?)?\b"
               r"|\bhost(?:name)?s?\b|\bip(?:\s+address)?\b|\baddress\b|\blinks?\b|\bdsn\b"
               r"|where\s+(?:can|do|should)\s+i\s+(?:reach|find|access|see|connect|point)"
               r"|how\s+(?:do|can)\s+i\s+(?:reach|access|connect)|\bbucket\s+names?"
               r"|name\s+of\s+the\s+(?:bucket|database|db|topic|queue|service|instance)")
_STATUS = _rx(r"\bstatus\b|\bprogress\b|(?:whats|what\s+is)\s+the\s+state\b"
              r"|how(?:s|\s+is|\s+are)\s+(?:it|things|that|this|we|the\s+\w+)\s+(?:going|doing|looking)"
              r"|(?:is|are)\s+(?:it|that|this|we|everything|the\s+\w+)\s+"
              r"(?:done|finished|ready|deployed|up|live|complete|working|over)"
              r"|(?:done|finished|ready|there)\s+yet|still\s+(?:running|going|working|deploying|applying)"
              r"|what\s*(?:s|is)\s+happening|whats\s+going\s+on|any\s+(?:news|updates?|progress)"
              r"|\beta\b|where\s+are\s+we|did\s+it\s+(?:work|finish|succeed|fail)|how\s+long")
_PLAN = _rx(r"\bplan\b|\bpreview\b|\bdry\s*-?\s*run\b|\bdiff\b"
            r"|what(?:\s+would|\s+will|\s+does|s\s+going\s+to|\s+is\s+going\s+to)\s+(?:it|this|that|you)?\s*"
            r"(?:change|create|do|build|make|cost|look\s+like)"
            r"|show\s+(?:me\s+)?(?:the\s+)?changes|re\s*-?\s*plan|\bre\s*-?\s*run\b")
_APPLY = _rx(r"\b(?:apply|(?<!the )deploy|ship|go\s+ahead|lgtm|approved?|proceed|do\s+it|make\s+it\s+so|"
             r"go\s+for\s+it|"
             r"confirm(?:ed)?|execute|run\s+it|build\s+it|launch\s+it|green\s*light|send\s+it|good\s+to\s+go|"
             r"looks\s+good|sounds\s+good|yes|yeah|yep|yup|ok|okay|sure|go)\b")
_HELP = _rx(r"\bhelp\b|what\s+can\s+(?:you|i|it|this(?:\s+bot)?|the\s+bot)\s+(?:do|ask|say)"
            r"|how\s+(?:does|do)\s+(?:this|it|you)\s+work"
            r"|\bcommands?\b|\busage\b|what\s+do\s+you\s+do|how\s+do\s+i\s+(?:use|start)"
            r"|(?:what|which)\s+(?:regions|components|sizes|templates|environments|kinds|options)\b"
            r"|who\s+are\s+you|what\s+are\s+you|\binstructions\b|\bguide\b|what\s+is\s+this|getting\s+started"
            r"|how\s+to\s+use")
# Said to a pending plan, these approve it even when the plan is mentioned ("approve the plan").
_APPROVE = _rx(r"\b(?:approve|approved|lgtm|go\s+ahead|ship\s+it|apply|confirm)\b")
# What makes a message with components a request to the bot rather than talk about things.
_ASKING_BOT = _rx(r"\b(?:please|pls|plz|kindly|can\s+(?:you|we|i)|could\s+(?:you|we|i)|would\s+you|"
                  r"id\s+like|i\s+would\s+like|lets|give\s+me|set\s*up|setup|spin|provision|create|add|"
                  r"make|build|need|needs|want|wants|get(?!\s+(?:created|built|deployed|made))|deploy|launch|bootstrap|allocate|also|instead|"
                  r"use|switch|change|move|drop|remove|delete|without|swap|replace|prefer)\b")
# Talk about things: opinions, reports, comparisons, asides.
_TALK = _rx(r"\b(?:vs|versus|better|thoughts|anyone|anybody|lol|lmao|tbh|imo|fyi|keeps?|kept|used\s+to|was|"
            r"were|wonder|weird|annoying|broken|crash\w*|failing|fails|failed|slow|timing\s+out|outage|"
            r"interesting|underrated|overrated|wild|again|yesterday|last\s+(?:week|night|month))\b")
_STATE_QUESTION = _rx(
    r"^(?:is|are|has|have|did|does)\s+(?:(?:the|my|our|it|that|this|all|every)\s+)?(?:\w+\s+){0,3}?"
    r"(?:(?:been\s+)?(?:ready|up|done|finished|created|built|deployed|live|running|working|there|complete)"
    r"|get\s+(?:created|built|deployed|made))\b"
    r"|how\s+far\s+along|how(?:s|\s+is)\s+(?:the\s+)?(?:deploy\w*|apply|rollout|build)")
_LIST_QUESTION = _rx(r"^(?:which|what)\s+(?:\w+\s+)?(?:databases|dbs|buckets|queues|topics|services|"
                     r"caches|secrets|registries|stacks|apps|projects|environments)\s+(?:do|have|did|are)\b")
_QUESTION_START = _rx(r"^(?:what|whats|who|whos|where|wheres|when|why|how|hows|is|are|can|could|do|does)\b")
_CHANGE_VERB = _rx(r"\b(?:make|use|switch|move|change|put|set|go\s+with|run|host|deploy|want|need|prefer)\b"
                   r"|^(?:what|how)\s+about\b")
_CREATE_VERB = _rx(r"\b(?:create|make|build|set\s*up|setup|spin\s+up|spin|provision|stand\s+up|need|want|"
                   r"add|deploy|launch|start|get|give\s+me|id\s+like|would\s+like|new|put|bootstrap|"
                   r"prepare|allocate)\b")
_INFRA_NOUN = _rx(r"\b(?:infra(?:structure)?|stacks?|environments?|envs?|resources|project|cloud|setup|"
                  r"something|app|application|xappx)\b")
_BARE_CREATE = _rx(r"^(?:create|new|build|provision|setup|set\s+up)$")


def thanks_only(text: str) -> bool:
    """"thanks!", "cheers", "awesome, thank you": nothing to do but to be answered kindly."""
    bare = " ".join(_PUNCT.sub(" ", text).split())
    return bool(bare) and _THANKS_ONLY.match(bare) is not None


@dataclass(frozen=True)
class Signals:
    """What the other matchers found, as far as intent rules need to know."""

    component_changes: bool  # components added or removed, or a template named
    attribute_changes: bool  # environment, region, size or an explicitly given app name
    guessed_app: bool = False  # an app name inferred from "for shop" and the like
    named_stack: bool = False  # a stack name such as "shop-staging" is in the message
    explicit_app: bool = False  # "app shop", "called shop", `shop`
    leading_component: bool = False  # the message opens with a component ("a redis for cart please")
    removal_or_template: bool = False  # "no redis", "skip the secret", "the api one"

    @property
    def changes(self) -> bool:
        return self.component_changes or self.attribute_changes


def _requested(core: str, question: bool, signals: Signals) -> bool:
    """Components were named: is the message asking the bot for them, or talking about them?

    Asking: a request verb or politeness ("can you", "we need", "please"), or an app given outright.
    Telegraphic requests ("a redis for cart", "postgres for shop") count too, unless the message is a
    question or reads as talk ("postgres vs mysql, thoughts?", "my redis client keeps timing out").
    """
    if _ASKING_BOT.search(core) or signals.explicit_app or signals.removal_or_template:
        return True
    if question or _TALK.search(core):
        return False
    return signals.leading_component or signals.guessed_app or signals.attribute_changes


def classify(text: str, signals: Signals) -> Intent:
    """`text` is folded and spell-corrected, with the app name replaced by `xappx`."""
    if _QUESTION_START.match(text) and not signals.component_changes and not _CHANGE_VERB.search(text):
        # "what's the weather in tokyo" mentions a region but asks for nothing.
        signals = Signals(False, False, named_stack=signals.named_stack)
    elif signals.guessed_app and not signals.changes:
        # "for shop" on its own answers "which app?"; "what's for lunch" is no request at all.
        signals = Signals(signals.component_changes, True, named_stack=signals.named_stack)
    bare = _PUNCT.sub(" ", text).strip()
    bare = " ".join(bare.split())
    core = " ".join(_POLITE.sub(" ", bare).split())
    tokens = core.split()

    consent = (bool(tokens) and all(t in _CONSENT_WORDS for t in tokens)
               and any(t in _CONSENT_CORE for t in tokens))
    deny = bool(_DENY_START.search(text)) and not signals.component_changes
    approval = verdict(text)

    if not bare:
        return Intent("help")
    if _GREETING_ONLY.match(bare):
        return Intent("help")
    if _THANKS_ONLY.match(bare) and not signals.changes:
        return Intent("unknown")
    if approval is Verdict.UNCLEAR and conditional(tokens):
        # "go ahead unless it touches prod" names prod as a condition, not as a change to make.
        return Intent("unknown", unclear_approval=True)
    if deny and not signals.changes:
        return Intent("cancel", deny=True)
    if approval is Verdict.APPROVE and not signals.changes:
        return Intent("apply", affirm=True)
    if _CANCEL.search(core) and not signals.component_changes:
        return Intent("cancel", deny=deny)
    weak_destroy = bool(_DESTROY_WEAK.search(core)) and (bool(_DESTROY_OBJECT.search(core)) or signals.named_stack)
    if not signals.component_changes and (_DESTROY_STRONG.search(core) or weak_destroy):
        return Intent("destroy")
    creating = signals.component_changes and bool(_CREATE_VERB.search(core))
    question = bool(_QUESTION_START.match(core)) or text.endswith("?")
    if question and not _ASKING_BOT.search(core):
        if _STATE_QUESTION.search(core):
            return Intent("status")
        if _LIST_QUESTION.search(core):
            return Intent("list")
    if _LIST.search(core) and not signals.component_changes:
        return Intent("list")
    if _HISTORY.search(core) and not creating:
        return Intent("history")
    if _OUTPUTS.search(core) and not creating:
        return Intent("outputs")
    if signals.component_changes and not _requested(core, question, signals):
        return Intent("unknown")
    if not signals.changes:
        if _STATUS.search(core):
            return Intent("status")
        if _APPROVE.search(core):
            return Intent("unknown", unclear_approval=True)
        if _PLAN.search(core):
            return Intent("plan")
        if _APPLY.search(core) or approval is Verdict.UNCLEAR:
            return Intent("unknown", unclear_approval=True)
        if _HELP.search(core):
            return Intent("help")
    if signals.changes or _BARE_CREATE.match(core) or (
            _CREATE_VERB.search(core) and _INFRA_NOUN.search(core)):
        return Intent("create", affirm=consent)
    return Intent("unknown", unclear_approval=approval is Verdict.UNCLEAR)
