"""The whole chat flow on AWS through the web chat, with real Redis, FerretDB and an arq worker:
plan, approve, simulated apply, outputs, list, destroy; and the cloud rules (disabled cloud,
no moving an applied stack)."""

from __future__ import annotations

from pathlib import Path

import httpx

from bots.runtime import Runtime, build_runtime
from bots.web.app import web_thread
from config.local_services import LocalServices
from config.settings import Settings
from core.request import Request
from core.requests import destroy_job
from jobs.worker.main import make_worker
from tests.support import running
from tests.web_chat import card, press, say, web_client

AWS = "create a postgres database and a bucket for my app shop in staging on aws"


async def only_request(runtime: Runtime, thread: str) -> Request:
    [request] = [Request.from_doc(r)
                 async for r in runtime.db.requests.find({"thread_key": web_thread(thread).key()})]
    return request


async def test_aws_plan_approve_apply_outputs_destroy(
    client: httpx.AsyncClient, runtime: Runtime, worker: object
) -> None:
    first = await say(client, "aws", AWS)
    assert "AWS us-east-1" in first and "shop" in first
    request = await only_request(runtime, "aws")
    rid = str(request.id)
    assert (request.spec.cloud, request.stack) == ("aws", "shop-staging-aws")

    shown = await card(runtime, "aws", f"plan-{rid}-1", "awaiting_approval")
    assert "shop-staging-aws (AWS us-east-1)" in shown["title"]
    assert "RDS instance" in shown["text"] and "S3 bucket" in shown["text"], shown["text"]
    assert "Cloud SQL" not in shown["text"]
    plan = (await runtime.requests.get(rid)).plan  # type: ignore[union-attr]
    assert plan is not None and plan.monthly_cost_usd and plan.monthly_cost_usd > 0
    assert {"aws:rds/instance:Instance", "aws:s3/bucket:Bucket"} <= {r.type for r in plan.resources}

    [ref] = [b["request_id"] for b in shown["buttons"] if b["action"] == "approve"]
    assert "Approved by" in await press(client, "aws", ref, "ana")
    await card(runtime, "aws", f"apply-{rid}-{plan.hash}", "succeeded")
    applied = await runtime.requests.get(rid)
    assert applied is not None and applied.status == "applied"
    assert applied.outputs["bucket_arn"].startswith("arn:aws:s3:::shop-staging-")

    outputs = await say(client, "aws", "outputs")
    assert "Outputs of *shop-staging-aws*" in outputs and "on AWS us-east-1" in outputs
    assert "pg_endpoint" in outputs and ".rds.amazonaws.com" in outputs
    listed = await say(client, "aws", "list")
    assert "*shop-staging-aws*" in listed and "AWS us-east-1" in listed

    moved = await say(client, "aws", "move it to gcp")
    assert "can't move" in moved and "destroy shop-staging-aws" in moved
    assert await runtime.db.requests.count_documents({}) == 1, "nothing was planned on the other cloud"

    assert "`shop-staging-aws`" in await say(client, "aws", "destroy shop-staging-aws")
    assert "Destroying *shop-staging-aws* now" in await say(client, "aws", "shop-staging-aws")
    done = await card(runtime, "aws", destroy_job(await runtime.requests.get(rid)), "succeeded")  # type: ignore[arg-type]
    assert any(r.startswith("RDS instance") for r in done["resources"]), done["resources"]
    destroyed = await runtime.requests.get(rid)
    assert destroyed is not None and destroyed.status == "destroyed"


