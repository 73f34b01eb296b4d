"""`infrabot deploy` for real: the same program through the Pulumi Automation API and the `pulumi` CLI.

Run from an operator's machine (or CI) with GCP credentials for the target project. infrabot's own stack
keeps its state in `state_url` (the operator's choice); the bucket it creates is for the workers.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

from pulumi import automation as auto

from infra.errors import EngineConfigError
from infra.pulumi_cli import default_command
from infra.selfdeploy.layout import DeployConfig
from infra.selfdeploy.preview import STACK
from infra.selfdeploy.program import PULUMI_PROJECT, make_program


def deploy(
    cfg: DeployConfig,
    state_url: str,
    on_output: Callable[[str], None] = print,
    program: auto.PulumiFn | None = None,
) -> dict[str, str]:
    """`program` is infrabot's own GCP program unless given: tests give one of dynamic resources, since no
    provider plugin can be had there, to drive the real CLI through everything around it."""
    root = default_command()  # None means "the pulumi on PATH", if there is one
    if root is None and shutil.which("pulumi") is None:
        raise EngineConfigError("the pulumi CLI is not on PATH (use --preview to see the plan without it)")
    if not os.environ.get("PULUMI_CONFIG_PASSPHRASE") and state_url.startswith(("gs://", "file:")):
        raise EngineConfigError("set PULUMI_CONFIG_PASSPHRASE: it encrypts the secrets in infrabot's own stack")
    stack = auto.create_or_select_stack(
        stack_name=STACK, project_name=PULUMI_PROJECT, program=program or make_program(cfg),
        opts=auto.LocalWorkspaceOptions(
            project_settings=auto.ProjectSettings(
                name=PULUMI_PROJECT, runtime="python", backend=auto.ProjectBackend(state_url)),
            pulumi_command=auto.PulumiCommand(root=root) if root else None,
        ),
    )
    stack.set_all_config({"gcp:project": auto.ConfigValue(cfg.project), "gcp:region": auto.ConfigValue(cfg.region)})
    result = stack.up(on_output=on_output)
    return {key: str(out.value) for key, out in result.outputs.items() if not out.secret}
