"""In a thread with a plan waiting, talk that only mentions approving gets a pointer to `apply` and changes
nothing; a clear go-ahead still applies. Real core, Redis, FerretDB and worker."""

from __future__ import annotations

import pytest

from bots.runtime import Runtime
from tests.conversation_chat import Chat

EXAMPLE = "create a postgres database and a bucket for my app shop in staging"
UNCLEAR = ["shall we apply?", "approve later please", "ship it after the release",
           "the manager said go ahead tomorrow", "ok so what happens next?", "go ahead unless it touches prod"]


@pytest.fixture
def chat(runtime: Runtime) -> Chat:
    return Chat(runtime)


async def test_unclear_approvals_point_to_apply_and_change_nothing(chat: Chat, worker: object) -> None:
    await chat.say(EXAMPLE)
    waiting = await chat.reach("awaiting_approval")
    for text in UNCLEAR:
        reply = await chat.say(text)
        assert "Say `apply` to build the plan shown above" in reply, text
        after = await chat.request()
        assert (after.status, after.revision, after.plan_hash) == (
            "awaiting_approval", waiting.revision, waiting.plan_hash), text
    assert "Applying" in await chat.say("yes, go ahead")
    await chat.reach("applied")
