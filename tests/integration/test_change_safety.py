"""Change safety, tried as an attacker and as a careless user would: only the plan its approver saw, in its
own thread, ever reaches the engine. Real Redis, FerretDB, arq worker and offline engine throughout."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bots.runtime import Runtime
from bots.web.app import web_thread
from config.settings import Settings
from core.draft import Draft
from core.job import Phase
from core.messages import ActionEvent, IncomingMessage, ThreadRef
from core.policy import Guardrails, Policy, Roles
from core.request import Request, Status
from core.requests import Actor
from core.spec import Component, InfraSpec
from core.status_card import button_ref
from infra.locks import StackLock
from infra.offline import OfflineEngine
from infra.state import FileStateStore
from jobs.stores.redis_state import RedisStatusSignal
from jobs.worker import tasks
from tests.conversation_chat import Chat
from tests.support import eventually
from tests.web_chat import card, press, say

BUCKET = "create a bucket for my app shop in staging"
BUCKET_AND_DB = "create a bucket and a postgres database for my app shop in staging"


async def only_request(runtime: Runtime, thread: str) -> Request:
    [doc] = [d async for d in runtime.db.requests.find({"thread_key": web_thread(thread).key()})]
    return Request.from_doc(doc)


async def planned(client: httpx.AsyncClient, runtime: Runtime, thread: str, text: str,
                  user: str = "ana") -> tuple[Request, str]:
    """A request in `thread` whose plan is shown there; returns it and its Approve button's ref."""
    await say(client, thread, text, user)
    request = await only_request(runtime, thread)
    shown = await card(runtime, thread, f"plan-{request.id}-{request.revision}", "awaiting_approval")
    [approve] = [b["request_id"] for b in shown["buttons"] if b["action"] == "approve"]
    fresh = await runtime.requests.get(request.id)
    assert fresh is not None
    return fresh, approve


async def refusals(runtime: Runtime, **query: Any) -> list[dict[str, Any]]:
    return await runtime.audit.list(event="refused", **query)


async def apply_jobs(runtime: Runtime) -> int:
    return await runtime.db.jobs.count_documents({"kind": "apply"})


def names_where(row: dict[str, Any], platform: str, workspace: str, thread: str, user: str) -> bool:
    return (row["platform"], row["workspace"], row["thread"]["thread"], row["user"]) == (
        platform, workspace, thread, user)


# Actions only from where the request lives


async def test_an_approve_from_another_web_thread_changes_nothing(
    client: httpx.AsyncClient, runtime: Runtime, worker: object
) -> None:
    request, ref = await planned(client, runtime, "victim", BUCKET)

    reply = await press(client, "attacker", ref, user="mallory")
    assert "another conversation" in reply and "Nothing was changed" in reply
    reply = await press(client, "attacker", request.id, user="mallory", action="cancel")
    assert "another conversation" in reply

    after = await runtime.requests.get(request.id)
    assert after is not None and after.status == Status.AWAITING_APPROVAL and not after.approvals
    assert await apply_jobs(runtime) == 0
    rows = await refusals(runtime, request_id=request.id)
    assert [(r["action"], r["reason"]) for r in rows] == [
        ("approve", "acted on from outside the request's own thread"),
        ("cancel", "acted on from outside the request's own thread")]
    assert all(names_where(r, "web", "local", "attacker", "mallory") for r in rows)
    assert rows[0]["request_thread"]["thread"] == "victim"


async def test_the_web_api_cannot_approve_a_slack_request_by_its_id(
    client: httpx.AsyncClient, runtime: Runtime, worker: object
) -> None:
    slack = ThreadRef("slack", "T0001", "C1", "1800000000.000100")
    spec = InfraSpec(app="shop", environment="staging", components=[Component(kind="bucket")])
    request_id, _ = await runtime.core.request_service.start(Actor(slack, "U1", (), "slack:T0001:ev-1"),
                                                 Draft.from_spec(spec), "a bucket")
    assert request_id

    async def waiting() -> Request | None:
        found = await runtime.requests.get(request_id)
        return found if found and found.status == Status.AWAITING_APPROVAL else None

    request = await eventually(waiting)
    # Even with the exact ref its Slack button carries, and the Slack user's own name.
    reply = await press(client, "anywhere", button_ref(request.id, request.plan_hash), user="U1")
    assert "another conversation" in reply
    assert (await runtime.requests.get(request_id)).status == Status.AWAITING_APPROVAL  # type: ignore[union-attr]
    assert await apply_jobs(runtime) == 0
    [row] = await refusals(runtime, request_id=request_id)
    assert names_where(row, "web", "local", "anywhere", "U1")


