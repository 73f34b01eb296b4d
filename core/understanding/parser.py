"""The deterministic planner: one chat message in, one `Parsed` out. Pure Python, no I/O.

Pipeline: remove chat markup -> find the app name on the text as typed (so names are judged exactly and
never spell-corrected) and hide it -> fold and spell-correct the rest -> find components, region,
environment, size and stack names -> classify the intent -> fill `missing` for create requests.
See components.py for how component words are counted and when a template is meant.
"""

from __future__ import annotations

from core.understanding.clouds import find_aws_stack, find_choice, shaped_like, unknown_region_text
from core.understanding.components import find_components, leads_with_component
from core.understanding.intents import Signals, classify
from core.understanding.model import Parsed
from core.understanding.names import check_app_name, find_app, find_marked_name
from core.understanding.normalize import MAX_INPUT_CHARS, fold, strip_chat_formatting
from core.understanding.reserved import is_reserved, only_a_component
from core.understanding.typos import correct_command, correct_tokens
from core.understanding.vocab import (
    find_environment,
    find_region,
    find_sizes,
    find_stack,
    find_unknown_region,
    looks_like_stack,
)

APP_PLACEHOLDER = "xappx"
_CLAUSE_PUNCT = frozenset(",.;:!?")


def _inside(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(s <= start and end <= e for s, e in spans)


# Questions about things, not requests ("can you make a redis for shop?" still names shop).
_QUESTION_WORDS = frozenset("is are was were does did what whats which who why how hows should".split())


def _asks(clean: str) -> bool:
    words = clean.lower().split()
    return bool(words) and words[0].strip(",").replace("'", "") in _QUESTION_WORDS


class RuleParser:
    """Implements `Planner` with rules; see the module docstring."""

    def parse(self, text: str) -> Parsed:
        clean = strip_chat_formatting(text[:MAX_INPUT_CHARS])
        mention = find_app(clean, is_reserved, looks_like_stack, only_a_component)
        if mention is None or not mention.explicit:
            mention = find_marked_name(text[:MAX_INPUT_CHARS], clean, is_reserved) or mention
        if mention is not None and not mention.explicit and _asks(clean):
            mention = None  # "is postgres better for analytics?" names no app
        if mention is not None:
            clean = f"{clean[:mention.start]} {APP_PLACEHOLDER} {clean[mention.end:]}"
        tokens = fold(clean).split()
        words = [t for t in tokens if t not in _CLAUSE_PUNCT]
        if len(words) == 1:
            tokens = [correct_command(t) if t == words[0] else t for t in tokens]
        folded = " ".join(correct_tokens(tokens))

        found = find_components(folded)
        region = find_region(folded)
        environment = find_environment(folded)
        sizes = [h for h in find_sizes(folded) if not _inside(h.start, h.end, found.spans)]
        stack = find_stack(folded)
        cloud = find_choice(folded)
        aws_stack = None if stack else find_aws_stack(folded)
        stack = stack or aws_stack
        if cloud.region:
            region = None  # the AWS region said wins over the GCP vocabulary's reading of the place

        unknown_region = None if region or cloud.region else find_unknown_region(folded)
        parsed = Parsed(
            # The cloud said, else the one whose ids it looks like; the thread's cloud may say more (turns.py).
            region_problem=unknown_region_text(unknown_region, cloud.cloud or shaped_like(unknown_region))
            if unknown_region else None,
            unknown_region=unknown_region,
            region=region.value if region else cloud.region,
            cloud=cloud.cloud or ("aws" if aws_stack else None),
            environment=environment.value if environment else None,
            size=sizes[-1].value if sizes else None,
        )
        if mention is not None:
            check = check_app_name(mention.raw)
            parsed.app, parsed.app_problem, parsed.suggested_app = check.app, check.problem, check.suggestion

        signals = Signals(
            component_changes=found.changes,
            attribute_changes=bool(
                (mention and mention.explicit) or region or unknown_region or environment or parsed.size
                or cloud.cloud or cloud.region
            ),
            guessed_app=bool(mention and not mention.explicit),
            named_stack=stack is not None,
            explicit_app=bool(mention and mention.explicit),
            leading_component=leads_with_component(folded, found.spans),
            removal_or_template=bool(found.remove or found.template),
        )
        intent = classify(folded, signals)
        parsed.intent, parsed.affirm, parsed.deny = intent.name, intent.affirm, intent.deny
        parsed.unclear_approval = intent.unclear_approval

        if stack is not None:
            name, app, env = stack
            if not parsed.app and not parsed.app_problem:
                parsed.app = check_app_name(app).app  # a stack of an invalid app can't exist: no app
            parsed.environment = parsed.environment or env
            if parsed.intent != "create":
                parsed.stack = name

        if parsed.intent == "create":
            parsed.components, parsed.remove, parsed.template = found.components, found.remove, found.template
            if not parsed.app:
                parsed.missing.append("app")
            if not parsed.components and not parsed.template:
                parsed.missing.append("components")
        return parsed


_DEFAULT = RuleParser()


def parse(text: str) -> Parsed:
    return _DEFAULT.parse(text)
