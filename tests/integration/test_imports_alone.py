"""Every module of the product imports on its own, first thing in a fresh interpreter.

An import loop only breaks when the loop is entered at the wrong module: importing each module first
(with the product's own modules forgotten in between) enters each loop at every point.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.unit.test_layering import REPO, modules

# Each module is imported in a fork of an interpreter that has the third-party libraries loaded (they
# are not under test and take most of the time) but none of the product's modules or their metrics.
_SCRIPT = """
import importlib, json, multiprocessing, sys, traceback
import prometheus_client
ROOTS = set(sys.argv[1].split(","))
sys.path.insert(0, sys.argv[2])
names = json.loads(sys.stdin.read())


def alone(name):
    try:
        importlib.import_module(name)
    except BaseException:
        return traceback.format_exc(limit=-3)
    return None


for name in names:
    try:
        importlib.import_module(name)
    except BaseException:
        pass
for loaded in [m for m in sys.modules if m.split(".")[0] in ROOTS]:
    del sys.modules[loaded]
for collector in list(prometheus_client.REGISTRY._collector_to_names):
    prometheus_client.REGISTRY.unregister(collector)
with multiprocessing.get_context("fork").Pool(2, maxtasksperchild=1) as pool:
    results = pool.map(alone, names, chunksize=1)
print(json.dumps({name: trace for name, trace in zip(names, results) if trace}))
"""


def imports_alone(names: list[str], path: Path = REPO) -> dict[str, str]:
    roots = sorted({n.split(".")[0] for n in names})
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, ",".join(roots), str(path)], input=json.dumps(names), cwd=REPO,
        capture_output=True, text=True, timeout=240, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_every_module_imports_alone() -> None:
    failed = imports_alone(sorted(modules()))
    assert not failed, "\n".join(f"{name}:\n{trace}" for name, trace in failed.items())


def test_a_loop_entered_at_the_wrong_module_is_caught(tmp_path: Path) -> None:
    """Two modules that need a name from each other: importing either first fails, so the check can fail."""
    package = tmp_path / "loopprobe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from loopprobe.b import B\nA = 1\n")
    (package / "b.py").write_text("from loopprobe.a import A\nB = 2\n")
    (package / "c.py").write_text("C = 3\n")
    failed = imports_alone(["loopprobe.a", "loopprobe.b", "loopprobe.c"], path=tmp_path)
    assert set(failed) == {"loopprobe.a", "loopprobe.b"}
    assert "partially initialized module" in failed["loopprobe.a"]