async def test_a_slack_button_pressed_in_another_channel_is_refused(runtime: Runtime, worker: object) -> None:
    home = Chat(runtime, "home", user="U1", platform="slack", workspace="T0001")
    await home.say(BUCKET)
    request = await home.reach("awaiting_approval")
    elsewhere = ThreadRef("slack", "T0001", "C-OTHER", "1800000000.000999")
    [reply] = await runtime.core.handle_action(
        ActionEvent(elsewhere, "U1", button_ref(request.id, request.plan_hash), "approve", "press-elsewhere"))
    assert "another conversation" in reply.text
    foreign = ThreadRef("slack", "T-FOREIGN", "c1", "home")
    [reply] = await runtime.core.handle_action(
        ActionEvent(foreign, "U1", button_ref(request.id, request.plan_hash), "approve", "press-foreign"))
    assert "another conversation" in reply.text
    assert (await home.request()).status == Status.AWAITING_APPROVAL
    assert len(await refusals(runtime, request_id=request.id)) == 2


async def test_a_guessed_or_forged_request_id_finds_nothing_and_is_recorded(
    client: httpx.AsyncClient, runtime: Runtime, worker: object
) -> None:
    request, _ = await planned(client, runtime, "ids", BUCKET)
    assert re.fullmatch(r"r[a-z2-7]{24}", request.id), "120 random bits, nothing derived from the event"
    other, _ = await planned(client, runtime, "ids-2", "create a bucket for my app blog in staging")
    assert other.id != request.id and other.id[:6] != request.id[:6]
    reply = await press(client, "ids", "r" + "a" * 24 + ".0123456789abcdef", user="mallory")
    assert "can't find that request" in reply
    [row] = await refusals(runtime, reason="unknown request")
    assert names_where(row, "web", "local", "ids", "mallory")


async def test_a_redelivered_event_makes_one_request(runtime: Runtime) -> None:
    thread = ThreadRef("web", "local", "web", "dup")
    spec = InfraSpec(app="shop", components=[Component(kind="bucket")])
    actor = Actor(thread, "ana", (), "web:local:the-same-event")
    results = await asyncio.gather(*(runtime.core.request_service.start(actor, Draft.from_spec(spec),
                                                                        "x") for _ in range(5)))
    again = await runtime.core.request_service.start(actor, Draft.from_spec(spec), "x")
    ids = {request_id for request_id, _ in [*results, again]}
    assert len(ids) == 1 and None not in ids
    assert await runtime.db.requests.count_documents({}) == 1
    assert await runtime.db.jobs.count_documents({}) == 1
    assert len(await runtime.audit.list(event="requested")) == 1


# Approval bound to the plan that was shown


async def test_the_superseded_plan_never_applies_and_the_database_survives(
    client: httpx.AsyncClient, runtime: Runtime, worker: object, settings: Settings
) -> None:
    """Thread A waits with a bucket for shop; thread B plans and applies bucket + postgres for shop; then
    `apply` in A must not apply A's old plan, which would delete B's database."""
    old, old_ref = await planned(client, runtime, "thread-a", BUCKET)
    new, _ = await planned(client, runtime, "thread-b", BUCKET_AND_DB)
    assert "Approved by" in await say(client, "thread-b", "apply")
    await card(runtime, "thread-b", f"apply-{new.id}-{new.plan_hash}", "succeeded")
    state = FileStateStore(Path(settings.data_dir) / "offline-state")
    built = state.get("shop-staging")
    assert built is not None and any("sql/databaseInstance" in key for key in built["resources"]), "B's database"

    superseded = await card(runtime, "thread-a", f"plan-{old.id}-1", "cancelled")
    assert "Superseded" in superseded["text"] and not superseded["buttons"]
    reply = await say(client, "thread-a", "apply")
    assert "superseded" in reply and "nothing was applied" in reply
    reply = await press(client, "thread-a", old_ref, user="ana")
    assert "superseded" in reply and "nothing was applied" in reply

    assert (await runtime.requests.get(old.id)).status == Status.SUPERSEDED  # type: ignore[union-attr]
    assert await apply_jobs(runtime) == 1
    assert state.get("shop-staging") == built, "the database is still there"
    [row] = await runtime.audit.list(event="superseded")
    assert (row["request_id"], row["by_request"]) == (old.id, new.id)


