"""Where scripts/build_pulumi.sh caches the pulumi CLI it builds (no registry here ships the binary)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

DEFAULT_VERSION = "v3.274.1"


def cached_root(env: Mapping[str, str] | None = None) -> Path:
    """`<root>` such that the CLI is `<root>/bin/pulumi`; mirrors the paths in scripts/build_pulumi.sh."""
    env = os.environ if env is None else env
    version = env.get("PULUMI_CLI_VERSION") or DEFAULT_VERSION
    cache = env.get("INFRABOT_CACHE") or str(
        Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "infrabot"
    )
    return Path(cache).expanduser() / f"pulumi-{version}"


def default_command(env: Mapping[str, str] | None = None) -> str | None:
    """PULUMI_COMMAND if set; else `pulumi` on PATH; else the cached build if there is one."""
    env = os.environ if env is None else env
    if env.get("PULUMI_COMMAND"):
        return env["PULUMI_COMMAND"]
    if shutil.which("pulumi", path=env.get("PATH")):
        return None
    root = cached_root(env)
    return str(root) if (root / "bin" / "pulumi").exists() else None
