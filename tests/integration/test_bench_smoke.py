"""The Slack benchmark's core, run briefly so it cannot rot: it must still drive both apps end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.local_services import LocalServices, free_port
from tests.bench_slack import print_slack, run_slack
from tests.bench_store import bench_write_gate


async def test_the_slack_benchmark_runs_both_apps_end_to_end(
    services: LocalServices, tmp_path: Path, capsys: object
) -> None:
    run = await run_slack(services.redis_url, services.mongodb_url, tmp_path, conversations=2, turns=3, senders=2,
                          closed_seconds=1.0, think=(0.0, 0.1), free_port=free_port)
    assert len(run.floor.reply) == 6 and run.floor.lost == 0
    assert len(run.empty.reply) == 6 and run.empty.lost == 0, "every infrabot turn got its reply in the thread"
    assert run.floor.closed_replies_per_s > 0 and run.empty.closed_replies_per_s > 0
    settled, _ = run.cards_empty
    assert settled, "the create turn's plan card was timed"
    assert run.contexts >= 2 and run.bytes_per_context > 0
    assert run.rss_mb > 0
    # As `make run` starts Slack: `infrabot relay` showed the cards (its own counters), the web process none.
    assert run.relay_rss_mb and run.relay_empty.cards > 0
    print_slack(run)


async def test_the_write_gate_benchmark_measures_both_ways_in(capsys: pytest.CaptureFixture[str]) -> None:
    await bench_write_gate(at_once=4, rounds=2)
    out = capsys.readouterr().out
    assert out.count("    straight  p50") == 2 and out.count("    gated     p50") == 2
    # The gated way keeps every increment it sent, whatever the straight way lost.
    gated = [line for line in out.splitlines() if line.startswith("    gated     p50")]
    # Updates only: 4 at once x 2 rounds, twice; half of them in the mixed load.
    assert gated[0].endswith("increments kept 16/16") and gated[1].endswith("increments kept 8/8")
    assert out.count("gated/straight") == 2
