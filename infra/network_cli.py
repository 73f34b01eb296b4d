"""Sets up an environment's shared network (infra/shared_network.py), once per project and env.

    python -m infra.network_cli staging --region us-central1 [--region europe-west1] [--apply]

Run by a platform admin where the worker's credentials are. Without `--apply` it only shows the
plan. Give every region the environment's apps use, each time: the stack holds one subnet per
region listed. A plan that would delete or replace anything is refused, so a forgotten region
never takes a subnet away from running apps.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from core.plan import PlanResult
from core.ports import Engine
from core.spec import ENVIRONMENTS, InfraSpec
from infra import shared_network
from infra.summary import render_plan


async def _print(done: int, total: int, message: str) -> None:
    print(f"[{done}/{total}] {message}")


def network_spec(environment: str, region: str) -> InfraSpec:
    """The network stack rides on the engine's stack naming: app `infrabot-net` -> `infrabot-net-{env}`."""
    return InfraSpec(
        app=shared_network.NETWORK_STACK_PREFIX,
        environment=environment,  # type: ignore[arg-type]
        region=region,
        components=[],
    )


def destructive(plan: PlanResult) -> list[str]:
    return [f"{c.op} {c.type} {c.name}" for c in plan.resources if c.op in ("delete", "replace")]


def build_engine(environment: str, regions: list[str]) -> Engine:
    """The worker's Pulumi engine, running the network program instead of an app's."""
    from config.settings import load_settings
    from infra.pulumi_engine import PulumiEngine

    settings = load_settings()
    data = Path(settings.data_dir).expanduser().resolve()
    secret = settings.pulumi_config_passphrase
    engine = PulumiEngine(
        passphrase=secret.get_secret_value() if secret is not None else "",
        gcp_project=settings.gcp_project,
        backend_url=settings.pulumi_backend_url or (data / "pulumi-state").as_uri(),
        pulumi_command=os.environ.get("PULUMI_COMMAND") or None,
        work_root=data / "pulumi-work",
        pulumi_home=os.environ.get("PULUMI_HOME") or None,
        program_factory=lambda spec: shared_network.make_network_program(
            settings.gcp_project, environment, regions
        ),
    )
    return engine


async def run(engine: Engine, environment: str, regions: list[str], apply: bool) -> int:
    spec = network_spec(environment, regions[0])
    plan = await engine.preview(spec, _print)
    print("\n".join(render_plan(plan, max_listed=None)))
    refused = destructive(plan)
    if refused:
        print("refusing: this would delete or replace shared network resources:\n  " + "\n  ".join(refused))
        return 2
    if apply:
        await engine.apply(spec, _print, plan)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.network_cli", description=__doc__.splitlines()[0])
    parser.add_argument("environment", choices=ENVIRONMENTS)
    parser.add_argument("--region", action="append", required=True, help="every region this env's apps use")
    parser.add_argument("--apply", action="store_true", help="apply the plan (default: show it only)")
    args = parser.parse_args(argv)
    for region in args.region:
        try:
            shared_network.subnet_cidr(region)  # a region without an assigned range, before any work
        except ValueError as err:
            print(f"infra.network_cli: {err}", file=sys.stderr)
            return 2
    regions = list(dict.fromkeys(args.region))
    return asyncio.run(run(build_engine(args.environment, regions), args.environment, regions, args.apply))


if __name__ == "__main__":
    sys.exit(main())
