"""The Discord adapter end to end, offline: simcord runs the real discord.py client against an
in-memory Discord; the core, Redis, FerretDB and the arq worker are the real ones."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import discord
import pytest
import simcord

from bots.discord_bot import InfraBot
from bots.discord_bot.permissions import BOT_PERMISSIONS
from bots.discord_bot.places import DM_REFUSAL, GUILD_REFUSAL
from bots.discord_bot.render import MESSAGE_LIMIT
from bots.discord_bot.replies import send_replies
from bots.runtime import Runtime, build_runtime
from bots.serve import run_discord
from config.local_services import LocalServices
from config.settings import Settings
from core.cardsink import CardUndeliverable
from core.markup import Message
from core.messages import Reply
from core.policy import Policy, Roles
from core.request import Request
from core.status_card import StatusCard, plan_buttons
from tests.support import eventually

REQUEST = "create a postgres database and a bucket for my app shop in staging"


@pytest.fixture
async def env(runtime: Runtime, worker: object) -> AsyncIterator[simcord.Env]:
    bot = InfraBot(runtime, status_interval=0)
    runtime.attach(bot.handoff())  # as bots/serve.py:run_discord hands it over; tests pump the relay themselves
    sim = simcord.Env(bot)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.shutdown()
    sim.raise_errors()


def bot_of(env: simcord.Env) -> InfraBot:
    assert isinstance(env.bot, InfraBot)
    return env.bot


def world(env: simcord.Env, name: str = "Acme") -> tuple[simcord.GuildHandle, simcord.ChannelHandle,
                                                          simcord.MemberActor]:
    guild = env.create_guild(name)
    bot_of(env).guild_ids.append(guild.id)  # a server the bot serves (DISCORD_GUILD_IDS)
    # The bot gets exactly what the invite link grants, so every test also proves it is enough.
    bot_role = next(r for r in env.backend.get_guild(guild.id).roles.values() if r.managed)
    env.backend.edit_role(guild.id, bot_role.id, {"permissions": BOT_PERMISSIONS.value})
    channel = guild.create_text_channel("infra")
    alice = guild.add_member(env.create_user("alice"))
    return guild, channel, alice


def cards(channel: simcord.ChannelHandle, bot: InfraBot) -> list[discord.Message]:
    assert bot.user is not None
    return [m for m in channel.history() if m.author.id == bot.user.id and m.embeds]


def field(message: discord.Message, name: str) -> str:
    return next(f.value or "" for f in message.embeds[0].fields if f.name == name)


def button_ids(message: discord.Message) -> list[str]:
    return [c.custom_id or "" for row in message.components for c in row.children]  # type: ignore[attr-defined]


def deferred_first(env: simcord.Env) -> bool:
    """The bot's first answer to the latest interaction was a defer (type 5), i.e. inside 3 s."""
    callbacks = [r for r in env.http_requests if r.path.endswith("/callback")]
    return bool(callbacks) and (callbacks[-1].json or {}).get("type") == 5


async def relay(env: simcord.Env, runtime: Runtime) -> None:
    """What the background relay does on a wake-up, done here so the test controls the timing."""
    await runtime.relay.pump()
    await bot_of(env).sink.flush()
    await env.settle()


_JOB_PHASE = {"waiting for approval": "awaiting_approval", "Done": "succeeded", "Cancelled": "cancelled"}


async def card_reaches(env: simcord.Env, runtime: Runtime, thread: simcord.ChannelHandle,
                       phase_text: str) -> discord.Message:
    """Waits (reading only) until the thread's latest job is durably in that phase, then relays.

    Relaying only once the worker is done keeps the test deterministic: the embedded FerretDB can
    lose a job update written concurrently with the relay's bookkeeping write.
    """
    async def job_there() -> bool:
        [request] = await requests_in(runtime, thread.id)
        job = await runtime.jobs.get(request.latest_job or "")
        return job is not None and job.phase == _JOB_PHASE[phase_text]

    await eventually(job_there, within=30)
    await relay(env, runtime)
    shown = cards(thread, bot_of(env))
    assert shown, "no status card was posted"
    assert phase_text in field(shown[-1], "Phase"), field(shown[-1], "Phase")
    return shown[-1]


async def requests_in(runtime: Runtime, thread_id: int) -> list[Request]:
    return [Request.from_doc(doc) async for doc in runtime.db.requests.find({"thread.thread": str(thread_id)})]


