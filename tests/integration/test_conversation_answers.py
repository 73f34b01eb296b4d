"""What the bot answers besides requests: status, outputs, list, history, help, unknown; expiry; chat
markup from Slack and Discord; reply lengths; and a friendly reply plus a log line for every bad input."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bots.runtime import Runtime, build_runtime
from bots.serve import create_app
from bots.web.app import web_thread
from config.local_services import LocalServices
from config.settings import Settings
from core import texts
from core.request import Request, Status
from core.spec import Component, InfraSpec
from tests.conversation_chat import Chat, kinds
from tests.support import eventually

EXAMPLE = "create a postgres database and a bucket for my app shop in staging"


@pytest.fixture
def chat(runtime: Runtime) -> Chat:
    return Chat(runtime)


@pytest.fixture
async def quick(settings: Settings, services: LocalServices) -> AsyncIterator[Runtime]:
    """A runtime whose thread context expires after a second."""
    rt = await build_runtime(settings.model_copy(update={"context_ttl_seconds": 1}), services.redis_url,
                             services.mongodb_url)
    yield rt
    await rt.close()


async def _applied(chat: Chat, text: str = EXAMPLE) -> None:
    await chat.say(text)
    await chat.reach("awaiting_approval")
    await chat.say("apply")
    await chat.reach("applied")


# 5. Expired context


async def test_status_after_expiry_finds_the_thread_request(quick: Runtime) -> None:
    chat = Chat(quick, "ttl-status")
    await chat.say(EXAMPLE)
    request_id = (await chat.context())["request_id"]
    await asyncio.sleep(1.3)
    replies = await chat.send("status")
    assert "started fresh" in replies[0].text
    assert "shop-staging" in replies[1].text and replies[1].request_id == request_id
    history = await quick.history.list(chat.thread)
    assert [m["role"] for m in history] == ["user", "bot", "user", "bot", "bot"]
    assert history[0]["text"] == EXAMPLE


async def test_an_answer_after_expiry_is_not_taken_for_something_else(quick: Runtime) -> None:
    chat = Chat(quick, "ttl-draft")
    await chat.say("I need a database")
    await asyncio.sleep(1.3)
    replies = await chat.send("shop")
    assert "started fresh" in replies[0].text and "tell me the whole request again" in replies[1].text
    assert await quick.db.requests.count_documents({}) == 0
    assert "planning" in await chat.say(EXAMPLE), "the fresh start works normally"


# 7. The other answers


async def test_status_outputs_and_help_along_a_request(chat: Chat, worker: object) -> None:
    assert "Nothing has been requested" in await chat.say("status")
    assert "no outputs yet" in await chat.say("outputs")
    await chat.say("I need a bucket")
    pending = await chat.say("status")
    assert "Nothing is planned yet" in pending and "bucket" in pending and "called" in pending
    await chat.say("shop")
    await chat.reach("awaiting_approval")
    assert "has no outputs yet" in await chat.say("what's the url?")
    await chat.say("apply")
    request = await chat.reach("applied")
    outputs = await chat.say("outputs")
    assert outputs.startswith("Outputs of *shop-dev*")
    assert all(f"{name}: `{value}`" in outputs for name, value in request.outputs.items())
    status = await chat.say("is it done?")
    assert "shop-dev*: applied" in status and "`outputs`" in status
    assert "destroy" in await chat.say("help") and "postgres" in await chat.say("what can you do")


@pytest.mark.parametrize("text", ["what's the weather like", "blah blah", "purple monkey dishwasher"])
async def test_unknown_gets_what_the_bot_can_do(chat: Chat, text: str,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="infrabot")
    assert await chat.say(text) == texts.UNKNOWN.markup()
    assert any("unrecognised message" in r.getMessage() for r in caplog.records)


async def test_list_and_history_show_the_users_stacks(runtime: Runtime, worker: object) -> None:
    shop, blog, other = Chat(runtime, "t-shop"), Chat(runtime, "t-blog"), Chat(runtime, "t-other", user="bob")
    await _applied(shop)
    await blog.say("create a redis for my app blog")
    await other.say("create a bucket for my app secretproject")
    listed = await shop.say("list my stacks")
    assert listed.startswith("Your apps and stacks:")
    lines = listed.splitlines()[1:]
    # The worker may or may not have planned blog yet: which of the two does not matter here, the order does.
    assert lines[0].startswith(("• *blog-dev*: planning (redis)", "• *blog-dev*: awaiting approval (redis)")), \
        "most recent first"
    assert lines[1] == "• *shop-staging*: applied (postgres, bucket) on GCP us-central1", "list says the cloud"
    assert "secretproject" not in listed and len(lines) == 2
    await shop.say("make it medium")  # a change on top of the applied stack
    assert "the earlier version is still live" in await shop.say("list")
    history = (await shop.say("history")).splitlines()
    assert history[0].startswith("Your recent requests") and len(history) == 4
    assert "*shop-staging*" in history[1] and "applied" in history[3]
    assert "planning" in history[1] or "awaiting approval" in history[1], "the change is a new request"
    assert "You haven't requested anything" in await Chat(runtime, "t-new", user="carol").say("list")


# 8. Chat formatting through the whole conversation


async def test_slack_markup_flows_through(runtime: Runtime) -> None:
    chat = Chat(runtime, "1700000000.000100", platform="slack", workspace="T1")
    started = await chat.say("<@U0BOT> create a *postgres* database and a ~mysql~ bucket for my app `shop` "
                             "in _staging_ :rocket: see <https://wiki.example.com/shop|the wiki>")
    assert "planning" in started
    request = await chat.request()
    assert kinds(request) == {"postgres": 1, "bucket": 1} and request.stack == "shop-staging"
    assert request.thread.platform == "slack"
    revised = await chat.say("<@U0BOT> actually make it *MEDIUM* 🙏")
    assert "Updated" in revised and (await chat.request()).spec.size == "medium"
    assert "still being prepared" in await chat.say("<@U0BOT> :+1:")


async def test_discord_markup_flows_through(runtime: Runtime) -> None:
    chat = Chat(runtime, "998877", platform="discord", workspace="112233")
    asked = await chat.say("<@!4455> I need a **Redis** cache and a queue 🚀 <:party:123456>")
    assert "called" in asked and "redis, queue" in asked
    assert "planning" in await chat.say("<@4455> `checkout-api`")
    request = await chat.request()
    assert request.spec.app == "checkout-api" and kinds(request) == {"redis": 1, "queue": 1}


async def test_web_chat_shows_the_conversation_and_the_plan(runtime: Runtime, worker: object) -> None:
    app = create_app(runtime)
    runtime.start_relay()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://chat") as client:
        async def say(text: str) -> str:
            body = await client.post("/api/chat", json={"thread": "web-flow", "user": "ana", "text": text})
            return body.json()["reply"]  # type: ignore[no-any-return]

        assert "Pick a template" in await say("@infrabot set up something for my app shop")
        assert "planning" in await say("the api one")

        async def plan_card() -> list[str]:
            messages = (await client.get("/api/chat/web-flow")).json()
            return [m["text"] for m in messages if m["role"] == "status" and "Plan ready" in m["text"]]

        card = (await eventually(plan_card))[0]
        assert "shop-dev" in card and "offline engine" in card

        async def recorded() -> bool:
            # The relay notes the plan it delivered just after showing it; `ship it` approves that one.
            context = await runtime.contexts.load(web_thread("web-flow")) or {}
            request = await runtime.requests.get(context.get("request_id", ""))
            return bool(request and request.shown_plan_hash)

        await eventually(recorded)
        assert "Applying" in await say("ship it")


# 9. Lengths and bad input


async def test_long_lists_are_capped(chat: Chat, runtime: Runtime) -> None:
    start = datetime.now(UTC) - timedelta(days=1)
    for i in range(40):
        spec = InfraSpec(app=f"app{i:02d}-with-a-long-name", components=[
            Component(kind=k, count=2, size="large") for k in ("service", "postgres", "redis", "bucket")])
        built = Request.new(f"rbulk{i}", chat.thread, "ana", "x", f"bulk{i}", spec)
        # Through the store, so the user's keyed list knows them; then aged and applied in place.
        await runtime.requests.create(built)
        await runtime.db.requests.update_one({"_id": built.id}, {"$set": {
            "status": str(Status.APPLIED), "created_at": start + timedelta(minutes=i)}})
    for command, noun in (("list", "stacks"), ("history", "requests")):
        reply = await chat.say(command)
        shown = [line for line in reply.splitlines() if line.startswith("• ")]
        left_out = re.search(rf"… and (\d+) more {noun}\.$", reply)
        assert left_out and len(shown) + int(left_out.group(1)) == 40, reply
        assert "app39" in shown[0] and "app38" in shown[1], "newest first"


@pytest.mark.parametrize(
    "text",
    ["", "    ", "\u200b\u200b", "?", "🙂🙂🙂", "%s %d {0} {{}}", "<script>alert(1)</script>",
     "DROP TABLE requests;",
     "x" * 5000, "\x00\x01\x02", "<@U1>", "`", "*", "app", "create", ":shipit:", "yes " * 500],
)
async def test_bad_input_gets_a_friendly_reply_and_a_log_line(chat: Chat, text: str,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="infrabot")
    replies = await chat.send(text)
    assert len(replies) == 1 and replies[0].body != texts.ERROR
    assert "<script>" not in replies[0].text and "%s" not in replies[0].text
    assert [r for r in caplog.records if r.name.startswith("infrabot.conversation")], "every turn is logged"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
