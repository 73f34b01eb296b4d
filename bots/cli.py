"""The `infrabot` command: run everything locally, or one process at a time."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from bots.web.guard import is_loopback
from config.credentials import chat_secret_names, drop_chat_secrets, refuse_credentials, split_env, worker_env
from config.local_services import LocalServices, ensure_services, spawn
from config.settings import Settings, load_settings
from core.markup import Inline, say
from infra.errors import EngineConfigError
from telemetry.probe_server import Checks, Refresh, start_probe_server

if TYPE_CHECKING:
    from bots.runtime import Runtime

log = logging.getLogger("infrabot")


def _setup_logging(settings: Settings) -> None:
    from telemetry.logs import setup_logging

    setup_logging(settings.log_level, settings.log_format)


def _chat_settings(process: str) -> Settings:
    """Settings for a chat-facing process, which must never see cloud credentials (env or `.env`)."""
    refuse_credentials(process)
    settings = load_settings()
    refuse_credentials(process, settings=settings)
    _setup_logging(settings)
    return settings


def _worker_settings() -> Settings:
    """Settings for the worker, which must never hold chat tokens (the mirror of `_chat_settings`).

    Tokens in the environment make the process re-exec itself without them: popping them from
    os.environ would leave them in the process's original environment block (/proc/PID/environ).
    Tokens in `.env` are dropped from the settings.
    """
    found = chat_secret_names()
    if found:
        print(f"infrabot worker: dropping chat tokens from its environment ({', '.join(found)})", file=sys.stderr)
        argv = [sys.executable, "-m", "bots.cli", *sys.argv[1:]]
        os.execve(sys.executable, argv, worker_env(os.environ))
    return drop_chat_secrets(load_settings())


def _services(settings: Settings) -> LocalServices:
    data = Path(settings.data_dir)
    logs = data / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    return ensure_services(
        settings.redis_url, settings.mongodb_url, data, redis_port=settings.local_redis_port,
        mongo_port=settings.local_mongodb_port, log_dir=logs, bin_dir=data / "bin",
    )


def cmd_parse(args: argparse.Namespace) -> int:
    from bots.runtime import llm_fallback
    from core.understanding.parser import RuleParser

    parsed = RuleParser().parse(args.text)
    fallback = llm_fallback(Settings())
    if fallback is not None:
        parsed = asyncio.run(fallback.refine(args.text, parsed))
    print(json.dumps(parsed.contract()))
    return 0


def _problem(said: Inline) -> str:
    # A terminal reads the core's light notation well: a command to type shows in backticks.
    return say("infrabot plan: ", *said).markup()


def cmd_plan(args: argparse.Namespace) -> int:
    from core.draft import Draft
    from core.understanding.parser import RuleParser
    from infra.plan_cli import plan_json
    from infra.summary import render_plan
    from jobs.worker.main import build_engine

    settings = load_settings()
    parsed = RuleParser().parse(args.text)
    draft = Draft()
    draft.merge(parsed)
    if parsed.app_problem:
        print(_problem(parsed.app_problem), file=sys.stderr)
        return 2
    if not draft.components:
        print("infrabot plan: name at least one component (service, postgres, mysql, redis, bucket, queue, "
              "secret, registry) or a template (web app, api, worker, static site)", file=sys.stderr)
        return 2
    draft.app = draft.app or "app"
    from config.policy import policy_from_settings

    # The same cloud rules as chat (CLOUDS, DEFAULT_CLOUD, ALLOWED_CLOUDS); the other guardrails are chat's.
    policy = policy_from_settings(settings)
    spec = draft.to_spec(os.environ.get("USER", "cli"), policy.default_cloud_for(draft.environment))
    refusal = policy.check_cloud(spec)
    if refusal:
        print(_problem(refusal), file=sys.stderr)
        return 2
    engine = build_engine(settings)
    if args.json:
        print(json.dumps(plan_json(spec, engine)))
        return 0

    async def noop(done: int, total: int, message: str) -> None:
        return None

    result = asyncio.run(engine.preview(spec, noop))
    print("\n".join(render_plan(result)))
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    """infrabot deploying itself to GCP; `--preview` evaluates the program offline and prices it."""
    from infra.plan_cli import plan_contract
    from infra.selfdeploy.layout import DeployConfig
    from infra.summary import render_plan

    settings = load_settings()
    try:
        cfg = DeployConfig(
            project=args.project or os.environ.get("GOOGLE_CLOUD_PROJECT") or settings.gcp_project,
            region=args.region, image=args.image or "", worker_image=args.worker_image or "",
            mongodb=args.mongodb, slack=not args.no_slack, discord=args.discord,
            web_min_instances=args.web_min_instances, workers=args.workers,
        )
    except ValueError as exc:
        print(f"infrabot deploy: {exc}", file=sys.stderr)
        return 2
    if args.preview:
        from infra.selfdeploy.preview import preview

        plan = preview(cfg)
        print(json.dumps(plan_contract(plan)) if args.json else "\n".join(render_plan(plan, max_listed=None)))
        return 0
    if args.json:
        print("infrabot deploy: --json goes with --preview", file=sys.stderr)
        return 2
    if not args.state_url:
        print("infrabot deploy: give --state-url (gs://BUCKET or file://DIR) for infrabot's own stack, "
              "or --preview to see the plan", file=sys.stderr)
        return 2
    from infra.selfdeploy.up import deploy

    outputs = deploy(cfg, args.state_url)
    print(json.dumps(outputs, indent=1))
    return 0


def _with_runtime(settings: Settings, body: Callable[..., Awaitable[None]]) -> int:
    from bots.runtime import build_runtime

    services = _services(settings)

    async def main() -> None:
        runtime = await build_runtime(settings, services.redis_url, services.mongodb_url, settle_heap=True)
        server = None
        try:
            if settings.metrics_port is not None:
                server = await start_probe_server(settings.metrics_port, *_chat_probes(runtime))
            await _until_stopped(runtime, body(runtime))
        finally:
            if server is not None:
                await server.stop()
            await runtime.close()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    finally:
        services.stop()
    return 0


def _chat_probes(runtime: Runtime) -> tuple[Checks, Refresh]:
    from telemetry import gauges, probes

    async def checks() -> dict[str, bool]:
        return {"redis": await probes.redis_ok(runtime.redis), "mongodb": await probes.mongo_ok(runtime.db)}

    async def refresh() -> None:
        await gauges.refresh_relay(runtime.relay.work, list(runtime.relay.sinks))

    return checks, refresh


async def _until_stopped(runtime: Runtime, body: Awaitable[None]) -> None:
    """Runs a chat bot until it ends or SIGTERM/SIGINT; then it stops listening and lets turns in flight finish."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    bot = asyncio.ensure_future(body)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({bot, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if bot.done():
            bot.result()
            return
        log.info("stopping: no new events; letting turns in flight finish (up to %.0f s)",
                 runtime.settings.shutdown_grace_seconds)
        bot.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await bot
        cut = await runtime.drain(runtime.settings.shutdown_grace_seconds)
        if cut:
            log.warning("stopped with %d turns unfinished; their platforms will redeliver them", cut)
    finally:
        stopping.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def cmd_web(args: argparse.Namespace) -> int:
    import uvicorn

    from bots.runtime import build_runtime
    from bots.serve import create_app

    settings = _chat_settings("web")
    services = _services(settings)

    async def start():  # type: ignore[no-untyped-def]
        return await build_runtime(settings, services.redis_url, services.mongodb_url, settle_heap=True)

    try:
        # log_config=None: uvicorn's lines go through our handler, in LOG_FORMAT. On SIGTERM uvicorn stops
        # accepting, lets requests in flight (turns) finish for the grace period, then runs the lifespan's end.
        uvicorn.run(create_app(start=start), host=settings.host, port=settings.port,
                    log_level=settings.log_level.lower(), log_config=None,
                    timeout_graceful_shutdown=int(settings.shutdown_grace_seconds))
    finally:
        services.stop()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from jobs.worker.main import build_engine, make_worker, refuse_local_state, yield_cpu

    settings = _worker_settings()
    _setup_logging(settings)
    yield_cpu(settings.worker_nice)
    build_engine(settings)  # a misconfigured engine should stop start-up, not every job
    refuse_local_state(settings)
    services = _services(settings)
    try:
        make_worker(settings, services.redis_url, services.mongodb_url, metrics_port=settings.metrics_port,
                    settle_heap=True, handle_signals=True).run()
    finally:
        services.stop()
    return 0


