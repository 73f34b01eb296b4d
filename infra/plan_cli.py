"""Machine-readable plan for `infrabot plan "TEXT" --json`."""

from __future__ import annotations

import asyncio
from typing import Any

from core.plan import PlanResult
from core.ports import Engine
from core.spec import InfraSpec


async def _quiet(done: int, total: int, message: str) -> None:
    return None


def plan_contract(plan: PlanResult) -> dict[str, Any]:
    """The JSON every `--json` plan prints (`infrabot plan`, `infrabot deploy --preview`)."""
    return {
        "engine": plan.engine,
        "resources": [{"type": r.type, "name": r.name, "op": r.op} for r in plan.resources],
        "summary": {op: plan.summary.get(op, 0) for op in ("create", "update", "delete", "replace")},
        "monthly_cost_usd": plan.monthly_cost_usd,
    }


async def plan_json_async(spec: InfraSpec, engine: Engine) -> dict[str, Any]:
    return plan_contract(await engine.preview(spec, _quiet))


def plan_json(spec: InfraSpec, engine: Engine) -> dict[str, Any]:
    """Blocking entry point for the CLI; async callers use plan_json_async."""
    return asyncio.run(plan_json_async(spec, engine))
