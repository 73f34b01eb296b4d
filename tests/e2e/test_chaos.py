"""The chaos check (tests/chaos.py): through a killed worker, an emptied Redis, a frozen FerretDB and a killed
chat process, every approved request is applied exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import chaos


@pytest.mark.timeout(600)
async def test_every_request_survives_the_faults_and_is_applied_once(tmp_path: Path) -> None:
    outcome = await chaos.run(tmp_path)
    print(f"chaos: recovered {outcome.recovery_seconds:.1f}s after the faults ({', '.join(outcome.faults)})")
    assert outcome.problems() == []
    assert len(outcome.faults) == 4
