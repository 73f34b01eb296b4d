"""The Helm chart, linted and rendered with the real helm (built by scripts/setup.sh) on several values sets.

The assertions are about the trust boundary first: which Secret and which cloud identity reach which pod.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.credentials import CLOUD_CREDENTIAL_VARS
from config.local_services import REPO_ROOT

CHART = REPO_ROOT / "deploy" / "helm" / "infrabot"
GSA = "infrabot-worker@acme.iam.gserviceaccount.com"
BASE: dict[str, Any] = {
    "stores": {"redisUrl": "redis://:pw@redis:6379/0", "mongodbUrl": "mongodb://u:pw@mongo:27017/?replicaSet=rs0"},
    "worker": {"pulumiBackendUrl": "gs://acme-state", "pulumiConfigPassphrase": "s3cret",
               "serviceAccount": {"gcpServiceAccount": GSA}},
}
FULL: dict[str, Any] = {
    **BASE,
    "slack": {"enabled": True, "botToken": "xoxb-1", "appToken": "xapp-1"},
    "discord": {"enabled": True, "token": "discord-token", "guildIds": "112233"},
    "serviceMonitor": {"enabled": True, "labels": {"release": "prom"}},
}
CHAT_TOKENS = ("SLACK_BOT_TOKEN", "SLACK_BOT_TOKENS", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "DISCORD_TOKEN")


def helm() -> str:
    built = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "build_helm.sh")], capture_output=True, text=True)
    path = built.stdout.strip() if built.returncode == 0 else shutil.which("helm")
    if not path:
        pytest.fail(f"helm is missing and could not be built (run scripts/setup.sh): {built.stderr[-500:]}")
    return path


@pytest.fixture(scope="module")
def helm_bin() -> str:
    return helm()


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def run(helm_bin: str, command: str, values: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    file = tmp_path / f"values-{abs(hash(yaml.safe_dump(values)))}.yaml"
    file.write_text(yaml.safe_dump(values))
    args = [helm_bin, "lint", "--strict", str(CHART), "-f", str(file)] if command == "lint" else \
        [helm_bin, "template", "rel", str(CHART), "-f", str(file)]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def render(helm_bin: str, values: dict[str, Any], tmp_path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    done = run(helm_bin, "template", values, tmp_path)
    assert done.returncode == 0, done.stderr
    docs = [d for d in yaml.safe_load_all(done.stdout) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def pod(manifests: dict[tuple[str, str], dict[str, Any]], component: str) -> dict[str, Any]:
    return manifests[("Deployment", f"rel-infrabot-{component}")]["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def secrets_of(spec: dict[str, Any]) -> set[str]:
    [container] = spec["containers"]
    return {ref["secretRef"]["name"] for ref in container.get("envFrom", []) if "secretRef" in ref}


def secret_keys(manifests: dict[tuple[str, str], dict[str, Any]], name: str) -> set[str]:
    return set(manifests[("Secret", name)]["stringData"])


VALUE_SETS = {
    "minimal": BASE,
    "full": FULL,
    "slack-http": merge(BASE, {"slack": {"enabled": True, "socketMode": False, "botToken": "xoxb-1",
                                         "signingSecret": "sig"}}),
    "fixed-workers": merge(BASE, {"worker": {"autoscaling": {"enabled": False}, "replicas": 3},
                                  "web": {"pdb": {"enabled": False}}}),
    "existing-secrets": {"stores": {"existingSecret": "ops-stores"},
                         "worker": {"existingSecret": "ops-worker"},
                         "slack": {"enabled": True, "existingSecret": "ops-slack"}},
}


@pytest.mark.parametrize("name", list(VALUE_SETS))
def test_chart_lints_strictly(helm_bin: str, tmp_path: Path, name: str) -> None:
    done = run(helm_bin, "lint", VALUE_SETS[name], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 chart(s) failed" in done.stdout


def test_only_the_worker_gets_cloud_secrets_and_a_cloud_identity(helm_bin: str, tmp_path: Path) -> None:
    m = render(helm_bin, FULL, tmp_path)
    assert secrets_of(pod(m, "worker")) == {"rel-infrabot-stores", "rel-infrabot-worker"}
    assert secrets_of(pod(m, "web")) == {"rel-infrabot-stores", "rel-infrabot-slack"}
    assert secrets_of(pod(m, "slack")) == {"rel-infrabot-stores", "rel-infrabot-slack"}
    assert secrets_of(pod(m, "discord")) == {"rel-infrabot-stores", "rel-infrabot-discord"}
    assert secret_keys(m, "rel-infrabot-worker") == {"PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE"}
    assert secret_keys(m, "rel-infrabot-slack") == {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"}
    assert secret_keys(m, "rel-infrabot-discord") == {"DISCORD_TOKEN"}
    assert secret_keys(m, "rel-infrabot-stores") == {"REDIS_URL", "MONGODB_URL"}
    for name in ("rel-infrabot-stores", "rel-infrabot-slack", "rel-infrabot-discord"):
        assert not secret_keys(m, name) & set(CLOUD_CREDENTIAL_VARS), name
    assert not secret_keys(m, "rel-infrabot-worker") & set(CHAT_TOKENS), "the worker needs no chat token"
    config = m[("ConfigMap", "rel-infrabot-config")]["data"]
    assert not set(config) & {*CLOUD_CREDENTIAL_VARS, *CHAT_TOKENS, "REDIS_URL", "MONGODB_URL"}

    worker_sa = m[("ServiceAccount", "rel-infrabot-worker")]
    chat_sa = m[("ServiceAccount", "rel-infrabot-chat")]
    assert worker_sa["metadata"]["annotations"] == {"iam.gke.io/gcp-service-account": GSA}
    assert "annotations" not in chat_sa["metadata"]
    assert pod(m, "worker")["serviceAccountName"] == "rel-infrabot-worker"
    for chat in ("web", "slack", "discord"):
        spec = pod(m, chat)
        assert spec["serviceAccountName"] == "rel-infrabot-chat" and spec["automountServiceAccountToken"] is False
        [container] = spec["containers"]
        assert not {e["name"] for e in container.get("env", [])} & set(CLOUD_CREDENTIAL_VARS)


def test_google_credentials_go_to_the_worker_secret_only(helm_bin: str, tmp_path: Path) -> None:
    m = render(helm_bin, merge(FULL, {"worker": {"googleCredentials": '{"type": "service_account"}'}}), tmp_path)
    holders = [name for (kind, name), doc in m.items()
               if kind == "Secret" and "GOOGLE_CREDENTIALS" in doc["stringData"]]
    assert holders == ["rel-infrabot-worker"]
    assert [c for c in ("web", "slack", "discord") if "rel-infrabot-worker" in secrets_of(pod(m, c))] == []


def test_scaling_probes_resources_and_disruption_budgets(helm_bin: str, tmp_path: Path) -> None:
    m = render(helm_bin, FULL, tmp_path)
    worker = m[("Deployment", "rel-infrabot-worker")]
    assert "replicas" not in worker["spec"], "the HPA owns the worker's replica count"
    hpa = m[("HorizontalPodAutoscaler", "rel-infrabot-worker")]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "rel-infrabot-worker" and hpa["minReplicas"] >= 1
    assert m[("Deployment", "rel-infrabot-web")]["spec"]["replicas"] == 2
    for bot in ("slack", "discord"):
        spec = m[("Deployment", f"rel-infrabot-{bot}")]["spec"]
        assert spec["replicas"] == 1 and spec["strategy"]["type"] == "Recreate", bot
    for component in ("web", "worker", "slack", "discord"):
        spec = pod(m, component)
        [container] = spec["containers"]
        ports = {p["name"] for p in container["ports"]}
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez", component
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", component
        assert container["livenessProbe"]["httpGet"]["port"] in ports
        assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["args"] == ["infrabot", component]
    assert pod(m, "worker")["containers"][0]["image"].startswith("ghcr.io/example/infrabot-worker:")
    assert ":" in pod(m, "web")["containers"][0]["image"] and "worker" not in pod(m, "web")["containers"][0]["image"]
    for component in ("web", "worker"):
        pdb = m[("PodDisruptionBudget", f"rel-infrabot-{component}")]["spec"]
        assert pdb["selector"]["matchLabels"] == m[("Deployment", f"rel-infrabot-{component}")]["spec"]["selector"][
            "matchLabels"]
    monitor = m[("ServiceMonitor", "rel-infrabot")]
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert {e["port"] for e in monitor["spec"]["endpoints"]} == {"http", "metrics"}
    for (kind, _), doc in m.items():
        if kind == "Service":
            labels = doc["metadata"]["labels"]
            assert all(labels.get(k) == v for k, v in monitor["spec"]["selector"]["matchLabels"].items())


def test_fixed_workers_http_slack_and_toggles(helm_bin: str, tmp_path: Path) -> None:
    fixed = render(helm_bin, VALUE_SETS["fixed-workers"], tmp_path)
    assert fixed[("Deployment", "rel-infrabot-worker")]["spec"]["replicas"] == 3
    assert ("HorizontalPodAutoscaler", "rel-infrabot-worker") not in fixed
    assert ("PodDisruptionBudget", "rel-infrabot-web") not in fixed
    assert not [k for k in fixed if k[0] == "ServiceMonitor"], "off by default"
    assert not [k for k in fixed if k[1] in ("rel-infrabot-slack", "rel-infrabot-discord")]

    http = render(helm_bin, VALUE_SETS["slack-http"], tmp_path)
    assert ("Deployment", "rel-infrabot-slack") not in http, "HTTP mode is served by web"
    assert secrets_of(pod(http, "web")) == {"rel-infrabot-stores", "rel-infrabot-slack"}
    assert secret_keys(http, "rel-infrabot-slack") == {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"}


def test_existing_secrets_are_referenced_not_rendered(helm_bin: str, tmp_path: Path) -> None:
    m = render(helm_bin, VALUE_SETS["existing-secrets"], tmp_path)
    assert not [k for k in m if k[0] == "Secret"]
    assert secrets_of(pod(m, "worker")) == {"ops-stores", "ops-worker"}
    assert secrets_of(pod(m, "slack")) == {"ops-stores", "ops-slack"}
    assert "ops-worker" not in secrets_of(pod(m, "web"))


def test_missing_required_values_stop_the_render(helm_bin: str, tmp_path: Path) -> None:
    no_state = run(helm_bin, "template", {"stores": BASE["stores"]}, tmp_path)
    assert no_state.returncode != 0 and "worker.pulumiBackendUrl" in no_state.stderr
    no_stores = run(helm_bin, "template", {"worker": BASE["worker"]}, tmp_path)
    assert no_stores.returncode != 0 and "stores.redisUrl" in no_stores.stderr
    socket_without_app_token = run(helm_bin, "template", merge(BASE, {"slack": {"enabled": True, "botToken": "x"}}),
                                   tmp_path)
    assert socket_without_app_token.returncode != 0 and "slack.appToken" in socket_without_app_token.stderr


def test_web_chat_token_reaches_the_web_pod_only(helm_bin: str, tmp_path: Path) -> None:
    m = render(helm_bin, merge(FULL, {"web": {"chatToken": "a" * 32}}), tmp_path)
    assert secret_keys(m, "rel-infrabot-web") == {"WEB_CHAT_TOKEN"}
    assert "rel-infrabot-web" in secrets_of(pod(m, "web"))
    assert all("rel-infrabot-web" not in secrets_of(pod(m, c)) for c in ("worker", "slack", "discord"))