async def planned_thread(env: simcord.Env, channel: simcord.ChannelHandle,
                         user: simcord.MemberActor, runtime: Runtime,
                         text: str = REQUEST) -> tuple[simcord.ChannelHandle, discord.Message]:
    await user.send(channel, f"{bot_of(env).user.mention} {text}")  # type: ignore[union-attr]
    thread = channel.threads[0]
    card = await card_reaches(env, runtime, thread, "waiting for approval")
    return thread, card


async def test_mention_opens_a_thread_and_the_conversation_continues_there(
    env: simcord.Env, runtime: Runtime
) -> None:
    _, channel, alice = world(env)
    bot = bot_of(env)
    assert not bot.intents.message_content

    mention = await alice.send(channel, f"{bot.user.mention} {REQUEST}")  # type: ignore[union-attr]

    [thread] = channel.threads
    assert thread.id == mention.id  # the thread hangs off the asking message
    first = thread.history()[0]
    assert "planning" in first.content.lower() and "**shop**" in first.content
    [request] = await requests_in(runtime, thread.id)
    assert request.thread.channel == str(channel.id) and request.user == str(alice.id)

    card = await card_reaches(env, runtime, thread, "waiting for approval")
    assert field(card, "Engine").startswith("offline engine (simulated")
    approve, cancel = button_ids(card)
    # The approve id also names the plan it approves, so a stale button can't approve a newer plan.
    assert approve.startswith(f"infrabot:approve:{request.id}")
    assert cancel == f"infrabot:cancel:{request.id}"

    # Replying to the bot in its thread needs no @mention: a reply pings the bot, so Discord
    # delivers the text even without the message-content intent.
    await alice.send(thread, "status", reply_to=first)
    assert "awaiting approval" in thread.last_message.content  # type: ignore[union-attr]
    assert len(channel.threads) == 1


async def test_thread_messages_without_mention_need_the_content_intent(
    env: simcord.Env, runtime: Runtime, settings: Settings
) -> None:
    _, channel, alice = world(env)
    await alice.send(channel, f"{bot_of(env).user.mention} help")  # type: ignore[union-attr]
    [thread] = channel.threads
    before = len(thread.history())

    await alice.send(thread, "status")
    await alice.send(thread, "status again")
    texts = [m.content for m in thread.history()[before:]]
    assert sum("Message Content intent" in t for t in texts) == 1  # one hint, not one per message

    # With the privileged intent approved and requested, the same thread reads plain messages.
    reader = InfraBot(runtime, message_content=True, status_interval=0, guild_ids=bot_of(env).guild_ids)
    runtime.attach(reader.handoff())
    await env.restart_bot(reader)
    await alice.send(thread, "status")
    assert "Nothing has been requested" in thread.last_message.content  # type: ignore[union-attr]


async def test_direct_message_conversation(env: simcord.Env, runtime: Runtime) -> None:
    _, _, alice = world(env)
    await alice.send_dm(REQUEST)
    dm = alice.user.dm_channel
    assert "planning" in dm.history()[-1].content.lower()
    [request] = await requests_in(runtime, dm.id)
    assert request.thread.workspace == f"dm-{alice.id}", "each person's DMs are their own workspace"
    card = await card_reaches(env, runtime, dm, "waiting for approval")
    assert card.channel.id == dm.id


async def test_slash_command_defers_then_answers_in_a_new_thread(env: simcord.Env, runtime: Runtime) -> None:
    _, channel, alice = world(env)

    result = await alice.slash(channel, "infra", text=REQUEST)

    assert deferred_first(env) and result.acknowledged and not result.ephemeral
    assert result.response is not None and REQUEST in result.response.content
    [thread] = channel.threads
    assert thread.id == result.response.id
    assert "planning" in thread.history()[0].content.lower()
    [request] = await requests_in(runtime, thread.id)
    assert request.thread.channel == str(channel.id)
    await card_reaches(env, runtime, thread, "waiting for approval")


async def test_slash_command_inside_a_thread_follows_up_there(env: simcord.Env, runtime: Runtime) -> None:
    _, channel, alice = world(env)
    await alice.send(channel, f"{bot_of(env).user.mention} help")  # type: ignore[union-attr]
    [thread] = channel.threads

    result = await alice.slash(thread, "infra", text="status")

    assert deferred_first(env)
    assert any("Nothing has been requested" in f.content for f in result.followups)
    assert len(channel.threads) == 1