def cmd_slack(args: argparse.Namespace) -> int:
    settings = _chat_settings("slack")
    if not settings.slack_enabled:
        print("infrabot slack: set SLACK_BOT_TOKEN (or SLACK_BOT_TOKENS) and SLACK_SIGNING_SECRET or SLACK_APP_TOKEN",
              file=sys.stderr)
        return 2
    from bots.serve import run_slack

    return _with_runtime(settings, run_slack)


def cmd_discord(args: argparse.Namespace) -> int:
    settings = _chat_settings("discord")
    if not settings.discord_enabled:
        print("infrabot discord: set DISCORD_TOKEN", file=sys.stderr)
        return 2
    from bots.serve import run_discord

    return _with_runtime(settings, run_discord)


def cmd_relay(args: argparse.Namespace) -> int:
    settings = _chat_settings("relay")
    if settings.slack_bot_token is None and settings.slack_bot_tokens is None:
        print("infrabot relay: set SLACK_BOT_TOKEN (or SLACK_BOT_TOKENS); it shows Slack's status cards",
              file=sys.stderr)
        return 2
    from bots.serve import run_card_relay

    if settings.relay_nice:
        os.nice(settings.relay_nice)
    return _with_runtime(settings, run_card_relay)


def run_commands(settings: Settings, env: Mapping[str, str]) -> list[tuple[list[str], dict[str, str]]]:
    """The processes `infrabot run` starts, each with its environment: credentials reach the worker only."""
    chat_env, worker_env = split_env(env)
    if settings.slack_enabled:
        # Slack's cards get a process of their own, so a card edit never waits in the event loop that
        # answers, nor a reply behind it; the processes that answer are told to leave the cards to it.
        chat_env = {**chat_env, "SLACK_CARDS": "relay"}
    commands: list[tuple[list[str], dict[str, str]]] = [
        ([sys.executable, "-m", "bots.cli", "web"], chat_env),
        ([sys.executable, "-m", "bots.cli", "worker"], worker_env),
    ]
    if settings.slack_enabled:
        commands.append(([sys.executable, "-m", "bots.cli", "relay"], chat_env))
    if settings.slack_enabled and settings.slack_app_token:
        commands.append(([sys.executable, "-m", "bots.cli", "slack"], chat_env))
    if settings.discord_enabled:
        commands.append(([sys.executable, "-m", "bots.cli", "discord"], chat_env))
    return commands


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


