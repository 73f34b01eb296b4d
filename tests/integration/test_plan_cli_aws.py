"""`infrabot plan --json` and `infrabot parse` with a cloud: the same contract, AWS type tokens on AWS."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bots import cli
from tests.integration.test_plan_cli import OPS, infrabot, plan

SENTENCE = "create a postgres database and a bucket for my app shop in staging"
AWS_TOKEN = re.compile(r"^(aws|random):[a-z0-9]+/[a-zA-Z0-9]+:[A-Z][A-Za-z0-9]+$")


def test_the_sentence_on_aws_gives_rds_s3_and_wiring(tmp_path: Path) -> None:
    body = plan(tmp_path, f"{SENTENCE} on aws")
    assert set(body) == {"engine", "resources", "summary", "monthly_cost_usd"}
    types = {r["type"] for r in body["resources"]}
    assert all(AWS_TOKEN.match(t) for t in types), types
    assert {"aws:rds/instance:Instance", "aws:s3/bucket:Bucket", "aws:rds/subnetGroup:SubnetGroup",
            "aws:ec2/vpc:Vpc", "aws:ec2/securityGroup:SecurityGroup",
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"} <= types
    names = {r["name"] for r in body["resources"]}
    assert {"shop-staging-pg", "shop-staging-bucket", "shop-staging-pg-sg"} <= names
    assert all(r["op"] in OPS for r in body["resources"])
    assert body["summary"]["create"] == len(body["resources"])
    assert body["monthly_cost_usd"] > 10


def test_the_sentence_without_a_cloud_still_gives_the_gcp_plan(tmp_path: Path) -> None:
    body = plan(tmp_path, SENTENCE)
    types = {r["type"] for r in body["resources"]}
    assert "gcp:sql/databaseInstance:DatabaseInstance" in types and "gcp:storage/bucket:Bucket" in types
    assert not any(t.startswith("aws:") for t in types)


def test_parse_prints_the_cloud(tmp_path: Path) -> None:
    done = infrabot(tmp_path, "parse", f"{SENTENCE} on aws in ireland")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert (body["cloud"], body["region"], body["app"]) == ("aws", "eu-west-1", "shop")
    plain = json.loads(infrabot(tmp_path, "parse", SENTENCE).stdout)
    assert plain["cloud"] is None


def test_plan_keeps_the_cloud_rules_of_chat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # In process: the command's own code, without paying for two more interpreter start-ups.
    for name, value in {"ALLOWED_CLOUDS": "staging=gcp", "DEFAULT_CLOUD": "aws", "ENGINE": "offline",
                        "DATA_DIR": str(tmp_path / "data"), "CLOUDS": "gcp,aws"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["plan", f"{SENTENCE} on aws", "--json"]) == 2
    refused = capsys.readouterr()
    assert not refused.out
    assert refused.err.strip() == ("infrabot plan: staging stacks may not be on AWS here; staging may use GCP "
                                   "(say `on gcp` to plan it there)")
    assert cli.main(["plan", SENTENCE, "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert "gcp:storage/bucket:Bucket" in {r["type"] for r in body["resources"]}, \
        "naming no cloud, staging gets the cloud it may use rather than DEFAULT_CLOUD"
