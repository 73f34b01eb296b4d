"""The `infrabot plan "TEXT" --json` and `infrabot parse` contracts, checked on the real command."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from config.credentials import CLOUD_CREDENTIAL_VARS
from config.local_services import REPO_ROOT

INFRABOT = str(REPO_ROOT / ".venv" / "bin" / "infrabot")
TOKEN = re.compile(r"^(gcp|random):[a-z0-9]+/[a-zA-Z0-9]+:[A-Z][A-Za-z0-9]+$")
OPS = ("create", "update", "delete", "replace")

EXPECTED: dict[str, set[str]] = {
    "a service": {"gcp:cloudrunv2/service:Service", "gcp:serviceaccount/account:Account"},
    "a postgres database": {"gcp:sql/databaseInstance:DatabaseInstance", "gcp:sql/database:Database",
                            "gcp:sql/user:User", "gcp:secretmanager/secret:Secret",
                            "random:index/randomPassword:RandomPassword", "gcp:projects/service:Service"},
    "a mysql database": {"gcp:sql/databaseInstance:DatabaseInstance", "gcp:sql/database:Database",
                         "gcp:sql/user:User"},
    "a redis cache": {"gcp:redis/instance:Instance", "gcp:secretmanager/secretVersion:SecretVersion"},
    "a bucket": {"gcp:storage/bucket:Bucket"},
    "a queue": {"gcp:pubsub/topic:Topic", "gcp:pubsub/subscription:Subscription"},
    "a secret": {"gcp:secretmanager/secret:Secret"},
    "a container registry": {"gcp:artifactregistry/repository:Repository"},
}


PRIMARY: dict[str, str] = {
    "a service": "gcp:cloudrunv2/service:Service",
    "a postgres database": "gcp:sql/databaseInstance:DatabaseInstance",
    "a mysql database": "gcp:sql/databaseInstance:DatabaseInstance",
    "a redis cache": "gcp:redis/instance:Instance",
    "a bucket": "gcp:storage/bucket:Bucket",
    "a queue": "gcp:pubsub/topic:Topic",
    "a secret": "gcp:secretmanager/secret:Secret",
    "a container registry": "gcp:artifactregistry/repository:Repository",
}


def infrabot(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in CLOUD_CREDENTIAL_VARS}
    env |= {"DATA_DIR": str(tmp_path / "data"), "ENGINE": "offline", "LOG_LEVEL": "WARNING"}
    return subprocess.run([INFRABOT, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)


def plan(tmp_path: Path, text: str) -> dict[str, Any]:
    done = infrabot(tmp_path, "plan", text, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]  # fails on anything but one JSON document


def assert_contract(body: dict[str, Any]) -> None:
    assert list(body) == ["engine", "resources", "summary", "monthly_cost_usd"]
    assert body["engine"] == "offline"
    assert body["resources"], "a plan for a component is never empty"
    for resource in body["resources"]:
        assert list(resource) == ["type", "name", "op"], resource
        assert TOKEN.match(resource["type"]), resource["type"]
        assert isinstance(resource["name"], str) and resource["name"]
        assert resource["op"] in (*OPS, "same"), resource
    assert list(body["summary"]) == list(OPS)
    for op in OPS:
        count = body["summary"][op]
        assert type(count) is int and count == sum(r["op"] == op for r in body["resources"]), op
    cost = body["monthly_cost_usd"]
    assert cost is None or (type(cost) in (int, float) and cost >= 0)


@pytest.mark.parametrize("component", sorted(EXPECTED))
def test_plan_json_for_every_kind(tmp_path: Path, component: str) -> None:
    body = plan(tmp_path, f"create {component} for my app shop")
    assert_contract(body)
    types = {r["type"] for r in body["resources"]}
    assert EXPECTED[component] <= types, types
    others = {PRIMARY[k] for k in PRIMARY if k != component} - {PRIMARY[component]}
    if "database" in component or "redis" in component:
        # The generated password, and Redis's AUTH string and CA, live in Secret Manager.
        others.discard(PRIMARY["a secret"])
    assert not (types & others), f"{component} also planned {types & others}"
    assert body["summary"]["create"] == len(body["resources"]), "a fresh data dir has nothing yet"
    assert all(r["name"].startswith("shop-dev") for r in body["resources"]), body["resources"]


def test_plan_json_for_a_whole_app_is_wired(tmp_path: Path) -> None:
    body = plan(tmp_path, "create a service, a postgres database, a bucket, a queue and a redis for my app shop"
                          " in prod")
    assert_contract(body)
    types = [r["type"] for r in body["resources"]]
    for wanted in set().union(*(EXPECTED[k] for k in ("a service", "a postgres database", "a bucket",
                                                        "a queue", "a redis cache"))):
        assert wanted in types, wanted
    assert any("IAMMember" in t for t in types), "the service is granted access to what it uses"
    assert body["monthly_cost_usd"] is not None and body["monthly_cost_usd"] > 0


def test_plan_without_components_fails_cleanly(tmp_path: Path) -> None:
    done = infrabot(tmp_path, "plan", "hello there", "--json")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("infrabot plan: name at least one component")


def test_parse_prints_the_parse_contract(tmp_path: Path) -> None:
    done = infrabot(tmp_path, "parse", "create a postgres database and 2 buckets for my app shop in staging")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert list(body) == ["intent", "app", "cloud", "environment", "region", "components", "missing", "source"]
    assert body["source"] == "rules" and body["cloud"] is None  # no cloud said: the deployment's default applies
    assert (body["intent"], body["app"], body["environment"], body["region"]) == ("create", "shop", "staging", None)
    assert body["components"] == [{"kind": "postgres", "count": 1, "size": None},
                                  {"kind": "bucket", "count": 2, "size": None}]
    assert body["missing"] == []

    vague = json.loads(infrabot(tmp_path, "parse", "I need a database").stdout)
    assert vague["app"] is None and "app" in vague["missing"]
