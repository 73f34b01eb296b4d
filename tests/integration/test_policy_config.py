"""Guardrails and role rules: parsed from settings or a policy file, and applied as documented."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from config.credentials import CLOUD_CREDENTIAL_VARS
from config.local_services import REPO_ROOT
from config.policy import DEFAULT_MAX_SIZE, policy_from_settings
from config.settings import Settings, SettingsError, load_settings
from core.markup import spans
from core.messages import ActionEvent, IncomingMessage, ThreadRef
from core.policy import Policy, Roles
from core.spec import Component, InfraSpec
from tests.integration.test_cloud_rules import CERT

INFRABOT = str(REPO_ROOT / ".venv" / "bin" / "infrabot")
POLICY_VARS = ("ALLOWED_REGIONS", "MAX_SIZE", "ALLOWED_COMPONENTS", "APPROVAL_ENVIRONMENTS", "ROLE_RULES",
               "POLICY_FILE")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in POLICY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def settings(**values: str) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def spec(env: str = "dev", region: str = "us-central1", size: str = "small", *kinds: str) -> InfraSpec:
    return InfraSpec(app="shop", environment=env, region=region, size=size,  # type: ignore[arg-type]
                     components=[Component(kind=k) for k in (kinds or ("bucket",))])  # type: ignore[arg-type]


def test_defaults_cap_dev_at_medium_and_leave_everything_else_open() -> None:
    policy = policy_from_settings(settings())
    assert policy.guardrails.max_size == DEFAULT_MAX_SIZE == {"dev": "medium"}
    assert policy.check_spec(spec("dev", size="medium")) is None
    refusal = policy.check_spec(spec("dev", "us-central1", "large", "postgres"))
    assert refusal == spans("large postgres is above the largest size allowed in dev (medium)")
    assert policy.check_spec(spec("prod", "asia-east1", "large", "redis", "mysql")) is None
    assert policy.approval_environments == ("prod",)
    assert policy.refuse("destroy", "prod", "anyone", ()) is None


def test_settings_values_are_parsed_into_guardrails() -> None:
    policy = policy_from_settings(settings(
        allowed_regions="us-central1, europe-west1",
        max_size="staging=medium,prod=large",
        allowed_components="prod=service,postgres,bucket;staging=service,redis",
        approval_environments="staging,prod",
    ))
    g = policy.guardrails
    assert g.allowed_regions == ["us-central1", "europe-west1"]
    assert g.max_size == {"dev": "medium", "staging": "medium", "prod": "large"}
    assert g.allowed_components == {"prod": ["service", "postgres", "bucket"], "staging": ["service", "redis"]}
    assert policy.approval_environments == ("staging", "prod")
    assert policy.check_spec(spec("prod", "asia-east1")) == spans(
        "region asia-east1 is not allowed here; allowed: us-central1, europe-west1")
    assert policy.check_spec(spec("prod", "europe-west1", "small", "service", "redis")) == spans(
        "redis is not allowed in prod (allowed there: service, postgres, bucket)")
    assert policy.check_spec(spec("staging", "europe-west1", "large", "service")) is not None
    assert policy.check_spec(spec("dev", "europe-west1", "small", "mysql")) is None, "dev has no kind list"


def test_the_brief_example_with_commas_between_environments_also_parses() -> None:
    policy = policy_from_settings(settings(allowed_components="prod=service,postgres,bucket,staging=bucket"))
    assert policy.guardrails.allowed_components == {"prod": ["service", "postgres", "bucket"],
                                                   "staging": ["bucket"]}


def test_wildcard_environment_applies_where_no_own_rule_exists() -> None:
    policy = policy_from_settings(settings(max_size="*=small,prod=large"))
    assert policy.check_spec(spec("staging", size="medium")) is not None
    assert policy.check_spec(spec("dev", size="medium")) is None, "dev keeps its own (default) limit"
    assert policy.check_spec(spec("prod", size="large")) is None


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("MAX_SIZE", "dev=huge", "'huge' for dev is not a size"),
        ("MAX_SIZE", "qa=small", "unknown environment 'qa'"),
        ("MAX_SIZE", "medium", "needs an environment first"),
        ("MAX_SIZE", "dev=small,medium", "give one size for dev"),
        ("ALLOWED_REGIONS", "us-central1,mars", "'mars' does not look like a GCP region"),
        ("ALLOWED_COMPONENTS", "prod=service,kafka", "'kafka' for prod is not a component"),
        ("APPROVAL_ENVIRONMENTS", "prod,*", "unknown environment '*'"),
        ("ROLE_RULES", "{not json", "not valid JSON"),
        ("ROLE_RULES", '{"aprove": {"prod": ["U1"]}}', "unknown action 'aprove'"),
        ("ROLE_RULES", '{"approve": ["U1"]}', "approve: expected environments"),
        ("ROLE_RULES", '{"approve": {"prod": [true]}}', "approve.prod: expected a list"),
        ("ROLE_RULES", '{"approve": {"prod": ["role:"]}}', "roles are matched by id within their workspace"),
        ("ROLE_RULES", '{"approve": {"prod": ["role:platform-admins"]}}', "write role:WORKSPACE_ID/ROLE_ID"),
        ("ROLE_RULES", '{"approve": {"prod": ["role:T01/S01/x"]}}', "role:WORKSPACE_ID/ROLE_ID"),
        ("POLICY_FILE", "missing.yaml", "cannot read missing.yaml"),
        ("ALLOWED_CLOUDS", "prod=azure", "'azure' for prod is not a cloud (gcp, aws)"),
        ("ALLOWED_CLOUDS", "live=gcp", "unknown environment 'live'"),
        ("ALLOWED_CLOUDS", "gcp", "needs an environment first"),
        ("AWS_CERTIFICATE_ARNS", "arn:aws:iam::123456789012:role/x", "entry 1 is not an ACM certificate ARN"),
        ("AWS_CERTIFICATE_ARNS", f"{CERT},{CERT}x", "two certificates for eu-west-1"),
        ("AWS_SERVICE_IMAGE", "not an image", "must be a container image reference"),
        ("AWS_SERVICE_PORT", "70000", "less than or equal to 65535"),
        # A negative niceness would raise the worker above the chat processes (and needs privileges).
        ("WORKER_NICE", "-5", "greater than or equal to 0"),
        ("WORKER_NICE", "20", "less than or equal to 19"),
    ],
)
def test_a_malformed_value_stops_start_up_with_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, words: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    line = str(caught.value)
    assert "\n" not in line
    assert line.startswith(f"infrabot: invalid setting {name}: ") and words in line, line


def test_policy_from_settings_names_the_variable_even_when_validation_was_skipped() -> None:
    unchecked = settings().model_copy(update={"role_rules": '{"nuke": {}}'})
    with pytest.raises(SettingsError, match=r"^infrabot: invalid setting ROLE_RULES: unknown action 'nuke'"):
        policy_from_settings(unchecked)


def test_the_cli_refuses_to_start_on_a_malformed_rule(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in (*POLICY_VARS, *CLOUD_CREDENTIAL_VARS)}
    env |= {"MAX_SIZE": "dev=gigantic", "DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([INFRABOT, "web"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "infrabot: invalid setting MAX_SIZE: 'gigantic' for dev is not a size (small, medium, large)"]
    assert not (tmp_path / "data").exists(), "nothing was started"


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_policy_file_configures_everything_and_variables_win(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, suffix: str
) -> None:
    body = {
        "allowed_regions": ["europe-west1"],
        "max_size": {"staging": "small"},
        "allowed_components": {"prod": ["service", "postgres"]},
        "approval_environments": ["staging", "prod"],
        "roles": {"approve": {"prod": ["role:T01/SADMINS", "U123"]}, "destroy": {"*": ["role:1122/3344"]}},
    }
    path = tmp_path / f"policy{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(body))
    else:
        import yaml

        path.write_text(yaml.safe_dump(body))
    monkeypatch.setenv("POLICY_FILE", str(path))
    monkeypatch.setenv("ALLOWED_REGIONS", "us-east1")
    policy = policy_from_settings(load_settings())
    assert policy.guardrails.allowed_regions == ["us-east1"], "the variable wins over the file"
    assert policy.guardrails.max_size == {"dev": "medium", "staging": "small"}
    assert policy.guardrails.allowed_components == {"prod": ["service", "postgres"]}
    assert policy.approval_environments == ("staging", "prod")
    assert policy.roles.rules["approve"] == {"prod": ["role:T01/SADMINS", "U123"]}
    assert policy.refuse("destroy", "dev", "U9", ("developers",)) is not None
    assert policy.refuse("destroy", "dev", "U9", ("1122/3344",)) is None


def test_a_bad_policy_file_names_the_file_and_the_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("max_size:\n  prod: enormous\n")
    monkeypatch.setenv("POLICY_FILE", str(path))
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == (f"infrabot: invalid setting POLICY_FILE: {path}: max_size: "
                                 "'enormous' for prod is not a size (small, medium, large)")
    path.write_text("approvers: [U1]\n")
    with pytest.raises(SettingsError, match="unknown key 'approvers'"):
        load_settings()
    path.write_text("roles: {approve: [unclosed\n")
    with pytest.raises(SettingsError, match="is not valid YAML"):
        load_settings()


def test_numeric_user_ids_are_read_as_ids() -> None:
    policy = policy_from_settings(settings(role_rules='{"approve": {"prod": [123456789012345678]}}'))
    assert policy.roles.rules == {"approve": {"prod": ["123456789012345678"]}}
    assert policy.refuse("approve", "prod", "123456789012345678", ()) is None


ROLES = Roles({
    "approve": {"prod": ["role:T01/SADMINS", "U123", "slack:U777", "web:ana"], "*": ["role:T01/SLEADS"]},
    "apply": {"prod": ["role:T01/SADMINS", "role:T01/SDEVS"]},
    "destroy": {"prod": []},
})


@pytest.mark.parametrize(
    ("action", "env", "user", "roles", "platform", "allowed"),
    [
        ("approve", "prod", "U1", ("T01/SADMINS",), "slack", True),  # a role by id in its workspace
        ("approve", "prod", "U1", ("T01/sadmins",), "slack", False),  # ids are exact
        ("approve", "prod", "U1", ("T02/SADMINS",), "slack", False),  # the same id in another workspace
        ("approve", "prod", "U1", ("SADMINS",), "slack", False),  # an unqualified role is nobody's
        ("approve", "prod", "U123", (), "discord", True),  # a bare user id matches on chat platforms
        ("approve", "prod", "U123", (), "web", False),  # but not a name typed into the web chat
        ("approve", "prod", "ana", (), "web", True),  # web users only by `web:NAME`
        ("approve", "prod", "U777", (), "slack", True),
        ("approve", "prod", "U777", (), "web", False),  # platform-qualified: only on that platform
        ("approve", "prod", "U1", ("T01/SDEVS",), "slack", False),
        ("approve", "staging", "U1", ("T01/SLEADS",), "slack", True),  # "*" covers environments without a rule
        ("approve", "staging", "U1", (), "slack", False),
        ("apply", "staging", "U1", (), "slack", True),  # no rule for the environment: open
        ("request", "prod", "U1", (), "slack", True),  # no rule for the action: open
        ("destroy", "prod", "U123", ("T01/SADMINS",), "slack", False),  # an empty list: nobody
    ],
)
def test_role_matching(
    action: str, env: str, user: str, roles: tuple[str, ...], platform: str, allowed: bool
) -> None:
    assert ROLES.allows(action, env, user, roles, platform) is allowed


def test_approve_versus_apply_as_documented() -> None:
    policy = Policy(roles=Roles({"approve": {"*": ["role:leads"]}, "apply": {"staging": ["role:devs"]}}))
    # (Roles built in code skip the settings' format check; matching is the same exact comparison.)
    own = ["ana"]
    # Own request outside second-person environments: only `apply` is needed.
    assert policy.refuse_approval("apply", "dev", "ana", (), own) is None
    assert policy.refuse_approval("apply", "staging", "ana", ("devs",), own) is None
    assert policy.refuse_approval("apply", "staging", "ana", (), own) == spans(
        "you are not allowed to apply plans in staging")
    # Somebody else's request also needs `approve`.
    assert policy.refuse_approval("apply", "dev", "bob", (), own) == spans(
        "you are not allowed to approve other people's plans in dev")
    assert policy.refuse_approval("apply", "dev", "bob", ("leads",), own) is None
    # Prod: never an author, and always `approve`.
    assert policy.refuse_approval("apply", "prod", "ana", ("leads",), own) == spans(
        "prod changes need approval from someone other than the requester")
    assert policy.refuse_approval("apply", "prod", "bob", (), own) is not None
    assert policy.refuse_approval("apply", "prod", "bob", ("leads",), own) is None
    assert policy.refuse_approval("destroy", "prod", "ana", ("leads",), own) == spans(
        "prod changes need approval from someone other than whoever asked for it")


def test_roles_from_another_workspace_never_reach_the_policy() -> None:
    thread = ThreadRef("discord", "111", "222", "333")
    message = IncomingMessage(thread, "U1", "apply", "e1", roles=("111/9", "999/9", "111/", "1112/9", "9"))
    assert message.roles == ("111/9",)
    action = ActionEvent(thread, "U1", "r1", "approve", "e2", roles=("999/9", "111/8"))
    assert action.roles == ("111/8",)