async def test_a_pending_request_moves_cloud_by_replanning(
    client: httpx.AsyncClient, runtime: Runtime, worker: object
) -> None:
    await say(client, "move", "create a bucket for my app shop in staging in frankfurt")
    request = await only_request(runtime, "move")
    rid = str(request.id)
    await card(runtime, "move", f"plan-{rid}-1", "awaiting_approval")
    assert (request.spec.cloud, request.spec.region) == ("gcp", "europe-west3")
    reply = await say(client, "move", "actually put it on aws")
    assert "re-planning" in reply and "AWS eu-central-1" in reply
    shown = await card(runtime, "move", f"plan-{rid}-2", "awaiting_approval")
    assert "S3 bucket" in shown["text"]
    moved = await runtime.requests.get(rid)
    assert moved is not None and (moved.spec.cloud, moved.stack) == ("aws", "shop-staging-aws")


async def test_a_disabled_cloud_is_refused_before_planning(settings: Settings, services: LocalServices) -> None:
    gcp_only = settings.model_copy(update={"clouds": "gcp"})
    runtime = await build_runtime(gcp_only, services.redis_url, services.mongodb_url)
    try:
        async with web_client(runtime, relay=False) as client:
            reply = await say(client, "off", AWS)
            assert reply == "I can't plan that: AWS is not enabled here (enabled: GCP)."
            assert await runtime.db.requests.count_documents({}) == 0
            assert await runtime.db.jobs.count_documents({}) == 0
            assert "GCP or AWS" not in await say(client, "off", "help")
    finally:
        await runtime.close()


async def test_help_lists_both_clouds(client: httpx.AsyncClient) -> None:
    reply = await say(client, "help", "help")
    assert "GCP or AWS" in reply and "on aws" in reply


async def test_an_environment_limited_to_gcp_refuses_aws_and_says_how_to_go_on(
    settings: Settings, services: LocalServices
) -> None:
    rules = settings.model_copy(update={"allowed_clouds": "prod=gcp", "default_cloud": "aws"})
    runtime = await build_runtime(rules, services.redis_url, services.mongodb_url)
    try:
        async with web_client(runtime, relay=False) as client:
            reply = await say(client, "prod", "create a bucket for my app shop in prod on aws")
            assert reply == ("I can't plan that: prod stacks may not be on AWS here; prod may use GCP (say "
                             "`on gcp` to plan it there).")
            assert await runtime.db.requests.count_documents({}) == 0
            assert await runtime.db.jobs.count_documents({}) == 0
            audit = await runtime.db.audit.find_one({"event": "refused"})
            assert audit is not None and "may not be on AWS" in audit["reason"]

            moved = await say(client, "prod", "ok, on gcp then")
            assert "planning" in moved and "GCP" in moved, moved
            request = await only_request(runtime, "prod")
            assert (request.spec.cloud, request.stack) == ("gcp", "shop-prod")

            # Naming no cloud, prod lands on the cloud it may use, staging on DEFAULT_CLOUD.
            assert "GCP us-central1" in await say(client, "quiet", "create a bucket for my app notes in prod")
            assert "AWS us-east-1" in await say(client, "stage", "create a bucket for my app notes in staging")

            changed = await say(client, "stage", "move it to prod")
            assert "can't change it that way" in changed and "may not be on AWS" in changed, changed
    finally:
        await runtime.close()


async def _refusals(runtime: Runtime) -> list[dict[str, object]]:
    return [doc async for doc in runtime.db.audit.find({"event": "refused", "by": "worker"})]


async def test_the_worker_refuses_to_plan_on_a_cloud_its_rules_forbid(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings, services: LocalServices
) -> None:
    strict = settings.model_copy(update={"allowed_clouds": "staging=gcp"})
    async with running(make_worker(strict, services.redis_url, services.mongodb_url)):
        await say(client, "plan-refused", AWS)
        request = await only_request(runtime, "plan-refused")
        shown = await card(runtime, "plan-refused", f"plan-{request.id}-1", "failed")
    assert "staging stacks may not be on AWS here" in shown["text"] and "nothing was planned" in shown["text"]
    failed = await runtime.requests.get(request.id)
    assert failed is not None and failed.status == "failed" and failed.plan is None
    [refused] = await _refusals(runtime)
    assert refused["action"] == "plan" and refused["request_id"] == request.id