async def test_an_older_plan_is_not_approvable_once_a_newer_one_exists_for_the_stack(
    client: httpx.AsyncClient, runtime: Runtime, worker: object
) -> None:
    old, old_ref = await planned(client, runtime, "older", BUCKET)
    await planned(client, runtime, "newer", BUCKET_AND_DB)
    for reply in (await say(client, "older", "apply"), await press(client, "older", old_ref, user="ana")):
        assert "newer plan" in reply and "nothing was applied" in reply
    assert await apply_jobs(runtime) == 0
    rows = await refusals(runtime, request_id=old.id)
    assert [r["reason"] for r in rows] == ["a newer plan exists for the stack"] * 2
    # A fresh plan here is newest again, and can be approved.
    assert "Planning *shop-staging* again" in await say(client, "older", "plan again")
    fresh = await card(runtime, "older", f"plan-{old.id}-2", "awaiting_approval")
    assert fresh["buttons"]
    assert "Approved by" in await say(client, "older", "apply")


async def test_a_typed_apply_approves_only_the_plan_shown_in_the_thread(runtime: Runtime, worker: object) -> None:
    chat = Chat(runtime, "typed")
    await chat.say(BUCKET)
    first = await chat.reach("awaiting_approval")
    await chat.say("add a redis")
    # The new plan is ready, but its card has not reached the thread yet: no relay pass before this turn.
    second = await chat.reach("awaiting_approval")
    assert second.plan_hash != first.plan_hash and second.shown_plan_hash is None
    [reply] = await runtime.core.handle_message(
        IncomingMessage(thread=chat.thread, user="ana", text="apply", event_id="unseen-apply"))
    assert "hasn't been shown here yet" in reply.text
    assert (await chat.request()).status == Status.AWAITING_APPROVAL
    [row] = await refusals(runtime, request_id=first.id)
    assert row["reason"] == "no plan was shown in this thread yet"
    assert "Approved by" in await chat.say("apply"), "once the card is shown, `apply` approves it"
    assert (await chat.request()).approved_plan_hash == second.plan_hash


async def test_a_plan_older_than_the_ttl_expires(runtime: Runtime, worker: object) -> None:
    chat = Chat(runtime, "ttl")
    await chat.say(BUCKET)
    request = await chat.reach("awaiting_approval")
    day_ago = datetime.now(UTC) - timedelta(seconds=runtime.settings.plan_ttl_seconds + 60)
    await runtime.db.requests.update_one({"_id": request.id}, {"$set": {"plan.created_at": day_ago}})
    reply = await chat.say("apply")
    assert "has expired" in reply and "plan again" in reply
    assert (await chat.request()).status == Status.EXPIRED
    assert await apply_jobs(runtime) == 0
    [row] = await refusals(runtime, request_id=request.id)
    assert row["reason"] == "the plan expired" and names_where(row, "web", "local", "ttl", "ana")
    assert "expired" in await chat.say("apply")
    assert "again" in await chat.say("plan again")
    await chat.reach("awaiting_approval")
    assert "Approved by" in await chat.say("apply")
    await chat.reach("applied")


def test_plan_ttl_defaults_to_a_day() -> None:
    assert Settings(_env_file=None).plan_ttl_seconds == 24 * 3600  # type: ignore[call-arg]
    assert Settings(_env_file=None, plan_ttl_seconds=600).plan_ttl_seconds == 600  # type: ignore[call-arg]


# Only the requester owns the plan


