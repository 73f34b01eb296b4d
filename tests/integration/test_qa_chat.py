"""Replies a newcomer got wrong or unhelpfully in hands-on QA of the web chat, each pinned by a test."""

from __future__ import annotations

import pytest

from bots.runtime import Runtime
from core import texts
from core.messages import ActionEvent
from core.status_card import button_ref
from core.understanding.parser import parse
from tests.conversation_chat import Chat, kinds

EXAMPLE = "create a postgres database and a bucket for my app shop in staging"


@pytest.mark.parametrize("text", ["delete shop-staging", "remove shop-dev", "kill checkout-prod please"])
def test_deleting_a_named_stack_means_destroy(text: str) -> None:
    parsed = parse(text)
    assert parsed.intent == "destroy" and parsed.stack == text.split()[1]


def test_removing_a_component_from_a_named_stack_stays_a_change() -> None:
    parsed = parse("delete the bucket from shop-staging")
    assert parsed.intent == "create" and parsed.remove == ["bucket"]


async def test_delete_stack_asks_for_the_destroy_confirmation(runtime: Runtime, worker: object) -> None:
    chat = Chat(runtime, "qa-delete")
    await chat.say(EXAMPLE)
    await chat.reach("awaiting_approval")
    await chat.say("apply")
    await chat.reach("applied")
    asked = await chat.say("delete shop-staging")
    assert "type the stack name `shop-staging`" in asked
    assert "Destroying *shop-staging*" in await chat.say("shop-staging")


async def test_offline_status_and_outputs_never_call_a_simulation_live(runtime: Runtime, worker: object) -> None:
    chat = Chat(runtime, "qa-offline")
    await chat.say(EXAMPLE)
    await chat.reach("awaiting_approval")
    await chat.say("apply")
    request = await chat.reach("applied")
    assert request.plan.simulated
    status = await chat.say("status")
    assert "shop-staging*: applied" in status and "It's live" not in status
    assert "nothing exists in the cloud" in status
    outputs = await chat.say("outputs")
    assert outputs.startswith("Outputs of *shop-staging* (simulated") and "nothing exists in the cloud" in outputs


async def test_approving_a_cancelled_request_says_it_was_cancelled(runtime: Runtime, worker: object) -> None:
    chat = Chat(runtime, "qa-cancelled")
    await chat.say(EXAMPLE)
    request = await chat.reach("awaiting_approval")
    assert "cancelled" in await chat.say("cancel")
    press = ActionEvent(chat.thread, "bob", button_ref(request.id, request.plan.hash), "approve",
                        "qa-press-cancelled")
    reply = (await runtime.core.handle_action(press))[0].text
    assert "was cancelled" in reply and "nothing was applied" in reply and "older plan" not in reply
    assert (await chat.request()).status == "cancelled"


async def test_a_size_change_is_said_back(runtime: Runtime, worker: object) -> None:
    chat = Chat(runtime, "qa-size")
    await chat.say(EXAMPLE)
    await chat.reach("awaiting_approval")
    updated = await chat.say("make it large")
    assert "Updated" in updated and "size large" in updated
    assert (await chat.request()).spec.size == "large"


@pytest.mark.parametrize("text", ["thanks!", "Thank you so much", "awesome, thanks", "cheers"])
async def test_thanks_gets_a_kind_answer_not_confusion(runtime: Runtime, text: str) -> None:
    reply = await Chat(runtime, f"qa-thanks-{len(text)}").say(text)
    assert reply == texts.WELCOME.markup() and "not sure" not in reply


@pytest.mark.parametrize("text", ["actually make it mysql", "switch to mysql", "mysql instead",
                                  "use mysql instead of postgres"])
async def test_switching_the_database_engine_replaces_it(runtime: Runtime, text: str) -> None:
    chat = Chat(runtime, f"qa-swap-{len(text)}")
    await chat.say(EXAMPLE)
    await chat.say(text)
    assert kinds(await chat.request()) == {"bucket": 1, "mysql": 1}


async def test_adding_a_second_database_engine_keeps_the_first(runtime: Runtime) -> None:
    chat = Chat(runtime, "qa-add-mysql")
    await chat.say(EXAMPLE)
    await chat.say("also add a mysql")
    assert kinds(await chat.request()) == {"postgres": 1, "bucket": 1, "mysql": 1}


async def test_a_count_above_the_cap_is_said_not_silently_trimmed(runtime: Runtime) -> None:
    chat = Chat(runtime, "qa-cap")
    reply = await chat.say("I want 100 buckets for my app shop")
    assert "10× bucket" in reply and "at most 10" in reply and "not 100" in reply
    assert kinds(await chat.request()) == {"bucket": 10}
    plain = await Chat(runtime, "qa-cap-2").say("two buckets for my app blog in 2025")
    assert "at most" not in plain


async def test_status_and_outputs_of_a_destroyed_stack_speak_in_the_past(runtime: Runtime,
                                                                          worker: object) -> None:
    chat = Chat(runtime, "qa-destroyed")
    await chat.say("a bucket for my app notes")
    pending = await chat.say("status")
    assert "It asks for bucket" in pending and "It has" not in pending, "nothing exists before an apply"
    await chat.reach("awaiting_approval")
    await chat.say("apply")
    await chat.reach("applied")
    assert "It has bucket" in await chat.say("status")
    await chat.say("destroy notes-dev")
    await chat.say("notes-dev")
    await chat.reach("destroyed")
    status = await chat.say("status")
    assert "notes-dev*: destroyed" in status and "It had bucket" in status and "It has" not in status
    outputs = await chat.say("outputs")
    assert outputs == "*notes-dev* was destroyed, so it has no outputs."


@pytest.mark.parametrize("text", ["scratch that", "Scratch that, please", "scrap it"])
def test_scratch_that_cancels(text: str) -> None:
    assert parse(text).intent == "cancel"


async def test_an_unknown_region_is_said_not_replaced_by_the_default(runtime: Runtime, worker: object) -> None:
    chat = Chat(runtime, thread="region")
    reply = await chat.say("create a bucket for my app shop in eu-west-9")
    assert "I don't know the region `eu-west-9`" in reply and "Which region" in reply
    assert "AWS regions look like `eu-west-1`" in reply, "an AWS-shaped id gets AWS examples"
    assert await runtime.db.requests.count_documents({}) == 0, "nothing is planned in a region nobody asked for"
    started = await chat.say("frankfurt")
    assert "planning" in started.lower() and "europe-west3" in started
    request = await chat.request()
    assert request.spec.region == "europe-west3" and request.spec.app == "shop"

    unchanged = await chat.say("actually use us-east-7")
    assert "I don't know the region `us-east-7`" in unchanged and "Nothing changed" in unchanged
    assert "GCP regions look like `europe-west1`" in unchanged, "the request is on GCP, whatever the id looks like"
    assert (await chat.request()).revision == 1
