"""Per-process memory stays flat: the set behind Discord's one-time hints forgets members by age and size."""

from __future__ import annotations

import pytest

from core import expiring
from core.expiring import ExpiringSet


def test_members_are_forgotten_after_the_ttl_and_the_set_never_outgrows_its_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(expiring.time, "monotonic", lambda: clock[0])
    seen = ExpiringSet(ttl_seconds=60, max_size=100)
    seen.add("a")
    clock[0] += 30
    seen.add("b")
    assert "a" in seen and "b" in seen
    clock[0] += 31
    assert "a" not in seen and "b" in seen and len(seen) == 1, "a is older than the ttl"
    seen.add("b")  # seen again: its age starts over
    clock[0] += 59
    assert "b" in seen

    for n in range(10_000):  # a long-running process seeing many threads
        seen.add(n)
    assert len(seen) == 100 and 9_999 in seen and 0 not in seen