async def test_approve_applies_and_the_one_status_message_ends_as_done(
    env: simcord.Env, runtime: Runtime
) -> None:
    _, channel, alice = world(env)
    thread, card = await planned_thread(env, channel, alice, runtime)

    result = await alice.click(card, label="Approve")

    assert result.acknowledged
    assert any("Approved by" in f.content for f in result.followups)
    done = await card_reaches(env, runtime, thread, "Done")
    assert done.id == card.id  # edited in place, not a second card
    assert len(cards(thread, bot_of(env))) == 1
    assert done.components == []  # no buttons once it is applied
    assert "shop" in (done.embeds[0].title or "")
    [request] = await requests_in(runtime, thread.id)
    assert request.status == "applied"


async def test_cancel_button_cancels_and_clears_the_buttons(env: simcord.Env, runtime: Runtime) -> None:
    _, channel, alice = world(env)
    thread, card = await planned_thread(env, channel, alice, runtime)

    result = await alice.click(card, label="Cancel")

    assert any("cancelled" in f.content.lower() for f in result.followups)
    final = await card_reaches(env, runtime, thread, "Cancelled")
    assert final.id == card.id and final.components == []
    [request] = await requests_in(runtime, thread.id)
    assert request.status == "cancelled"
    assert await runtime.db.jobs.count_documents({"kind": "apply"}) == 0


async def test_unauthorised_click_is_refused_privately(env: simcord.Env, runtime: Runtime) -> None:
    guild, channel, alice = world(env)
    approvers = guild.create_role("Infra Admins")
    bob = guild.add_member(env.create_user("bob"))
    carol = guild.add_member(env.create_user("carol"), roles=[approvers])
    runtime.core.request_service.policy = Policy(roles=Roles({"approve": {"*": [f"role:{guild.id}/{approvers.id}"]}}))
    thread, card = await planned_thread(env, channel, alice, runtime)

    refused = await bob.click(card, label="Approve")

    [note] = refused.followups
    assert note.ephemeral and "not allowed" in note.content
    assert all(not m.flags.ephemeral or "not allowed" in m.content for m in thread.history())
    assert "not allowed" not in "".join(m.content for m in thread.history(viewer=alice))
    [request] = await requests_in(runtime, thread.id)
    assert request.status == "awaiting_approval"
    assert await runtime.db.jobs.count_documents({"kind": "apply"}) == 0

    allowed = await carol.click(card, label="Approve")
    assert any("Approved by" in f.content and not f.ephemeral for f in allowed.followups)
    await card_reaches(env, runtime, thread, "Done")


async def test_long_reply_is_split_into_messages_under_the_limit(env: simcord.Env, runtime: Runtime) -> None:
    _, channel, alice = world(env)
    await alice.send(channel, f"{bot_of(env).user.mention} help")  # type: ignore[union-attr]
    [thread] = channel.threads
    before = len(thread.history())
    # The core keeps its answers short; the adapter must still cope with any length it is given.
    lines = [f"• *service{i:03d}-checkout-staging*: applied (bucket, postgres)" for i in range(120)]
    long_reply = Reply(Message.parse("Your apps and stacks:\n" + "\n".join(lines)), buttons=plan_buttons("r1"))

    await send_replies(bot_of(env).get_partial_messageable(thread.id, guild_id=channel.guild.id),
                       [long_reply])
    await env.settle()

    sent = thread.history()[before:]
    assert len(sent) >= 3
    assert all(len(m.content) <= MESSAGE_LIMIT for m in sent)
    got = "\n".join(m.content for m in sent).split("\n")
    assert got == ["Your apps and stacks:", *(line.replace("*", "**") for line in lines)]
    assert [bool(m.components) for m in sent] == [False] * (len(sent) - 1) + [True]


async def test_redelivered_message_makes_no_second_request(env: simcord.Env, runtime: Runtime) -> None:
    _, channel, alice = world(env)
    mention = await alice.send(channel, f"{bot_of(env).user.mention} {REQUEST}")  # type: ignore[union-attr]
    [thread] = channel.threads
    replies_before = len(thread.history())

    # The gateway delivers the very same MESSAGE_CREATE again (as after a resume).
    env.backend.announce_message_create(env.backend.get_message(channel.id, mention.id))
    await env.settle()

    assert len(channel.threads) == 1
    assert len(thread.history()) == replies_before
    assert len(await requests_in(runtime, thread.id)) == 1
    assert await runtime.db.jobs.count_documents({"kind": "plan"}) == 1


