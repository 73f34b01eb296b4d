"""The whole chat flow on AWS through the web chat, with real Redis, FerretDB and an arq worker:
plan, approve, simulated apply, outputs, list, destroy; and the cloud rules (disabled cloud,
no moving an applied stack)."""

from __future__ import annotations

import httpx

from bots.runtime import Runtime, build_runtime
from bots.web.app import web_thread
from config.local_services import LocalServices
from config.settings import Settings
from core.flow import destroy_job
from core.request import Request
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
            assert reply == "I can't plan that: aws is not enabled here (enabled: gcp)."
            assert await runtime.db.requests.count_documents({}) == 0
            assert await runtime.db.jobs.count_documents({}) == 0
            assert "GCP or AWS" not in await say(client, "off", "help")
    finally:
        await runtime.close()


async def test_help_lists_both_clouds(client: httpx.AsyncClient) -> None:
    reply = await say(client, "help", "help")
    assert "GCP or AWS" in reply and "on aws" in reply
