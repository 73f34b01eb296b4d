"""The optional language-model fallback, against a local stand-in for an OpenAI-compatible endpoint."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bots.llm_http import OpenAICompatible
from bots.runtime import Runtime
from core.understanding.fallback import LLMFallback
from core.understanding.parser import parse
from tests.conversation_chat import Chat


class StandIn:
    """Answers /v1/chat/completions with `content` after `delay` seconds, recording every request."""

    def __init__(self) -> None:
        self.content = "{}"
        self.delay = 0.0
        self.status = 200
        self.requests: list[dict[str, Any]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stand_in.requests.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                          "body": body})
                time.sleep(stand_in.delay)
                payload = json.dumps({"choices": [{"message": {"role": "assistant",
                                                               "content": stand_in.content}}]}).encode()
                self.send_response(stand_in.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, **parse_json: Any) -> None:
        self.content = "Here you go:\n```json\n" + json.dumps(parse_json) + "\n```"


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    server = StandIn()
    yield server
    server.server.shutdown()


def fallback(stand_in: StandIn, timeout: float = 2.0) -> LLMFallback:
    return LLMFallback(OpenAICompatible(stand_in.url, "tiny-model", "k-123", timeout=timeout), timeout=timeout)


NEED = "we keep losing stuff, could you sort something out for app ledger"


async def test_an_unsure_reading_gets_the_models_validated_answer(stand_in: StandIn) -> None:
    rules = parse("sort out hosting for our thing, app ledger, it's tiny")
    assert rules.intent == "create" and not rules.components
    stand_in.answer(intent="create", app="ledger", environment="staging", region="europe-west1",
                    components=[{"kind": "bucket", "count": 1, "size": "small"}])
    better = await fallback(stand_in).refine("sort out hosting for our thing, app ledger, it's tiny", rules)
    assert (better.source, better.intent, better.app, [c.kind for c in better.components]) == (
        "llm", "create", "ledger", ["bucket"])
    assert better.contract()["source"] == "llm" and better.missing == []
    sent = stand_in.requests[0]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer k-123"
    assert sent["body"]["model"] == "tiny-model" and sent["body"]["messages"][-1]["role"] == "user"


async def test_confident_rules_and_approval_words_are_never_sent(stand_in: StandIn) -> None:
    for text in ("create a postgres for app shop", "status", "shall we apply?", "approve later please"):
        rules = parse(text)
        assert await fallback(stand_in).refine(text, rules) is rules
    assert stand_in.requests == []


@pytest.mark.parametrize("intent", ["apply", "destroy", "cancel", "approve"])
async def test_the_model_never_approves_cancels_or_destroys(stand_in: StandIn, intent: str) -> None:
    stand_in.answer(intent=intent, app="shop")
    rules = parse("hmm, whatever you think is best")
    better = await fallback(stand_in).refine("hmm, whatever you think is best", rules)
    assert (better.intent, better.source) == (rules.intent, "rules")


@pytest.mark.parametrize("content", [
    "not json at all", '{"intent": "create", "components": [{"kind": "mainframe"}]}',
    '{"intent": "create", "environment": "moon"}', '{"components": []}', "[1, 2, 3]",
])
async def test_unusable_answers_leave_the_rules_standing(stand_in: StandIn, content: str) -> None:
    stand_in.content = content
    rules = parse("hmm, whatever you think is best")
    assert await fallback(stand_in).refine("hmm, whatever you think is best", rules) is rules


async def test_an_invalid_app_name_from_the_model_is_not_taken(stand_in: StandIn) -> None:
    stand_in.answer(intent="create", app="My Shop!!", components=[{"kind": "redis"}])
    text = "hmm, whatever you think is best"
    better = await fallback(stand_in).refine(text, parse(text))
    assert better.source == "llm" and better.app is None and better.missing == ["app"]


async def test_a_slow_or_failing_endpoint_costs_at_most_the_timeout(stand_in: StandIn) -> None:
    stand_in.delay, text = 1.5, "hmm, whatever you think is best"
    stand_in.answer(intent="help")
    rules = parse(text)
    started = time.monotonic()
    assert await fallback(stand_in, timeout=0.3).refine(text, rules) is rules
    assert time.monotonic() - started < 1.2
    stand_in.delay, stand_in.status = 0.0, 500
    assert await fallback(stand_in).refine(text, rules) is rules
    dead = LLMFallback(OpenAICompatible("http://127.0.0.1:9/v1", "m"), timeout=0.5)
    assert await dead.refine(text, rules) is rules


async def test_in_a_chat_the_models_reading_is_used_and_audited(runtime: Runtime, stand_in: StandIn) -> None:
    runtime.core.router.fallback = fallback(stand_in)
    stand_in.answer(intent="create", app="ledger", components=[{"kind": "bucket"}])
    chat = Chat(runtime)
    reply = await chat.say(NEED)
    assert "ledger" in reply
    request = await chat.request()
    assert [c.kind for c in request.spec.components] == ["bucket"] and request.spec.app == "ledger"
    row = await runtime.db["audit"].find_one({"event": "understood"})
    assert row is not None and row["source"] == "llm" and row["rules"] == "create" and row["user"] == "ana"