async def test_a_non_requester_who_revises_a_request_still_needs_approve(runtime: Runtime, worker: object) -> None:
    runtime.core.request_service.policy = Policy(roles=Roles({"approve": {"*": ["carol"]}}))
    ana = Chat(runtime, "owner", user="ana")
    await ana.say(BUCKET)
    await ana.reach("awaiting_approval")
    assert "Updated" in await ana.say("add a redis", user="bob")
    request = await ana.reach("awaiting_approval")
    assert request.authors == ["ana", "bob"] and request.user == "ana"
    refused = await ana.say("apply", user="bob")
    assert "not allowed to approve" in refused and "Nothing was changed" in refused
    assert (await ana.request()).status == Status.AWAITING_APPROVAL
    [row] = await refusals(runtime, request_id=request.id)
    assert row["action"] == "approve" and names_where(row, "web", "local", "owner", "bob")
    approved = await ana.say("apply")
    assert "Approved by" in approved and "ana" in approved, "the requester owns the plan"


# Guardrails on size and money


async def test_the_monthly_cost_cap_refuses_before_planning_with_the_figure(runtime: Runtime) -> None:
    runtime.core.request_service.policy = Policy(guardrails=Guardrails(max_monthly_cost_usd={"staging": 5.0}))
    chat = Chat(runtime, "cost")
    reply = await chat.say("create a postgres database for my app shop in staging")
    assert re.search(r"estimated cost of about \$[\d,]+\.\d\d/month is above the \$5\.00/month limit for staging",
                     reply), reply
    assert await runtime.db.requests.count_documents({}) == 0
    [row] = await refusals(runtime)
    assert "limit for staging" in row["reason"] and names_where(row, "web", "local", "cost", "ana")


async def test_the_cost_cap_also_holds_at_approval(runtime: Runtime, worker: object) -> None:
    chat = Chat(runtime, "cost-later")
    await chat.say("create a postgres database for my app shop in staging")
    request = await chat.reach("awaiting_approval")
    assert request.plan is not None and request.plan.monthly_cost_usd
    runtime.core.request_service.policy = Policy(guardrails=Guardrails(max_monthly_cost_usd={"staging": 1.0}))
    reply = await chat.say("apply")
    assert f"${request.plan.monthly_cost_usd:,.2f}/month" in reply and "$1.00/month limit" in reply
    assert await apply_jobs(runtime) == 0


async def test_the_component_cap_refuses_with_the_count(runtime: Runtime) -> None:
    spec = InfraSpec(app="huge", components=[Component(kind=k, count=10) for k in ("bucket", "queue", "secret")])
    actor = Actor(ThreadRef("web", "local", "web", "huge"), "ana", (), "web:local:huge")
    request_id, reply = await runtime.core.request_service.start(actor, Draft.from_spec(spec), "30 things")
    assert request_id is None
    assert "30 components" in reply.text and "at most 20" in reply.text
    assert await runtime.db.requests.count_documents({}) == 0
    assert len(await refusals(runtime)) == 1


def test_the_caps_default_per_environment() -> None:
    rails = Guardrails()
    assert rails.max_monthly_cost_usd == {"dev": 500.0, "staging": 2000.0, "prod": 10000.0}
    assert rails.max_components == 20


# Applied = approved, in the worker


def _ctx(runtime: Runtime, engine: OfflineEngine) -> dict[str, Any]:
    deps = tasks.Deps(jobs=runtime.jobs, requests=runtime.requests, audit=runtime.audit,
                      signal=RedisStatusSignal(runtime.redis), engine=engine, lock=StackLock(runtime.redis),
                      queue=runtime.core.request_service.queue)
    return {"deps": deps, "job_try": 1}


