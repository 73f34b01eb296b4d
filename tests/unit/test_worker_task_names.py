"""arq finds a job's function by the name it was queued under: each task entry answers to its own name."""

from __future__ import annotations

import pytest
from arq.worker import func

from jobs.worker import tasks


@pytest.mark.parametrize("name", ["plan", "apply", "destroy"])
def test_each_task_is_registered_under_the_name_it_is_queued_by(name: str) -> None:
    entry = getattr(tasks, name)
    assert func(entry).name == name
    assert entry.__name__ == name
