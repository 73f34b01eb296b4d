"""The cloud dimension as the parser reads it: cloud words, AWS region ids, places per cloud
(corpus in tests/corpus/clouds.jsonl), and how a draft turns it into a spec."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.draft import Draft
from core.spec import Component, InfraSpec
from core.understanding.clouds import AWS_REGIONS, find_choice, region_for
from core.understanding.parser import parse

CORPUS = [json.loads(line) for line in (Path(__file__).parents[1] / "corpus" / "clouds.jsonl").read_text().splitlines()
          if line.strip()]


@pytest.mark.parametrize("case", CORPUS, ids=[c["text"] for c in CORPUS])
def test_cloud_corpus(case: dict[str, Any]) -> None:
    parsed = parse(case["text"])
    assert parsed.intent == case["intent"]
    assert parsed.cloud == case["cloud"]
    assert parsed.region == case["region"]
    assert parsed.region_problem is None
    if "app" in case and case["app"] is not None:
        assert parsed.app == case["app"]
    if "environment" in case:
        assert parsed.environment == case["environment"]
    if "stack" in case:
        assert parsed.stack == case["stack"]


def test_parse_contract_carries_the_cloud() -> None:
    assert parse("a bucket for app shop on aws").contract()["cloud"] == "aws"
    assert parse("a bucket for app shop").contract()["cloud"] is None


def test_an_unknown_region_id_is_still_refused() -> None:
    assert parse("a bucket for app shop in eu-west-9").region_problem


def test_places_move_with_the_cloud() -> None:
    assert region_for("aws", "europe-west3") == "eu-central-1"
    assert region_for("gcp", "eu-central-1") == "europe-west3"
    assert region_for("aws", None) == "us-east-1"
    assert region_for("gcp", None) == "us-central1"
    assert region_for("aws", "eu-west-1") == "eu-west-1"
    assert all(region_for("gcp", r) != r for r in AWS_REGIONS)


def test_find_choice_ignores_the_cloud_moved_from() -> None:
    assert find_choice("switch from aws to gcp").cloud == "gcp"
    assert find_choice("move it from gcp to aws").cloud == "aws"


def draft_for(text: str) -> Draft:
    draft = Draft()
    draft.merge(parse(text))
    return draft


def test_draft_default_cloud_and_region() -> None:
    gcp = draft_for("a bucket for app shop in frankfurt").to_spec("u")
    assert (gcp.cloud, gcp.region, gcp.stack_name) == ("gcp", "europe-west3", "shop-dev")
    aws = draft_for("a bucket for app shop in frankfurt").to_spec("u", default_cloud="aws")
    assert (aws.cloud, aws.region, aws.stack_name) == ("aws", "eu-central-1", "shop-dev-aws")
    said = draft_for("a bucket for app shop on aws").to_spec("u")
    assert (said.cloud, said.region) == ("aws", "us-east-1")


def test_a_change_of_cloud_moves_a_pending_draft() -> None:
    draft = draft_for("a bucket for app shop in staging in frankfurt")
    assert draft.merge(parse("make it aws"))
    spec = draft.to_spec("u")
    assert (spec.cloud, spec.region, spec.stack_name) == ("aws", "eu-central-1", "shop-staging-aws")


def test_fingerprint_includes_the_cloud_and_gcp_stays_as_before() -> None:
    gcp = InfraSpec(app="shop", components=[Component(kind="bucket")])
    aws = gcp.model_copy(update={"cloud": "aws"})
    assert gcp.fingerprint() != aws.fingerprint()
    # The fingerprint of a GCP spec is the one stored before the cloud was a field (no `cloud` key).
    legacy = InfraSpec(app="shop", components=[Component(kind="bucket")])
    body = legacy.model_dump(exclude={"requested_by", "cloud"})
    import hashlib

    raw = json.dumps({**body, "components": body["components"]}, sort_keys=True, separators=(",", ":"))
    assert gcp.fingerprint() == hashlib.sha256(raw.encode()).hexdigest()[:16]
