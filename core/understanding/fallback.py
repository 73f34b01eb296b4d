"""Asking a language model when the rules are unsure (optional: `LLM_URL`, off by default).

Only messages the rules could not place are sent: `unknown` without approval words, or a create with no
components. The model is asked for the same JSON as `infrabot parse` and its answer is validated against
the same vocabulary; anything invalid, late (2 s) or failing leaves the rules' answer standing. The model
never decides an approval, a cancel or a destroy: those stay with the rules, whatever it says.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from core.ports import ChatCompletion
from core.spec import Component
from core.understanding.model import Parsed
from core.understanding.names import check_app_name
from core.understanding.vocab import GCP_REGIONS

log = logging.getLogger("infrabot.understanding")

TIMEOUT_SECONDS = 2.0
# What the model may conclude. apply, cancel and destroy are absent on purpose.
ALLOWED_INTENTS = ("create", "plan", "status", "list", "outputs", "history", "help", "unknown")
Kind = Literal["service", "postgres", "mysql", "redis", "bucket", "queue", "secret", "registry"]


class _Component(BaseModel):
    kind: Kind
    count: int = Field(1, ge=1, le=10)
    size: Literal["small", "medium", "large"] | None = None


class ModelAnswer(BaseModel):
    """The `infrabot parse` JSON shape, as the model must return it."""

    intent: str
    app: str | None = None
    environment: Literal["dev", "staging", "prod"] | None = None
    region: str | None = None
    components: list[_Component] = Field(default_factory=list, max_length=8)


SYSTEM_PROMPT = (
    "You read one chat message sent to infrabot, a bot that builds Google Cloud infrastructure. Reply with "
    "one JSON object only: {\"intent\": one of " + ", ".join(ALLOWED_INTENTS) + ", \"app\": lowercase name "
    "or null, \"environment\": dev|staging|prod|null, \"region\": a GCP region id or null, \"components\": "
    "[{\"kind\": service|postgres|mysql|redis|bucket|queue|secret|registry, \"count\": n, \"size\": "
    "small|medium|large|null}]}. intent is create only when the message asks the bot to build something; "
    "talk about technology, opinions and questions that ask for nothing are unknown."
)


def unsure(parsed: Parsed) -> bool:
    """The rules' answer is worth a second opinion: nothing understood, or a create with nothing in it."""
    if parsed.intent == "unknown":
        return not parsed.unclear_approval  # approval words stay with the rules: they never apply
    return parsed.intent == "create" and not parsed.components and not parsed.template and not parsed.remove


def _to_parsed(answer: ModelAnswer, rules: Parsed) -> Parsed | None:
    if answer.intent not in ALLOWED_INTENTS:
        return None
    parsed = rules.model_copy(deep=True)
    parsed.intent, parsed.source = answer.intent, "llm"
    if answer.intent != "create":
        parsed.components, parsed.missing = [], []
        return parsed
    if answer.app and not parsed.app:
        check = check_app_name(answer.app)
        parsed.app = check.app  # an invalid name from the model is dropped, and asked for as usual
    parsed.environment = parsed.environment or answer.environment
    if answer.region in GCP_REGIONS:
        parsed.region = parsed.region or answer.region
    parsed.components = [Component(kind=c.kind, count=c.count, size=c.size) for c in answer.components]
    parsed.missing = [m for m, gap in (("app", not parsed.app), ("components", not parsed.components)) if gap]
    return parsed


class LLMFallback:
    def __init__(self, client: ChatCompletion, timeout: float = TIMEOUT_SECONDS) -> None:
        self.client = client
        self.timeout = timeout

    async def refine(self, text: str, rules: Parsed) -> Parsed:
        """The model's reading when the rules were unsure and it gave a valid one; otherwise `rules`."""
        if not unsure(rules):
            return rules
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": text[:1000]}]
        try:
            reply = await asyncio.wait_for(self.client.complete(messages), self.timeout)
            answer = ModelAnswer.model_validate(json.loads(_json_part(reply)))
        except TimeoutError:
            log.warning("language model fallback timed out after %.1fs; the rules' reading stands", self.timeout)
            return rules
        except (ValueError, ValidationError) as exc:
            log.warning("language model fallback gave an unusable answer (%s); the rules' reading stands",
                        type(exc).__name__)
            return rules
        except Exception as exc:  # an optional helper must never break a turn
            log.warning("language model fallback failed (%s); the rules' reading stands", type(exc).__name__)
            return rules
        return _to_parsed(answer, rules) or rules


def _json_part(reply: str) -> str:
    """Models wrap JSON in prose or code fences; the object is from the first { to the last }."""
    start, end = reply.find("{"), reply.rfind("}")
    if start < 0 or end < start:
        raise ValueError("no JSON object in the reply")
    return reply[start:end + 1]