async def test_the_worker_refuses_an_approved_apply_on_a_cloud_its_rules_forbid(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings, services: LocalServices
) -> None:
    """The chat side approved under rules that allowed AWS; the worker's rules do not, so nothing is built."""
    async with running(make_worker(settings, services.redis_url, services.mongodb_url)):
        await say(client, "late", AWS)
        request = await only_request(runtime, "late")
        shown = await card(runtime, "late", f"plan-{request.id}-1", "awaiting_approval")
    strict = settings.model_copy(update={"allowed_clouds": "*=gcp"})
    async with running(make_worker(strict, services.redis_url, services.mongodb_url)):
        [ref] = [b["request_id"] for b in shown["buttons"] if b["action"] == "approve"]
        assert "Approved by" in await press(client, "late", ref, "ana")
        plan_hash = (await runtime.requests.get(request.id)).plan.hash  # type: ignore[union-attr]
        ended = await card(runtime, "late", f"apply-{request.id}-{plan_hash}", "failed")
    assert "staging stacks may not be on AWS here" in ended["text"] and "nothing was applied" in ended["text"]
    failed = await runtime.requests.get(request.id)
    assert failed is not None and failed.status == "failed" and not failed.outputs
    assert await runtime.db.audit.count_documents({"event": "applied"}) == 0
    [refused] = await _refusals(runtime)
    assert refused["action"] == "apply" and refused["request_id"] == request.id
    state = Path(settings.data_dir) / "offline-state"
    assert not any(state.rglob("*shop-staging-aws*")), "the offline engine recorded no stack"


async def test_an_unknown_region_is_answered_with_the_requests_own_clouds_regions(client: httpx.AsyncClient) -> None:
    asked = await say(client, "where", "create a bucket for my app shop on aws in eu-west-9")
    assert "I don't know the region `eu-west-9`: AWS regions look like `eu-west-1` or `us-east-1`" in asked
    assert "Which region" in asked and "europe-west1" not in asked
    started = await say(client, "where", "ireland")
    assert "AWS eu-west-1" in started, started

    # Shaped like a GCP id, but said about a request on AWS: AWS's regions are the ones that help.
    unchanged = await say(client, "where", "use europe-west19 instead")
    assert "I don't know the region `europe-west19`: AWS regions look like" in unchanged, unchanged
    assert "Nothing changed" in unchanged


async def test_role_rules_for_one_cloud_hold_in_chat(settings: Settings, services: LocalServices) -> None:
    rules = settings.model_copy(update={"role_rules": '{"apply": {"aws:staging": ["web:boss"]}}'})
    runtime = await build_runtime(rules, services.redis_url, services.mongodb_url)
    try:
        async with web_client(runtime) as client, running(make_worker(rules, services.redis_url,
                                                                      services.mongodb_url)):
            await say(client, "roles", AWS)
            request = await only_request(runtime, "roles")
            shown = await card(runtime, "roles", f"plan-{request.id}-1", "awaiting_approval")
            [ref] = [b["request_id"] for b in shown["buttons"] if b["action"] == "approve"]
            refused = await press(client, "roles", ref, "ana")
            assert refused == "Sorry, you are not allowed to apply plans in staging on AWS. Nothing was changed."
            assert (await runtime.requests.get(request.id)).status == "awaiting_approval"  # type: ignore[union-attr]
            assert "Approved by" in await press(client, "roles", ref, "boss")

            # The same person and environment on GCP: no rule names it, so it is open.
            await say(client, "gcp", "create a bucket for my app notes in staging")
            gcp = await only_request(runtime, "gcp")
            shown = await card(runtime, "gcp", f"plan-{gcp.id}-1", "awaiting_approval")
            [ref] = [b["request_id"] for b in shown["buttons"] if b["action"] == "approve"]
            assert "Approved by" in await press(client, "gcp", ref, "ana")
    finally:
        await runtime.close()
