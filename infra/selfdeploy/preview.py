"""`infrabot deploy --preview`: the self-deployment evaluated offline (Pulumi mocks), with its monthly cost."""

from __future__ import annotations

import hashlib
import json

from core.plan import PlanResult, summarize
from infra import diffing, pricing
from infra.mocks import Evaluation, evaluate
from infra.selfdeploy.layout import DeployConfig
from infra.selfdeploy.program import PULUMI_PROJECT, make_program

STACK = "prod"
STATE_BUCKET_GB = 1  # the teams' Pulumi state files: small
# Cloud Run instance-based billing (CPU always allocated; worker pools bill the same way), us-central1 list
# prices as of infra.pricing.PRICES_AS_OF. Cheaper per second than request-based, but every second counts.
RUN_INSTANCE_VCPU_SECOND = 0.000018
RUN_INSTANCE_GIB_SECOND = 0.000002


def evaluate_offline(cfg: DeployConfig) -> Evaluation:
    """Blocking: the real program under mocks, no CLI and no cloud."""
    return evaluate(make_program(cfg), project=cfg.project, region=cfg.region, stack=STACK,
                    project_name=PULUMI_PROJECT)


def _always_on_monthly(cpu: float, memory_gib: float, instances: int) -> float:
    per_second = cpu * RUN_INSTANCE_VCPU_SECOND + memory_gib * RUN_INSTANCE_GIB_SECOND
    return instances * pricing.HOURS_PER_MONTH * pricing.SECONDS_PER_HOUR * per_second


def monthly_cost(cfg: DeployConfig) -> float:
    """Same price table as the teams' plans; instances here run all month (CPU always allocated)."""
    total = _always_on_monthly(1, 0.5, cfg.web_min_instances)
    total += _always_on_monthly(1, 2, cfg.workers)
    if cfg.discord:
        total += _always_on_monthly(1, 0.5, 1)
    total += pricing.component_monthly_cost("redis", "small")
    total += len(cfg.secrets()) * pricing.SECRET_VERSION_MONTH
    total += STATE_BUCKET_GB * pricing.GCS_STANDARD_GB_MONTH
    total += pricing.component_monthly_cost("registry", "small")
    return round(total * pricing.region_multiplier(cfg.region), 2)


def preview(cfg: DeployConfig) -> PlanResult:
    evaluation = evaluate_offline(cfg)
    changes = diffing.diff(diffing.snapshot(evaluation.resources), None)
    fingerprint = hashlib.sha256(json.dumps(cfg.__dict__, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return PlanResult(engine="offline", simulated=True, resources=changes, summary=summarize(changes),
                      monthly_cost_usd=monthly_cost(cfg), spec_fingerprint=fingerprint)



