"""Multi-turn conversations through the real core, real Redis and FerretDB, and a real worker where plans
matter: slot filling, changes of mind before and after the plan, apply, cancel, names, idempotency."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bots.runtime import Runtime, build_runtime
from config.local_services import LocalServices
from config.settings import Settings
from core.job import Phase
from core.messages import ActionEvent
from core.status_card import build_card, button_ref
from infra.locks import StackLock
from infra.offline import OfflineEngine
from infra.state import FileStateStore
from jobs.stores.redis_state import RedisStatusSignal
from jobs.worker import tasks
from tests.conversation_chat import Chat, kinds

EXAMPLE = "create a postgres database and a bucket for my app shop in staging"


@pytest.fixture
def chat(runtime: Runtime) -> Chat:
    return Chat(runtime)


async def _count(runtime: Runtime, collection: str) -> int:
    return await runtime.db[collection].count_documents({})


# 1. Vague request -> template question -> answer -> app name -> plan


async def test_vague_request_asks_template_then_name_then_plans(chat: Chat, runtime: Runtime,
                                                               worker: object) -> None:
    asked = await chat.say("create infrastructure for my application")
    assert "Pick a template" in asked and "2. *api*" in asked
    assert all(d in asked for d in ("region us-central1", "environment dev", "size small", "`yes`"))
    assert "called" not in asked, "only one question at a time"
    assert (await chat.context())["awaiting"] == "template"

    named = await chat.say("2")
    assert "called" in named and "service, postgres, redis" in named and "template" not in named
    assert (await chat.context())["awaiting"] == "app"
    assert await _count(runtime, "requests") == 0

    started = await chat.say("shop")
    assert "planning" in started and "*shop*" in started and "us-central1" in started
    context = await chat.context()
    assert set(context) == {"request_id"}, "nothing of the dialog is left behind once a request starts"

    request = await chat.reach("awaiting_approval")
    assert kinds(request) == {"service": 1, "postgres": 1, "redis": 1}
    assert request.spec.app == "shop" and request.stack == "shop-dev"
    job = await chat.job()
    assert job.phase == Phase.AWAITING_APPROVAL and job.plan_hash == request.plan.hash
    assert any("Cloud Run" in line or "Memorystore" in line or "Redis" in line
               for line in job.result["lines"])
    status = await chat.say("status")
    assert "shop-dev" in status and "awaiting approval" in status and "`apply`" in status


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("1", {"service": 1, "postgres": 1, "bucket": 1}),
        ("api", {"service": 1, "postgres": 1, "redis": 1}),
        ("the worker one", {"service": 1, "queue": 1}),
        ("static site", {"bucket": 1}),
        ("yes", {"service": 1, "postgres": 1, "bucket": 1}),
        ("*yes* 👍", {"service": 1, "postgres": 1, "bucket": 1}),
        ("a redis and two buckets", {"redis": 1, "bucket": 2}),
    ],
)
async def test_template_answer_by_number_name_or_yes(chat: Chat, answer: str,
                                                    expected: dict[str, int]) -> None:
    await chat.say("set up infrastructure for my app shop")
    assert (await chat.context())["awaiting"] == "template"
    started = await chat.say(answer)
    assert "planning" in started, started
    assert kinds(await chat.request()) == expected


async def test_only_what_is_missing_is_asked(chat: Chat) -> None:
    asked = await chat.say("I need a postgres database and a bucket")
    assert "called" in asked and "template" not in asked
    assert "planning" in await chat.say("shop")


async def test_an_unrelated_reply_repeats_the_question(chat: Chat) -> None:
    await chat.say("create infrastructure for my application")
    again = await chat.say("hmm, let me think about that with my team")
    assert again.startswith("Sorry, I didn't get that.") and "Pick a template" in again
    assert (await chat.context())["awaiting"] == "template"
    declined = await chat.say("no")
    assert declined.startswith("No problem.") and "Pick a template" in declined


# 2. Changes of mind


async def test_changes_before_the_plan_update_the_draft(chat: Chat, runtime: Runtime) -> None:
    await chat.say("I need a web app")
    reply = await chat.say("make it medium")
    assert reply.startswith("Got it: size medium.") and "called" in reply and "size small" not in reply
    assert (await chat.say("actually europe-west1")).startswith("Got it: region europe-west1.")
    assert (await chat.say("add a redis")).startswith("Got it: added redis.")
    assert (await chat.say("drop the bucket")).startswith("Got it: removed bucket.")
    assert (await chat.say("use prod")).startswith("Got it: environment prod.")
    draft = (await chat.context())["draft"]
    assert draft["app"] is None and await _count(runtime, "requests") == 0
    started = await chat.say("shop")
    assert "planning" in started and "prod" in started and "europe-west1" in started
    request = await chat.request()
    assert kinds(request) == {"service": 1, "postgres": 1, "redis": 1}
    assert (request.spec.size, request.spec.region, request.stack) == (
        "medium", "europe-west1", "shop-prod")


async def test_changes_sent_at_once_are_all_kept(chat: Chat, runtime: Runtime,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    await chat.say("I need a web app")
    load = runtime.contexts.load

    async def slow_load(thread: Any) -> dict[str, Any] | None:
        loaded = await load(thread)
        await asyncio.sleep(0.05)  # widens the load-to-save window a slow network would open
        return loaded

    monkeypatch.setattr(runtime.contexts, "load", slow_load)
    await asyncio.gather(chat.send("make it medium"), chat.send("actually europe-west1"),
                         chat.send("use staging"), chat.send("add a redis"))
    draft = (await chat.context())["draft"]
    assert (draft["size"], draft["region"], draft["environment"]) == ("medium", "europe-west1", "staging")
    assert {c["kind"] for c in draft["components"]} == {"service", "postgres", "bucket", "redis"}


async def test_medium_as_an_answer_to_the_name_question_is_a_size_not_a_name(chat: Chat) -> None:
    await chat.say("I need a bucket")
    reply = await chat.say("medium")
    assert "called" in reply and (await chat.context())["draft"]["app"] is None
    assert (await chat.context())["draft"]["size"] == "medium"


async def test_changes_after_the_plan_replan_and_void_the_old_approval(chat: Chat, runtime: Runtime,
                                                                      worker: object) -> None:
    await chat.say(EXAMPLE)
    first = await chat.reach("awaiting_approval")
    old_hash = first.plan.hash

    updated = await chat.say("add another bucket")
    assert "Updated" in updated and "2× bucket" in updated and "approval no longer applies" in updated
    second = await chat.request()
    assert second.id == first.id and second.revision == 2 and kinds(second)["bucket"] == 2
    old_job = await chat.job(f"plan-{first.id}-1")
    assert old_job.phase == Phase.CANCELLED and "Superseded" in old_job.message

    replanned = await chat.reach("awaiting_approval")
    assert replanned.plan.hash != old_hash and replanned.latest_job == f"plan-{first.id}-2"
    press = ActionEvent(chat.thread, "bob", button_ref(first.id, old_hash), "approve", "press-old")
    refused = await runtime.core.handle_action(press)
    assert "older plan" in refused[0].text and (await chat.request()).status == "awaiting_approval"

    await chat.say("one more bucket")
    assert kinds(await chat.reach("awaiting_approval"))["bucket"] == 3
    await chat.say("just one bucket")
    assert kinds(await chat.reach("awaiting_approval"))["bucket"] == 1
    same = await chat.say("a postgres database")
    assert "already what the plan has" in same
    assert (await chat.request()).revision == 4

    assert "Applying" in await chat.say("lgtm")
    done = await chat.reach("applied")
    assert done.approved_plan_hash == done.plan.hash and done.outputs


@pytest.mark.parametrize("text", ["not sure", "do not deploy", "should I apply?", "is it ok to ship it?"])
async def test_hesitant_words_never_apply(chat: Chat, worker: object, text: str) -> None:
    await chat.say(EXAMPLE)
    await chat.reach("awaiting_approval")
    assert "clear go-ahead" in await chat.say(text)
    assert (await chat.request()).status == "awaiting_approval"


async def test_yes_while_the_new_plan_is_still_being_made(chat: Chat) -> None:
    await chat.say(EXAMPLE)  # no worker: the plan stays in the making
    reply = await chat.say("yes")
    assert "still being prepared" in reply and (await chat.request()).status == "planning"


async def test_a_change_after_apply_starts_a_new_request_on_top_of_the_stack(chat: Chat,
                                                                            worker: object) -> None:
    await chat.say(EXAMPLE)
    await chat.reach("awaiting_approval")
    await chat.say("ship it")
    applied = await chat.reach("applied")
    assert "already has" in await chat.say("a bucket")
    assert "already built" in await chat.say("plan")
    assert (await chat.request()).status == "applied", "a re-plan must not reopen an applied request"

    started = await chat.say("add a redis")
    assert "planning" in started
    newer = await chat.request()
    assert newer.id != applied.id and newer.stack == "shop-staging"
    assert kinds(newer) == {"postgres": 1, "bucket": 1, "redis": 1}


# 3. Apply


@pytest.mark.parametrize("text", ["apply", "yes", "ship it", "lgtm"])
async def test_apply_with_nothing_planned_says_so(chat: Chat, runtime: Runtime, text: str) -> None:
    reply = await chat.say(text)
    assert "no plan waiting" in reply
    await chat.say("I need a bucket")
    assert (await chat.say(text)).startswith("Nothing is planned yet.")
    assert await _count(runtime, "requests") == 0 and await _count(runtime, "jobs") == 0


@pytest.mark.parametrize("text", ["yes", "lgtm", "ship it", "go ahead", "apply"])
async def test_consent_applies_a_pending_plan(chat: Chat, worker: object, text: str) -> None:
    await chat.say(EXAMPLE)
    await chat.reach("awaiting_approval")
    assert "Applying" in await chat.say(text)
    await chat.reach("applied")


async def test_plan_with_nothing_to_plan(chat: Chat, runtime: Runtime) -> None:
    assert "no request in this thread" in await chat.say("plan")
    await chat.say("I need a bucket")
    assert (await chat.say("preview")).startswith("There's nothing to plan yet.")
    assert await _count(runtime, "jobs") == 0


async def test_plan_again_makes_a_fresh_plan(chat: Chat, worker: object) -> None:
    await chat.say(EXAMPLE)
    first = await chat.reach("awaiting_approval")
    assert "Planning *shop-staging* again" in await chat.say("plan again")
    assert (await chat.job(f"plan-{first.id}-1")).phase == Phase.CANCELLED
    again = await chat.reach("awaiting_approval")
    assert again.revision == 2 and again.spec == first.spec


async def test_destroy_asks_for_the_name_and_steps_aside_for_other_questions(chat: Chat,
                                                                             worker: object) -> None:
    await chat.say(EXAMPLE)
    await chat.reach("awaiting_approval")
    await chat.say("apply")
    await chat.reach("applied")
    assert "type the stack name `shop-staging`" in await chat.say("destroy shop-staging")
    assert "name didn't match" in await chat.say("shop-prod")
    assert "applied" in await chat.say("status"), "another question drops the confirmation"
    assert "Destroying" not in await chat.say("shop-staging")
    await chat.say("tear down shop-staging")
    assert "Destroying *shop-staging*" in await chat.say("shop-staging")
    await chat.reach("destroyed")


# 4. Cancel


async def test_cancel_before_the_plan(chat: Chat, runtime: Runtime) -> None:
    assert "nothing pending to cancel" in await chat.say("cancel")
    await chat.say("I need a postgres database")
    assert "dropped" in await chat.say("cancel")
    assert await chat.context() == {} and await _count(runtime, "requests") == 0
    assert "no plan waiting" in await chat.say("yes"), "the dropped question is not answered later"


async def test_cancel_while_planning(chat: Chat, runtime: Runtime, tmp_path: Path) -> None:
    await chat.say(EXAMPLE)
    request = await chat.request()
    assert "cancelled" in await chat.say("cancel")
    job = await chat.job()
    assert job.phase == Phase.CANCELLED and "Cancelled by" in job.message
    # The worker picks the queued job up afterwards: it must not plan a cancelled request.
    deps = tasks.Deps(jobs=runtime.jobs, requests=runtime.requests, audit=runtime.audit,
                      signal=RedisStatusSignal(runtime.redis),
                      engine=OfflineEngine(FileStateStore(tmp_path / "state")), lock=StackLock(runtime.redis))
    assert await tasks.plan({"deps": deps, "job_try": 1}, request.latest_job) == "skipped"
    assert (await chat.request()).status == "cancelled"
    card = build_card(await chat.job(), await chat.request())
    assert "cancelled" in card.title and not card.buttons


async def test_cancel_with_a_plan_waiting(chat: Chat, runtime: Runtime, worker: object) -> None:
    await chat.say(EXAMPLE)
    waiting = await chat.reach("awaiting_approval")
    assert build_card(await chat.job(), waiting).buttons, "a waiting plan shows Approve/Cancel"
    assert "cancelled" in (await chat.say("cancel")).lower()
    request = await chat.request()
    card = build_card(await chat.job(), request)
    assert request.status == "cancelled" and card.phase == "cancelled" and not card.buttons
    assert "nothing to approve" in await chat.say("apply")
    assert "cancelled" in await chat.say("status")
    events = [a["event"] for a in await runtime.audit.list(request_id=request.id)]
    # The refused `apply` is on record too, with where it came from.
    assert events == ["requested", "planned", "cancelled", "refused"]


# 6. Names


@pytest.mark.parametrize(
    ("said", "problem", "suggestion"),
    [
        ("create a bucket for my app My_Shop!", "has underscores", "my-shop"),
        ("create a bucket for app 123shop", "doesn't start with a letter", "app-123shop"),
        ("create a bucket called " + "inventory-management" * 2, "is 40 characters long", "inventory"),
    ],
)
@pytest.mark.parametrize("accept", ["suggestion", "yes"])
async def test_invalid_names_are_explained_with_a_suggestion(chat: Chat, said: str, problem: str,
                                                            suggestion: str, accept: str) -> None:
    reply = await chat.say(said)
    assert problem in reply and "lowercase letters, digits and hyphens" in reply
    assert f"`{suggestion}`" in reply
    started = await chat.say(suggestion if accept == "suggestion" else "yes")
    assert "planning" in started
    assert (await chat.request()).spec.app == suggestion


async def test_an_invalid_bare_answer_to_the_name_question(chat: Chat) -> None:
    await chat.say("I need a redis cache")
    reply = await chat.say("My Shop")
    assert "has spaces" in reply and "`my-shop`" in reply
    declined = await chat.say("no")
    assert "lowercase" in declined.lower() and "my-shop" not in declined, "declining asks for another name"
    assert "planning" in await chat.say("storefront")
    assert (await chat.request()).spec.app == "storefront"


# Idempotency


async def test_redelivered_turns_change_nothing(chat: Chat, runtime: Runtime) -> None:
    await chat.say("create infrastructure for my application", event_id="e1")
    assert await chat.send("create infrastructure for my application", event_id="e1") == []
    await chat.say("2", event_id="e2")
    before = await chat.context()
    assert await chat.send("2", event_id="e2") == []
    assert await chat.context() == before
    await chat.say("shop", event_id="e3")
    assert await chat.send("shop", event_id="e3") == []
    assert await _count(runtime, "requests") == 1 and await _count(runtime, "jobs") == 1
    history = await runtime.history.list(chat.thread)
    assert [m["role"] for m in history] == ["user", "bot"] * 3


async def test_a_second_request_for_another_app_in_the_same_thread(chat: Chat, runtime: Runtime) -> None:
    await chat.say(EXAMPLE)
    first: dict[str, Any] = await chat.request()
    assert "planning" in await chat.say("create a redis for my app blog")
    second = await chat.request()
    assert second.id != first.id and second.stack == "blog-dev"
    assert (await runtime.requests.get(first.id)).spec == first.spec  # type: ignore[union-attr]


async def test_a_refused_request_keeps_the_draft_so_a_change_can_fix_it(settings: Settings,
                                                                        services: LocalServices) -> None:
    strict = settings.model_copy(update={"allowed_regions": "us-central1,europe-west1"})
    rt = await build_runtime(strict, services.redis_url, services.mongodb_url)
    try:
        chat = Chat(rt, "policy")
        refused = await chat.say("create a bucket for my app shop in tokyo")
        assert "can't plan that" in refused and "asia-northeast1" in refused
        assert "try again" in await chat.say("apply")
        assert "planning" in await chat.say("actually belgium")
        request = await chat.request()
        assert request.spec.region == "europe-west1" and kinds(request) == {"bucket": 1}
    finally:
        await rt.close()


async def test_asking_for_the_plan_shows_every_change_and_voids_nothing(chat: Chat, worker: object) -> None:
    big = ("create 3 services, 2 postgres databases, 4 buckets and 2 queues for my app mega in staging")
    await chat.say(big)
    first = await chat.reach("awaiting_approval")
    card_lines = (await chat.job()).result["lines"]
    assert any("more (say `plan` for the full list)" in line for line in card_lines), "the card is shortened"

    [full] = await chat.send("show me the plan")
    assert full.long and "The full plan for *mega-staging*" in full.text
    listed = [line for line in full.text.splitlines() if line.startswith("  + create")]
    assert len(listed) == len(first.plan.resources) > 40
    still = await chat.request()
    assert still.revision == 1 and still.status == "awaiting_approval", "showing is not re-planning"
    assert "Approved by" in await chat.say("apply")
