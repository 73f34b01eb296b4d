"""Guardrails, roles and plan-bound approvals, end to end: chat in, real Redis/FerretDB/arq worker behind."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bots.runtime import Runtime, build_runtime
from config.local_services import LocalServices
from config.settings import Settings
from core.draft import Draft
from core.messages import ActionEvent, IncomingMessage, ThreadRef, mention
from core.request import Request
from core.requests import Actor
from core.spec import Component, InfraSpec
from core.status_card import button_ref
from jobs.worker.main import make_worker
from tests.support import eventually, running
from tests.web_chat import card, press, say

STAGING = "create a postgres database and a bucket for my app shop in staging"
PROD = "create a postgres database and a bucket for my app shop in prod"


def approve_ref(shown: dict[str, Any]) -> str:
    [ref] = [b["request_id"] for b in shown["buttons"] if b["action"] == "approve"]
    return str(ref)


async def apply_jobs(runtime: Runtime) -> int:
    return await runtime.db.jobs.count_documents({"kind": "apply"})


async def audit(runtime: Runtime, **query: Any) -> list[dict[str, Any]]:
    return await runtime.audit.list(**query)


async def test_an_old_approve_button_never_applies_a_changed_request(
    client: httpx.AsyncClient, runtime: Runtime, worker: object
) -> None:
    reply = await say(client, "bind", STAGING)
    assert "planning" in reply.lower()
    [request] = [Request.from_doc(r) async for r in runtime.db.requests.find({})]
    rid = request.id
    first = await card(runtime, "bind", f"plan-{rid}-1", "awaiting_approval")
    old = approve_ref(first)
    hash1 = (await runtime.requests.get(rid)).plan.hash  # type: ignore[union-attr]
    assert old == button_ref(rid, hash1), "the button carries the plan it approves"

    changed = await say(client, "bind", "make it medium")
    assert "re-planning" in changed and "no longer applies" in changed

    refused = await press(client, "bind", old, user="ana")
    assert "older plan" in refused and "nothing was applied" in refused

    second = await card(runtime, "bind", f"plan-{rid}-2", "awaiting_approval")
    new = approve_ref(second)
    request = await runtime.requests.get(rid)
    assert request is not None and request.status == "awaiting_approval"
    hash2 = request.plan.hash
    assert hash2 != hash1 and new == button_ref(rid, hash2)
    assert request.spec.size == "medium"

    still_refused = await press(client, "bind", old, user="ana")
    assert "older plan" in still_refused
    assert (await runtime.requests.get(rid)).status == "awaiting_approval"  # type: ignore[union-attr]
    assert await apply_jobs(runtime) == 0

    approved = await press(client, "bind", new, user="ana")
    assert "Approved by" in approved
    again = await press(client, "bind", new, user="ana")  # a second press, its own event id
    assert "already" in again
    await card(runtime, "bind", f"apply-{rid}-{hash2}", "succeeded")
    assert await apply_jobs(runtime) == 1

    stale = await audit(runtime, request_id=rid, event="refused")
    assert [(r["action"], r["plan_hash"], r["reason"]) for r in stale] == [
        ("approve", hash1, "the Approve button belongs to an older plan")] * 2
    [approval] = await audit(runtime, request_id=rid, event="approved")
    [applied] = await audit(runtime, request_id=rid, event="applied")
    assert approval["plan_hash"] == applied["plan_hash"] == hash2


async def test_prod_needs_someone_other_than_any_author(
    client: httpx.AsyncClient, runtime: Runtime, worker: object
) -> None:
    await say(client, "prod", PROD, user="ana")
    [request] = [Request.from_doc(r) async for r in runtime.db.requests.find({})]
    rid = request.id
    # The prod floor raised the database (not the bucket) from the default small to medium.
    assert {c.kind: c.size for c in request.spec.components} == {"postgres": "medium", "bucket": None}
    await card(runtime, "prod", f"plan-{rid}-1", "awaiting_approval")

    own = await say(client, "prod", "apply", user="ana")
    assert own == "Sorry, prod changes need approval from someone other than the requester. Nothing was changed."

    # Bob changes the request: now he is an author too, so he cannot be its second person.
    await say(client, "prod", "make it medium", user="bob")
    shown = await card(runtime, "prod", f"plan-{rid}-2", "awaiting_approval")
    by_bob = await press(client, "prod", approve_ref(shown), user="bob")
    assert "someone other than the requester" in by_bob
    by_ana = await press(client, "prod", approve_ref(shown), user="ana")
    assert "someone other than the requester" in by_ana
    assert await apply_jobs(runtime) == 0

    by_carol = await press(client, "prod", approve_ref(shown), user="carol")
    assert "Approved by @carol" in by_carol
    plan_hash = (await runtime.requests.get(rid)).plan.hash  # type: ignore[union-attr]
    await card(runtime, "prod", f"apply-{rid}-{plan_hash}", "succeeded")
    refusals = await audit(runtime, request_id=rid, event="refused")
    assert [(r["user"], r["action"], r["environment"]) for r in refusals] == [
        ("ana", "approve", "prod"), ("bob", "approve", "prod"), ("ana", "approve", "prod")]
    final = await runtime.requests.get(rid)
    assert final is not None and final.authors == ["ana", "bob"] and final.status == "applied"
    assert [a.user for a in final.approvals] == ["carol"]


async def test_guardrails_refuse_in_chat_and_are_recorded(client: httpx.AsyncClient, runtime: Runtime) -> None:
    refused = await say(client, "rails", "create a postgres database for my app shop, size large")
    assert refused.startswith("I can't plan that: large postgres is above the largest size allowed in dev")
    assert await runtime.db.requests.count_documents({}) == 0
    [record] = await audit(runtime, event="refused")
    assert (record["user"], record["action"], record["environment"], record["stack"]) == (
        "ana", "request", "dev", "shop-dev")

    # The refused draft is kept, so saying what to change is enough.
    started = await say(client, "rails", "make it medium")
    assert "planning" in started.lower()
    bigger = await say(client, "rails", "make it large")
    assert bigger.startswith("I can't change it that way: large postgres is above")
    [request] = [Request.from_doc(r) async for r in runtime.db.requests.find({})]
    assert request.revision == 1 and request.spec.size == "medium"
    assert len(await audit(runtime, event="refused")) == 2


@pytest.fixture
async def ruled(settings: Settings, services: LocalServices) -> AsyncIterator[Runtime]:
    """A runtime whose roles come from ROLE_RULES, exactly as `infrabot` would build it."""
    rules = ('{"request": {"prod": ["role:T1/SDEVS"]}, "approve": {"prod": ["role:T1/SADMINS"]},'
             ' "destroy": {"*": []}}')
    configured = Settings(**{**settings.model_dump(), "role_rules": rules})
    rt = await build_runtime(configured, services.redis_url, services.mongodb_url)
    async with running(make_worker(configured, services.redis_url, services.mongodb_url)):
        yield rt
    await rt.close()


async def test_roles_from_settings_decide_who_may_request_approve_and_destroy(ruled: Runtime) -> None:
    thread = ThreadRef("slack", "T1", "C1", f"{uuid.uuid4().int % 10**6}.0001")

    async def tell(user: str, text: str, roles: tuple[str, ...] = ()) -> str:
        replies = await ruled.core.handle_message(IncomingMessage(thread, user, text, uuid.uuid4().hex, roles))
        return "\n".join(r.text for r in replies)

    async def click(user: str, ref: str, roles: tuple[str, ...] = ()) -> str:
        replies = await ruled.core.handle_action(ActionEvent(thread, user, ref, "approve", uuid.uuid4().hex, roles))
        return "\n".join(r.text for r in replies)

    assert "not allowed to request changes in prod" in await tell("U_MAL", PROD)
    assert await ruled.db.requests.count_documents({}) == 0
    assert "planning" in (await tell("U_ANA", PROD, ("T1/SDEVS",))).lower()
    [request] = [Request.from_doc(r) async for r in ruled.db.requests.find({})]
    rid = request.id

    async def planned() -> str | None:
        doc = await ruled.requests.get(rid)
        return doc.plan_hash if doc and doc.status == "awaiting_approval" else None

    ref = button_ref(rid, await eventually(planned))
    assert "not allowed to request changes in prod" in await tell("U_MAL", "make it medium")
    assert (await ruled.requests.get(rid)).revision == 1  # type: ignore[union-attr]
    assert "not allowed to approve other people's plans in prod" in await click("U_BOB", ref, ("T1/SDEVS",))
    assert f"Approved by {mention('U_CAROL')}" in await click("U_CAROL", ref, ("T1/SADMINS",))

    async def applied() -> bool:
        done = await ruled.requests.get(rid)
        return done is not None and done.status == "applied"

    await eventually(applied)
    assert "type the stack name" in await tell("U_CAROL", "destroy shop-prod", ("T1/SADMINS",))
    assert "not allowed to destroy stacks in prod" in await tell("U_CAROL", "shop-prod", ("T1/SADMINS",))
    assert (await ruled.requests.get(rid)).status == "applied"  # type: ignore[union-attr]

    refusals = [(r["user"], r["action"], r["roles"]) for r in await ruled.audit.list(event="refused")]
    assert refusals == [("U_MAL", "request", []), ("U_MAL", "request", []), ("U_BOB", "approve", ["T1/SDEVS"]),
                        ("U_CAROL", "destroy", ["T1/SADMINS"])]


async def test_an_app_name_belongs_to_the_workspace_that_first_used_it(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    spec = InfraSpec(app="shop", environment="staging", components=[Component(kind="bucket")])
    other = Actor(ThreadRef("slack", "T-OTHER", "C1", "1.0"), "U1", (), "slack:T-OTHER:e1")
    request_id, _ = await runtime.core.request_service.start(other, Draft.from_spec(spec), "bucket for shop")
    assert request_id, "the first workspace gets the name"

    reply = await say(client, "second-team", STAGING)
    assert "already used by another team" in reply and "shop-2" in reply
    assert await runtime.db.requests.count_documents({"stack": "shop-staging"}) == 1
    refused = await runtime.audit.list(event="refused", reason="stack owned by another workspace")
    assert len(refused) == 1 and refused[0]["owner"] == "slack:T-OTHER"

    await runtime.db.requests.update_one({"_id": request_id}, {"$set": {"status": "applied"}})
    asked = await say(client, "second-team", "destroy shop-staging")
    assert "don't know a live stack" in asked, "another team's stack is not ours to destroy"