STOP_SECONDS = 20.0


def stop_children(procs: list[subprocess.Popen[bytes]], grace: float = STOP_SECONDS) -> None:
    """SIGINT to every child's process group (what Ctrl-C in a terminal does), then SIGKILL to whatever is
    left in those groups after `grace` seconds, including grandchildren such as a Pulumi CLI."""
    for proc in procs:
        if proc.poll() is None:
            _signal_group(proc, signal.SIGINT)
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %ss; killing it", proc.args, grace)
    for proc in procs:
        _signal_group(proc, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


def cmd_run(args: argparse.Namespace) -> int:
    """Starts local Redis and FerretDB if needed, then the web process, a worker and any chat bots."""
    settings = load_settings()
    _setup_logging(settings)
    services = _services(settings)
    commands = run_commands(
        settings, {**os.environ, "REDIS_URL": services.redis_url, "MONGODB_URL": services.mongodb_url}
    )
    if not is_loopback(settings.host) and settings.web_chat_token is None:
        print(f"infrabot: HOST={settings.host} is not a loopback address, so the web chat is off (404) until "
              "WEB_CHAT_TOKEN is set", flush=True)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    # Children are stopped before the servers they use, so a worker stopped mid-job can hand the job back
    # (it runs again on the next start); each leads its own process group, so stopping reaches all it started.
    procs = [spawn(cmd, env=e) for cmd, e in commands]
    print(f"infrabot: web chat on http://{settings.host}:{settings.port}  (engine: {settings.engine}; "
          "Ctrl-C stops everything)", flush=True)
    try:
        while not stopping and all(p.poll() is None for p in procs):
            time.sleep(0.3)
    finally:
        # Workers let running jobs finish for the grace period before handing them back.
        stop_children(procs, grace=settings.shutdown_grace_seconds + STOP_SECONDS)
        services.stop()
    failed = [p.args for p in procs if p.returncode not in (0, -signal.SIGINT, None)]
    return 1 if failed and not stopping else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="infrabot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="everything locally: Redis, FerretDB, web chat, worker, configured bots")
    sub.add_parser("web", help="the web chat and HTTP endpoints (no cloud credentials allowed)")
    sub.add_parser("worker", help="the arq worker that plans and applies with Pulumi")
    sub.add_parser("slack", help="the Slack bot (Socket Mode when SLACK_APP_TOKEN is set)")
    sub.add_parser("discord", help="the Discord bot")
    sub.add_parser("relay", help="Slack's status cards in a process of their own (with SLACK_CARDS=relay)")
    p = sub.add_parser("parse", help="show how one message is understood, as JSON")
    p.add_argument("text")
    p = sub.add_parser("plan", help="plan a request without chat")
    p.add_argument("text")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p = sub.add_parser("deploy", help="deploy infrabot itself to GCP (Cloud Run, Memorystore, Secret Manager)")
    p.add_argument("--preview", action="store_true", help="offline plan and monthly cost; no CLI, no cloud")
    p.add_argument("--json", action="store_true", help="with --preview: the plan as JSON (as `infrabot plan --json`)")
    p.add_argument("--project", help="GCP project (default GOOGLE_CLOUD_PROJECT, then GCP_PROJECT)")
    p.add_argument("--region", default="us-central1")
    p.add_argument("--image", help="chat image (default: the Artifact Registry repository it creates)")
    p.add_argument("--worker-image", help="worker image (default: the Artifact Registry repository it creates)")
    p.add_argument("--mongodb", choices=["atlas", "firestore"], default="atlas",
                   help="atlas: MONGODB_URL secret you fill; firestore: also create Firestore (MongoDB compatible)")
    p.add_argument("--no-slack", action="store_true", help="no Slack secrets, no public invoker on the web front")
    p.add_argument("--discord", action="store_true", help="also run the Discord bot (a worker pool)")
    p.add_argument("--web-min-instances", type=int, default=1)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--state-url", help="Pulumi backend for infrabot's own stack (real deploy only)")
    return parser


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": cmd_run, "web": cmd_web, "worker": cmd_worker, "slack": cmd_slack, "discord": cmd_discord,
    "relay": cmd_relay, "parse": cmd_parse, "plan": cmd_plan, "deploy": cmd_deploy,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return HANDLERS[args.command](args)
    except EngineConfigError as exc:
        # The operator's to fix: one line, no traceback.
        print(f"infrabot {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