async def test_restart_resumes_the_same_status_message_and_its_buttons(
    env: simcord.Env, runtime: Runtime, settings: Settings, services: LocalServices
) -> None:
    _, channel, alice = world(env)
    thread, card = await planned_thread(env, channel, alice, runtime)

    # A new process: fresh runtime objects and a fresh bot; only Discord and the databases remain.
    second = await build_runtime(settings, services.redis_url, services.mongodb_url)
    try:
        restarted = InfraBot(second, status_interval=0, guild_ids=bot_of(env).guild_ids)
        second.attach(restarted.handoff())
        await env.restart_bot(restarted)

        result = await alice.click(card, label="Approve")  # a button posted by the old process
        assert any("Approved by" in f.content for f in result.followups)
        [request] = await requests_in(second, thread.id)
        apply_id = request.latest_job

        async def applied() -> bool:
            job = await second.jobs.get(apply_id)
            return job is not None and job.phase == "succeeded"

        # The job finishes while nothing relays; the new process then catches up from MongoDB.
        await eventually(applied, within=30)
        done = await card_reaches(env, second, thread, "Done")
        assert done.id == card.id
        assert len(cards(thread, bot_of(env))) == 1
        assert await second.db.cards.count_documents({}) == 1
    finally:
        await second.close()


async def test_progress_edits_are_coalesced_but_the_last_state_always_lands(
    env: simcord.Env, runtime: Runtime
) -> None:
    _, channel, alice = world(env)
    thread, card = await planned_thread(env, channel, alice, runtime)
    [request] = await requests_in(runtime, thread.id)
    bot = bot_of(env)
    bot.sink.min_interval = 0.5
    ref = request.thread

    def progress(done: int, phase: str = "applying") -> StatusCard:
        return StatusCard(
            request_id=request.id, job_id="apply-x", phase=phase, title="Applying shop-staging",
            engine="offline", simulated=True, done=done, total=20, version=done, job_started=time.time() + 60,
        )

    def edits() -> int:
        return sum(1 for r in env.http_requests if r.method == "PATCH")

    before = edits()
    # Twenty updates over about a second, as a fast apply would report them.
    for done in range(1, 20):
        await bot.sink.show(ref, progress(done))
        await asyncio.sleep(0.05)
    await bot.sink.show(ref, progress(19))  # a stale repeat changes nothing
    await bot.sink.show(ref, progress(20, "succeeded"))
    await bot.sink.flush()
    await env.settle()

    assert 2 <= edits() - before <= 4
    final = cards(thread, bot)[-1]
    assert final.id == card.id
    assert "Done" in field(final, "Phase") and field(final, "Progress") == "20 of 20"


async def test_guild_ids_sync_the_command_to_those_guilds_only(runtime: Runtime, worker: object) -> None:
    sim = simcord.Env(InfraBot(runtime, guild_ids=[4242424242], status_interval=0))
    listed = sim.create_guild("Listed", id=4242424242)
    other = sim.create_guild("Other")
    await sim.start()
    try:
        inside = listed.add_member(sim.create_user("dana"))
        outside = other.add_member(sim.create_user("erin"))
        here, there = listed.create_text_channel("infra"), other.create_text_channel("infra")
        assert "infra" in inside.available_commands(here)
        assert "infra" not in outside.available_commands(there)
        result = await inside.slash(here, "infra", text="help")
        assert result.acknowledged and len(here.threads) == 1
    finally:
        await sim.shutdown()
    sim.raise_errors()


async def test_run_discord_without_a_token_says_so(runtime: Runtime) -> None:
    assert runtime.settings.discord_token is None
    with pytest.raises(SystemExit, match="DISCORD_TOKEN"):
        await run_discord(runtime)


async def test_a_card_posted_just_before_a_crash_is_adopted_not_posted_twice(
    env: simcord.Env, runtime: Runtime
) -> None:
    _, channel, alice = world(env)
    thread, card = await planned_thread(env, channel, alice, runtime)
    # As if the process died after posting the card but before storing where it is: only the intent
    # to post, stored before the post, remains.
    await runtime.db.cards.update_many({}, {"$unset": {"ref": "", "version": "", "job_started": ""},
                                            "$set": {"posting": True}})

    await alice.click(card, label="Cancel")
    final = await card_reaches(env, runtime, thread, "Cancelled")

    assert final.id == card.id
    assert len(cards(thread, bot_of(env))) == 1
    assert await runtime.db.cards.count_documents({}) == 1


