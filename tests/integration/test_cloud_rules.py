"""Which clouds each environment may use (ALLOWED_CLOUDS, CLOUDS, DEFAULT_CLOUD) and the AWS service
settings (AWS_SERVICE_IMAGE, AWS_SERVICE_PORT, AWS_CERTIFICATE_ARNS): parsing, the policy's answers,
and the settings reaching the program the worker's engine evaluates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from config.aws_service import PLACEHOLDER_IMAGE, ServiceOptions
from config.policy import policy_from_settings
from config.settings import Settings, SettingsError, load_settings
from core.markup import Code, spans
from core.spec import Component, InfraSpec
from jobs.worker.main import build_engine

CERT = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d"
TASKDEF = "aws:ecs/taskDefinition:TaskDefinition"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("ALLOWED_CLOUDS", "CLOUDS", "DEFAULT_CLOUD", "AWS_SERVICE_IMAGE", "AWS_SERVICE_PORT",
                 "AWS_CERTIFICATE_ARNS", "POLICY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def settings(**values: str) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def spec(env: str, cloud: str, region: str | None = None) -> InfraSpec:
    return InfraSpec(app="shop", cloud=cloud, environment=env,  # type: ignore[arg-type]
                     region=region or ("us-east-1" if cloud == "aws" else "us-central1"),
                     components=[Component(kind="bucket")])


def test_allowed_clouds_per_environment() -> None:
    policy = policy_from_settings(settings(allowed_clouds="prod=gcp;*=gcp,aws"))
    assert policy.guardrails.allowed_clouds == {"prod": ["gcp"], "*": ["gcp", "aws"]}
    assert policy.check_cloud(spec("prod", "gcp")) is None
    assert policy.check_cloud(spec("staging", "aws")) is None
    refusal = policy.check_cloud(spec("prod", "aws"))
    assert refusal == spans("prod stacks may not be on AWS here; prod may use GCP (say ", Code("on gcp"),
                            " to plan it there)")
    assert policy.check_spec(spec("prod", "aws")) == refusal, "check_spec includes the cloud rules"


def test_no_rule_means_every_enabled_cloud_and_disabled_clouds_stay_off() -> None:
    assert policy_from_settings(settings()).check_cloud(spec("prod", "aws")) is None
    policy = policy_from_settings(settings(clouds="gcp", allowed_clouds="dev=gcp,aws"))
    assert policy.check_cloud(spec("dev", "aws")) == spans("AWS is not enabled here (enabled: GCP)")
    assert policy.clouds_in("dev") == ["gcp"]


def test_an_environment_allowed_no_enabled_cloud_says_so() -> None:
    policy = policy_from_settings(settings(clouds="gcp", allowed_clouds="prod=aws"))
    assert policy.check_cloud(spec("prod", "gcp")) == spans(
        "prod stacks may not be on GCP here; prod may use no cloud")


def test_a_request_naming_no_cloud_gets_one_its_environment_may_use() -> None:
    policy = policy_from_settings(settings(default_cloud="aws", allowed_clouds="prod=gcp"))
    assert policy.default_cloud_for("prod") == "gcp"
    assert policy.default_cloud_for("staging") == "aws"
    assert policy.default_cloud_for(None) == "aws", "no environment said means dev"


def test_allowed_clouds_from_a_policy_file(tmp_path: Path) -> None:
    file = tmp_path / "policy.json"
    file.write_text(json.dumps({"allowed_clouds": {"prod": ["gcp"], "dev": "aws, gcp"}}))
    policy = policy_from_settings(settings(policy_file=str(file)))
    assert policy.guardrails.allowed_clouds == {"prod": ["gcp"], "dev": ["aws", "gcp"]}


def test_aws_service_settings() -> None:
    assert settings().aws_service == ServiceOptions(PLACEHOLDER_IMAGE, 80, ())
    configured = settings(aws_service_image="ghcr.io/acme/shop:2.0", aws_service_port="8080",
                          aws_certificate_arns=f" {CERT} ")
    assert configured.aws_service == ServiceOptions("ghcr.io/acme/shop:2.0", 8080, (CERT,))
    assert configured.aws_service.certificate_for("eu-west-1") == CERT
    assert configured.aws_service.certificate_for("us-east-1") is None


def test_the_workers_engine_builds_services_from_the_settings(tmp_path: Path) -> None:
    configured = settings(engine="offline", data_dir=str(tmp_path / "data"), aws_service_image="ghcr.io/acme/shop:2.0",
                          aws_service_port="8080", aws_certificate_arns=CERT)
    engine = build_engine(configured)
    service = InfraSpec(app="shop", cloud="aws", region="eu-west-1", components=[Component(kind="service")])
    ev = engine.evaluate(service)  # type: ignore[attr-defined]
    [task] = [r for r in ev.resources if r.type == TASKDEF]
    [container] = json.loads(task.inputs["containerDefinitions"])
    assert container["image"] == "ghcr.io/acme/shop:2.0"
    assert container["portMappings"][0]["containerPort"] == 8080
    assert ev.outputs["svc_url"].startswith("https://")


def test_role_rules_may_name_a_cloud() -> None:
    rules = {"approve": {"aws:prod": ["U_AWS"], "prod": ["U_GCP"], "gcp:*": ["U_G"]}}
    policy = policy_from_settings(settings(role_rules=json.dumps(rules)))
    assert policy.roles.rules["approve"] == {"aws:prod": ["U_AWS"], "prod": ["U_GCP"], "gcp:*": ["U_G"]}
    assert policy.refuse("approve", "prod", "U_AWS", (), "slack", "aws") is None
    assert policy.refuse("approve", "prod", "U_GCP", (), "slack", "aws") == spans(
        "you are not allowed to approve other people's plans in prod on AWS")
    assert policy.refuse("approve", "prod", "U_GCP", (), "slack", "gcp") is None, "prod is more specific than gcp:*"
    assert policy.refuse("approve", "prod", "U_G", (), "slack", "gcp") is not None
    assert policy.refuse("approve", "staging", "U_G", (), "slack", "gcp") is None
    assert policy.refuse("approve", "staging", "U_AWS", (), "slack", "gcp") is not None
    assert policy.refuse("approve", "staging", "anyone", (), "slack", "aws") is None, "no rule for AWS staging"


@pytest.mark.parametrize(("value", "words"), [
    ('{"approve": {"azure:prod": ["U1"]}}', "unknown cloud 'azure'"),
    ('{"approve": {"aws:qa": ["U1"]}}', "unknown environment 'qa'"),
])
def test_a_malformed_cloud_in_role_rules_stops_start_up(monkeypatch: pytest.MonkeyPatch, value: str,
                                                        words: str) -> None:
    monkeypatch.setenv("ROLE_RULES", value)
    with pytest.raises(SettingsError, match=f"^infrabot: invalid setting ROLE_RULES: .*{words}"):
        load_settings()
