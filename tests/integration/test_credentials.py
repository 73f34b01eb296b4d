"""Only the worker holds cloud credentials: chat processes refuse them, `infrabot run` hands them out."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from bots.cli import run_commands
from config.credentials import (
    CLOUD_CREDENTIAL_VARS,
    chat_secret_names,
    drop_chat_secrets,
    found_credentials,
    refuse_credentials,
    split_env,
)
from config.local_services import REPO_ROOT, LocalServices, free_port, port_open
from config.settings import Settings, load_settings
from tests.support import interrupt

INFRABOT = str(REPO_ROOT / ".venv" / "bin" / "infrabot")
KEY_PATH = "/secrets/deployer-key-0d1f.json"
PASSPHRASE = "correct-horse-battery-staple"


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The test's own environment minus anything credential-like or settings-like, plus `extra`."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env |= {"DATA_DIR": str(tmp_path / "data"), "PORT": str(free_port()), "LOG_LEVEL": "WARNING"}
    return env | extra


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([INFRABOT, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("process", ["web", "slack", "discord", "relay"])
def test_a_chat_process_with_google_credentials_does_not_start(tmp_path: Path, process: str) -> None:
    env = clean_env(tmp_path, GOOGLE_APPLICATION_CREDENTIALS=KEY_PATH)
    done = run_cli([process], env, tmp_path)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"infrabot {process}: refusing to start: cloud credentials found")
    assert "GOOGLE_APPLICATION_CREDENTIALS" in lines[0] and "infrabot worker" in lines[0]
    assert KEY_PATH not in done.stderr + done.stdout, "the value is never printed"
    assert not (tmp_path / "data").exists(), "no local servers were started"
    assert not port_open(int(env["PORT"])), "nothing listens"


def test_the_pulumi_passphrase_in_dotenv_stops_a_chat_process(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"PULUMI_CONFIG_PASSPHRASE={PASSPHRASE}\nLOG_LEVEL=INFO\n")
    done = run_cli(["web"], clean_env(tmp_path), tmp_path)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "infrabot web: refusing to start: PULUMI_CONFIG_PASSPHRASE is set in the settings (.env). "
        "Only `infrabot worker` may hold it; give it to the worker's environment instead."]
    assert PASSPHRASE not in done.stderr + done.stdout
    assert not (tmp_path / "data").exists()


def test_without_credentials_the_web_process_starts_and_serves(tmp_path: Path, services: LocalServices) -> None:
    """The control for the refusals above: same command, same environment minus the credentials."""
    env = clean_env(tmp_path, REDIS_URL=services.redis_url, MONGODB_URL=services.mongodb_url,
                    MONGODB_DB=f"creds_{uuid.uuid4().hex[:8]}", ENGINE="offline")
    proc = subprocess.Popen([INFRABOT, "web"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{env['PORT']}/healthz", timeout=1).status_code
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert status == 200, proc.stderr.read() if proc.poll() is not None and proc.stderr else status
    finally:
        interrupt(proc)


def test_refusal_names_every_variable_found_and_only_non_empty_ones() -> None:
    env = {"GOOGLE_CREDENTIALS": "{...}", "PULUMI_ACCESS_TOKEN": "pul-123", "GOOGLE_OAUTH_ACCESS_TOKEN": ""}
    assert found_credentials(env) == ["GOOGLE_CREDENTIALS", "PULUMI_ACCESS_TOKEN"]
    with pytest.raises(SystemExit) as caught:
        refuse_credentials("slack", env)
    message = str(caught.value)
    assert "GOOGLE_CREDENTIALS, PULUMI_ACCESS_TOKEN" in message and "pul-123" not in message
    refuse_credentials("slack", {"GOOGLE_OAUTH_ACCESS_TOKEN": "", "PATH": "/bin"})


def _settings(**values: str) -> Settings:
    return Settings(_env_file=None, engine="offline", **values)  # type: ignore[call-arg]


def test_run_gives_credentials_to_the_worker_only() -> None:
    settings = _settings(slack_bot_token="xoxb-1", slack_app_token="xapp-1", discord_token="d-1")
    env = {"PATH": "/usr/bin", "REDIS_URL": "redis://127.0.0.1:1/0", "GOOGLE_APPLICATION_CREDENTIALS": KEY_PATH,
           "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE, "PULUMI_ACCESS_TOKEN": "pul-123"}
    commands = {cmd[-1]: child_env for cmd, child_env in run_commands(settings, env)}
    assert set(commands) == {"web", "worker", "slack", "discord", "relay"}
    assert commands["worker"] == env
    for name in ("web", "slack", "discord", "relay"):
        chat = commands[name]
        assert found_credentials(chat) == [], name
        assert not any(chat.get(var) for var in CLOUD_CREDENTIAL_VARS), name
        assert chat["PULUMI_CONFIG_PASSPHRASE"] == "", "blanked, so a shared .env cannot supply it"
        assert (chat["PATH"], chat["REDIS_URL"]) == (env["PATH"], env["REDIS_URL"])
        refuse_credentials(name, chat)


def test_a_shared_dotenv_reaches_the_worker_but_not_the_chat_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(f"PULUMI_CONFIG_PASSPHRASE={PASSPHRASE}\n")
    monkeypatch.chdir(tmp_path)
    for var in CLOUD_CREDENTIAL_VARS:
        monkeypatch.delenv(var, raising=False)
    chat, worker = split_env({"PATH": "/usr/bin"})

    for name, value in worker.items():
        monkeypatch.setenv(name, value)
    as_worker = load_settings()
    assert as_worker.pulumi_config_passphrase is not None
    assert as_worker.pulumi_config_passphrase.get_secret_value() == PASSPHRASE
    with pytest.raises(SystemExit, match="PULUMI_CONFIG_PASSPHRASE is set in the settings"):
        refuse_credentials("web", settings=as_worker)

    for name, value in chat.items():
        monkeypatch.setenv(name, value)
    as_chat = load_settings()
    refuse_credentials("web", settings=as_chat)
    assert not (as_chat.pulumi_config_passphrase and as_chat.pulumi_config_passphrase.get_secret_value())


def test_a_misconfigured_engine_stops_the_worker_with_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PULUMI_CONFIG_PASSPHRASE", "REDIS_URL", "MONGODB_URL")}
    env.update(ENGINE="pulumi", DATA_DIR=str(tmp_path), LOCAL_REDIS_PORT=str(free_port()),
               LOCAL_MONGODB_PORT=str(free_port()))
    result = subprocess.run([sys.executable, "-m", "bots.cli", "worker"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "infrabot worker: PULUMI_CONFIG_PASSPHRASE is not set: the pulumi engine needs it to encrypt stack secrets"
    )
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "redis").exists(), "no servers are started for a worker that cannot run"


CHAT_TOKENS = {"SLACK_BOT_TOKEN": "xoxb-9-chat-only", "SLACK_SIGNING_SECRET": "sign-9-chat-only",
               "SLACK_APP_TOKEN": "xapp-9-chat-only", "DISCORD_TOKEN": "discord-9-chat-only",
               "WEB_CHAT_TOKEN": "web-9-chat-only"}


def test_run_gives_chat_tokens_to_the_chat_side_only() -> None:
    settings = _settings(slack_bot_token="xoxb-1", slack_app_token="xapp-1", discord_token="d-1")
    env = {"PATH": "/usr/bin", "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE, **CHAT_TOKENS}
    commands = {cmd[-1]: child_env for cmd, child_env in run_commands(settings, env)}

    assert chat_secret_names(commands["worker"]) == []
    assert commands["worker"]["PULUMI_CONFIG_PASSPHRASE"] == PASSPHRASE
    for name in ("web", "slack", "discord", "relay"):
        assert {k: commands[name][k] for k in CHAT_TOKENS} == CHAT_TOKENS, name


def test_run_gives_slacks_cards_a_process_of_their_own() -> None:
    """With Slack, the processes that answer leave its cards to `infrabot relay`; without, there is none."""
    for slack in ({"slack_bot_token": "xoxb-1", "slack_signing_secret": "s-1"},
                  {"slack_bot_token": "xoxb-1", "slack_app_token": "xapp-1"}):
        commands = {cmd[-1]: child_env for cmd, child_env in run_commands(_settings(**slack), {"PATH": "/usr/bin"})}
        assert "relay" in commands and commands["worker"].get("SLACK_CARDS") is None
        assert all(commands[name]["SLACK_CARDS"] == "relay" for name in commands if name != "worker"), slack
    alone = {cmd[-1]: child_env for cmd, child_env in run_commands(_settings(), {"PATH": "/usr/bin"})}
    assert set(alone) == {"web", "worker"} and "SLACK_CARDS" not in alone["web"]


def test_the_worker_forgets_chat_tokens_from_its_env_and_its_settings() -> None:
    environ = {"PATH": "/usr/bin", "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE, **CHAT_TOKENS}
    settings = _settings(slack_bot_token="xoxb-1", slack_signing_secret="s-1", discord_token="d-1")

    kept = drop_chat_secrets(settings, environ)

    assert environ == {"PATH": "/usr/bin", "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE}
    assert (kept.slack_bot_token, kept.slack_signing_secret, kept.discord_token) == (None, None, None)
    assert kept.engine == "offline"


def test_infrabot_worker_started_with_chat_tokens_drops_them_from_its_process(
    tmp_path: Path, services: LocalServices
) -> None:
    """/proc/PID/environ is what the process and everything it starts can read."""
    env = clean_env(tmp_path, REDIS_URL=services.redis_url, MONGODB_URL=services.mongodb_url,
                    MONGODB_DB=f"creds_{uuid.uuid4().hex[:8]}", ENGINE="offline", **CHAT_TOKENS)
    proc = subprocess.Popen([INFRABOT, "worker"], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        environ = b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                environ = Path(f"/proc/{proc.pid}/environ").read_bytes()
            except OSError:
                break
            if b"MONGODB_DB=" in environ and b"SLACK_BOT_TOKEN" not in environ:
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else "worker exited"
        assert b"MONGODB_DB=" in environ
        for name, value in CHAT_TOKENS.items():
            assert name.encode() not in environ and value.encode() not in environ
    finally:
        interrupt(proc)
    assert proc.stderr is not None
    err = proc.stderr.read()
    assert "dropping chat tokens from its environment (DISCORD_TOKEN, SLACK_APP_TOKEN" in err
    assert not any(value in err for value in CHAT_TOKENS.values())


def test_the_card_relay_without_a_slack_token_says_what_it_needs(tmp_path: Path) -> None:
    done = run_cli(["relay"], clean_env(tmp_path), tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "infrabot relay: set SLACK_BOT_TOKEN (or SLACK_BOT_TOKENS); it shows Slack's status cards"]
    assert not (tmp_path / "data").exists(), "no local servers were started"
