"""An AWS request over Slack HTTP, end to end: a signed mention, the plan card naming AWS resources and the
engine, a signed Approve click, the same card ending done once the worker really applied it, then
outputs and a destroy typed in the thread."""

from __future__ import annotations

from bots.runtime import Runtime
from tests.e2e.test_slack_http import card_of, card_text, has_buttons, replies_in, request_in
from tests.slack_mock import MockSlack
from tests.slack_mock.fixtures import slack_client_fixture, slack_settings_fixture  # noqa: F401
from tests.slack_mock.harness import SlackClient
from tests.support import eventually

AWS = "create a postgres database and a bucket for my app shop in staging on aws"


async def test_aws_plan_card_approve_click_and_done_card(
    slack: SlackClient, runtime: Runtime, mock_slack: MockSlack
) -> None:
    thread, response = await slack.mention(AWS, user="U1")
    assert response.status_code == 200
    request = await request_in(runtime, "C1", thread)
    assert (request.spec.cloud, request.stack) == ("aws", "shop-staging-aws")

    card = await card_of(runtime, mock_slack, request.id, "waiting for approval")
    shown = card_text(card)
    assert "shop-staging-aws" in shown and "AWS us-east-1" in shown, shown
    assert "RDS instance" in shown and "S3 bucket" in shown, shown
    assert "Cloud SQL" not in shown and "Cloud Storage" not in shown
    assert "offline engine (simulated" in shown, "the card says which engine made the plan"
    assert has_buttons(card) == {"infrabot_approve", "infrabot_cancel"}
    planned = await runtime.requests.get(request.id)
    assert planned is not None and planned.plan is not None and planned.plan.engine == "offline"
    assert {"aws:rds/instance:Instance", "aws:s3/bucket:Bucket"} <= {r.type for r in planned.plan.resources}

    clicked = await slack.click("approve", card, user="U1")
    assert clicked.status_code == 200
    done = await card_of(runtime, mock_slack, request.id, "Done")
    assert done["ts"] == card["ts"] and done["thread_ts"] == thread, "the plan card itself ends done"
    assert not has_buttons(done)
    finished = card_text(done)
    assert "shop-staging-aws" in finished and "AWS us-east-1" in finished, finished
    assert "Simulated apply (offline engine" in finished, finished
    assert [m for m in replies_in(mock_slack, "C1", thread) if "Approved by <@U1>" in m["text"]]

    applied = await runtime.requests.get(request.id)
    assert applied is not None and applied.status == "applied"
    assert applied.outputs["bucket_arn"].startswith("arn:aws:s3:::shop-staging-")
    assert ".rds.amazonaws.com" in applied.outputs["pg_endpoint"]
    audit = await runtime.db.audit.find_one({"event": "applied", "request_id": request.id})
    assert audit is not None
    assert (audit["engine"], audit["approved_by"], audit["platform"], audit["stack"]) == (
        "offline", "U1", "slack", "shop-staging-aws")
    assert audit["plan_hash"] == planned.plan.hash

    async def reply_to(text: str) -> str:
        before = len(replies_in(mock_slack, "C1", thread))
        await slack.message(text, user="U1", thread_ts=thread)

        async def answered() -> list[dict[str, object]]:
            return replies_in(mock_slack, "C1", thread)[before:]

        return str((await eventually(answered))[0]["text"])

    outputs = await reply_to("outputs")
    assert "shop-staging-aws" in outputs and "AWS us-east-1" in outputs and ".rds.amazonaws.com" in outputs
    assert "`shop-staging-aws`" in await reply_to("destroy shop-staging-aws")
    confirmed = await reply_to("shop-staging-aws")
    assert confirmed.startswith("Destroying") and "shop-staging-aws" in confirmed, confirmed

    async def destroyed() -> dict[str, object] | None:
        return await runtime.db.audit.find_one({"event": "destroyed", "request_id": request.id})

    gone = await eventually(destroyed)
    assert any(r["type"] == "aws:rds/instance:Instance" for r in gone["removed"])  # type: ignore[attr-defined]
    ended = await runtime.requests.get(request.id)
    assert ended is not None and ended.status == "destroyed"