async def test_an_out_of_date_plan_applies_nothing_and_a_fresh_plan_follows(
    runtime: Runtime, tmp_path: Path
) -> None:
    state = FileStateStore(tmp_path / "state")
    ctx = _ctx(runtime, OfflineEngine(state))
    thread = ThreadRef("web", "local", "web", "ood")
    spec = InfraSpec(app="shop", environment="staging", components=[Component(kind="bucket")])
    request_id, _ = await runtime.core.request_service.start(Actor(thread, "ana", (), "web:local:ood"),
                                                 Draft.from_spec(spec), "bucket")
    assert request_id and await tasks.plan(ctx, f"plan-{request_id}-1") == "planned"
    request = await runtime.requests.get(request_id)
    assert request is not None and request.plan is not None
    await runtime.core.request_service.approve(Actor(thread, "ana", (), "web:local:ok"), request, request.plan_hash)
    # The stack moves on behind the approval's back (someone else's apply).
    bigger = InfraSpec(app="shop", environment="staging",
                       components=[Component(kind="bucket"), Component(kind="postgres")])
    await ctx["deps"].engine.apply(bigger, _quiet)
    moved_on = state.get("shop-staging")

    apply_id = f"apply-{request_id}-{request.plan_hash}"
    assert await tasks.apply(ctx, apply_id) == "out_of_date"
    assert await tasks.apply(ctx, apply_id) == "skipped", "a second run of the job changes nothing"
    assert state.get("shop-staging") == moved_on, "nothing was applied"
    after = await runtime.requests.get(request_id)
    assert after is not None and (after.status, after.revision, after.plan) == (Status.PLANNING, 2, None)
    fresh = await runtime.jobs.get(f"plan-{request_id}-2")
    assert fresh is not None and fresh.phase == Phase.QUEUED and "out of date" in fresh.note
    assert (await runtime.jobs.get(apply_id)).phase == Phase.CANCELLED  # type: ignore[union-attr]
    assert await tasks.plan(ctx, f"plan-{request_id}-2") == "planned"
    shown = await runtime.jobs.get(f"plan-{request_id}-2")
    assert shown is not None and "the plan is out of date" in shown.result["lines"][0].lower()
    [row] = await runtime.audit.list(event="plan_out_of_date")
    assert names_where(row, "web", "local", "ood", "ana")


async def _quiet(done: int, total: int, message: str) -> None:
    return None


async def test_a_stale_destroy_button_does_not_start_a_later_destroy(
    client: httpx.AsyncClient, runtime: Runtime, worker: object
) -> None:
    request, _ = await planned(client, runtime, "prod", "create a bucket for my app shop in prod")
    assert "Approved by" in await press(client, "prod", button_ref(request.id, request.plan_hash), user="bob")
    await card(runtime, "prod", f"apply-{request.id}-{request.plan_hash}", "succeeded")

    async def destroy_buttons() -> str:
        await say(client, "prod", "destroy shop-prod", user="ana")
        reply = await client.post("/api/chat", json={"thread": "prod", "user": "ana", "text": "shop-prod"})
        [first] = [b["request_id"] for r in reply.json()["replies"] for b in r["buttons"] if b["action"] == "approve"]
        return str(first)

    first = await destroy_buttons()
    assert "cancelled" in await press(client, "prod", request.id, user="ana", action="cancel")
    second = await destroy_buttons()
    assert first != second and first.startswith(request.id + ".d") and "." in second
    reply = await press(client, "prod", first, user="bob")
    assert "nothing was applied" in reply or "older" in reply
    assert (await runtime.requests.get(request.id)).status == Status.DESTROY_REQUESTED  # type: ignore[union-attr]
    assert "Destroying" in await press(client, "prod", second, user="bob")
    row = (await refusals(runtime, request_id=request.id))[-1]
    assert row["reason"] == "the approval names another destroy"


async def test_every_audit_row_names_platform_workspace_thread_and_user(
    client: httpx.AsyncClient, runtime: Runtime, worker: object
) -> None:
    request, _ = await planned(client, runtime, "audited", BUCKET)
    assert "Approved by" in await say(client, "audited", "apply")
    await card(runtime, "audited", f"apply-{request.id}-{request.plan_hash}", "succeeded")
    await press(client, "intruder", request.id, user="eve", action="cancel")
    rows = await runtime.audit.list()
    assert {r["event"] for r in rows} >= {"requested", "planned", "approved", "applied", "refused"}
    for row in rows:
        assert {"platform", "workspace", "thread", "user"} <= set(row), row
        assert row["platform"] == "web" and row["workspace"] == "local"