async def test_a_deleted_thread_does_not_keep_the_relay_retrying(env: simcord.Env, runtime: Runtime) -> None:
    _, channel, alice = world(env)
    thread, _ = await planned_thread(env, channel, alice, runtime)
    [request] = await requests_in(runtime, thread.id)
    env.backend.delete_channel(thread.id)
    await env.settle()
    final = StatusCard(request_id=request.id, job_id=request.latest_job, phase="cancelled",
                       title="Plan for shop-staging cancelled", engine="offline", simulated=True, version=99,
                       job_started=time.time() + 60)

    # CardUndeliverable makes the relay dead-letter the job instead of retrying it on every pass.
    with pytest.raises(CardUndeliverable):
        await bot_of(env).sink.show(request.thread, final)


async def test_a_mention_where_no_thread_can_be_opened_is_answered_in_the_channel(
    env: simcord.Env, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, channel, alice = world(env)

    async def forbidden(self: discord.Message, **kwargs: object) -> discord.Thread:
        # What Discord answers when the bot lacks Create Public Threads in that channel.
        response = SimpleNamespace(status=403, reason="Forbidden")
        raise discord.Forbidden(response, {"code": 50013, "message": "Missing Permissions"})  # type: ignore[arg-type]

    monkeypatch.setattr(discord.Message, "create_thread", forbidden)

    await alice.send(channel, f"{bot_of(env).user.mention} {REQUEST}")  # type: ignore[union-attr]

    assert channel.threads == []
    said = [m.content for m in channel.history() if m.author.id == bot_of(env).user.id]  # type: ignore[union-attr]
    assert any("couldn't open a thread" in s for s in said)
    assert any("planning" in s.lower() for s in said), "the request itself is still answered"
    [request] = [Request.from_doc(r) async for r in runtime.db.requests.find({})]
    assert request.thread.channel == str(channel.id)


async def test_a_second_dm_user_can_neither_destroy_nor_plan_over_the_first_users_dm_stack(
    env: simcord.Env, runtime: Runtime
) -> None:
    guild, _, alice = world(env)
    bob = guild.add_member(env.create_user("bob"))
    await alice.send_dm("create a bucket for my app shop in staging")
    dm_a = alice.user.dm_channel
    await card_reaches(env, runtime, dm_a, "waiting for approval")
    await alice.send_dm("apply")
    await card_reaches(env, runtime, dm_a, "Done")

    await bob.send_dm("destroy shop-staging")
    dm_b = bob.user.dm_channel
    assert "don't know a live stack" in dm_b.history()[-1].content
    await bob.send_dm("shop-staging")  # as if answering a confirmation he was never asked
    await bob.send_dm("create a bucket and a postgres database for my app shop in staging")
    assert "already used by another team" in dm_b.history()[-1].content

    [request] = [r async for r in runtime.db.requests.find({})]
    assert request["thread"]["workspace"] == f"dm-{alice.id}" and request["status"] == "applied"
    assert await runtime.db.jobs.count_documents({"kind": "destroy"}) == 0
    refused = await runtime.audit.list(event="refused", reason="stack owned by another workspace")
    assert [r["owner"] for r in refused] == [f"discord:dm-{alice.id}"]


async def test_a_server_not_in_discord_guild_ids_gets_one_line_and_nothing_else(
    env: simcord.Env, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    world(env)  # the served server, so the bot has a list at all
    stranger = env.create_guild("Mallory's server")
    channel = stranger.create_text_channel("infra")
    mallory = stranger.add_member(env.create_user("mallory"))
    bot = bot_of(env)
    assert stranger.id not in bot.guild_ids

    await mallory.send(channel, f"{bot.user.mention} {REQUEST}")  # type: ignore[union-attr]
    await mallory.send(channel, "chatter not addressed to the bot")
    slash = await mallory.slash(channel, "infra", text=REQUEST)
    # Sharing her own server with the bot lets her DM it; a DM is served only to members of a listed server.
    await mallory.send_dm(REQUEST)
    assert [m.content for m in mallory.user.dm_channel.history() if m.author.id == bot.user.id] == [  # type: ignore[union-attr]
        DM_REFUSAL]

    said = [m.content for m in channel.history() if m.author.id == bot.user.id]  # type: ignore[union-attr]
    assert said == [GUILD_REFUSAL]
    assert channel.threads == []
    assert slash.ephemeral and slash.response is not None and slash.response.content == GUILD_REFUSAL
    assert not deferred_first(env), "refused outright, not deferred into a request"
    assert await runtime.db.requests.count_documents({}) == 0
    assert await runtime.db.history.count_documents({}) == 0
    assert [k async for k in runtime.redis.scan_iter(match=f"infrabot:*discord:{stranger.id}:*")] == []
    refused = await runtime.audit.list(event="refused", reason="server not in DISCORD_GUILD_IDS")
    assert sorted(r["action"] for r in refused) == ["/infra", "message"]
    assert {(r["workspace"], r["user"]) for r in refused} == {(str(stranger.id), str(mallory.id))}
    [dm] = await runtime.audit.list(event="refused", reason="DM from someone in no server of DISCORD_GUILD_IDS")
    assert (dm["workspace"], dm["user"]) == (f"dm-{mallory.id}", str(mallory.id))
    assert "not in DISCORD_GUILD_IDS" in caplog.text


async def test_a_role_named_like_the_configured_one_in_another_server_grants_nothing(
    env: simcord.Env, runtime: Runtime
) -> None:
    guild, channel, alice = world(env)
    admins = guild.create_role("Infra Admins")
    carol = guild.add_member(env.create_user("carol"), roles=[admins])
    other, other_channel, dave = world(env, "Other")
    lookalike = other.create_role("Infra Admins")  # same name, its own id
    mallory = other.add_member(env.create_user("mallory"), roles=[lookalike])
    runtime.core.request_service.policy = Policy(roles=Roles({"approve": {"*": [f"role:{guild.id}/{admins.id}"]}}))

    thread, card = await planned_thread(env, other_channel, dave, runtime)
    refused = await mallory.click(card, label="Approve")
    assert any("not allowed" in f.content and f.ephemeral for f in refused.followups)
    [request] = await requests_in(runtime, thread.id)
    assert request.status == "awaiting_approval"

    home_thread, home_card = await planned_thread(env, channel, alice, runtime, REQUEST.replace("shop", "cart"))
    allowed = await carol.click(home_card, label="Approve")
    assert any("Approved by" in f.content for f in allowed.followups)
    await card_reaches(env, runtime, home_thread, "Done")
    assert await runtime.db.jobs.count_documents({"kind": "apply"}) == 1


def _sent_payloads(env: simcord.Env) -> list[tuple[str, str, dict[str, Any]]]:
    """Every message the bot created or edited, as (method, path, payload) from its REST log."""
    sent = []
    for request in env.http_requests:
        body = request.json if isinstance(request.json, dict) else {}
        payload = body.get("data") if isinstance(body.get("data"), dict) else body
        if request.method in ("POST", "PATCH") and ("content" in payload or "embeds" in payload):
            sent.append((request.method, request.path, payload))
    return sent


async def test_no_message_the_bot_sends_or_edits_can_ping_anyone(env: simcord.Env, runtime: Runtime) -> None:
    guild, channel, alice = world(env)
    bot = bot_of(env)
    stranger = env.create_guild("Elsewhere")
    elsewhere = stranger.create_text_channel("general")
    mallory = stranger.add_member(env.create_user("mallory"))
    loud = f"@everyone @here <@&{guild.id}> <@{alice.id}> {REQUEST}"

    await alice.send(channel, f"{bot.user.mention} {loud}")  # type: ignore[union-attr]
    thread = channel.threads[0]
    card = await card_reaches(env, runtime, thread, "waiting for approval")
    await alice.send(thread, f"{bot.user.mention} what is @everyone doing", reply_to=card)  # type: ignore[union-attr]
    await alice.slash(channel, "infra", text=f"@everyone {REQUEST.replace('shop', 'blog')}")
    await alice.click(card, label="Approve")
    await card_reaches(env, runtime, thread, "Done")
    await alice.send_dm(f"@here {REQUEST.replace('shop', 'cart')}")
    await mallory.send(elsewhere, f"{bot.user.mention} @everyone")  # type: ignore[union-attr]
    await relay(env, runtime)

    sent = _sent_payloads(env)
    kinds = {(m, p.split("/")[1]) for m, p, _ in sent}
    assert {("POST", "channels"), ("PATCH", "channels"), ("POST", "webhooks"), ("PATCH", "webhooks")} <= kinds, kinds
    bare = [(m, p) for m, p, payload in sent if payload.get("allowed_mentions") != {"parse": []}]
    assert bare == [], "every send and edit carries allowed_mentions that allow nothing"
    assert any("@everyone" in (payload.get("content") or "") for _, _, payload in sent), "echoed, as text"
    # The bot's own mention of the person who acted is still shown, as a mention that pings nobody.
    assert any(f"Approved by <@{alice.id}>" in (payload.get("content") or "") for _, _, payload in sent)
