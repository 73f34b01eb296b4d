"""Typed approval: only a clear go-ahead applies; every hedge, question, negation, condition, deferral or
report of someone else's approval is something else (tests/corpus/approvals.jsonl)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from core.understanding.parser import parse

CASES = [json.loads(line) for line in
         (Path(__file__).parents[1] / "corpus" / "approvals.jsonl").read_text(encoding="utf-8").splitlines()
         if line.strip()]
NOT_APPROVALS = [c for c in CASES if not c["approves"]]
GO_AHEADS = [c for c in CASES if c["approves"]]


def test_the_list_covers_every_way_of_not_approving() -> None:
    by_category = Counter(c["category"] for c in NOT_APPROVALS)
    assert len(NOT_APPROVALS) >= 40
    assert set(by_category) == {"question", "negated", "hedged", "deferred", "conditional", "third_person"}
    assert min(by_category.values()) >= 5


@pytest.mark.parametrize("case", NOT_APPROVALS, ids=lambda c: c["text"])
def test_non_approvals_never_parse_as_apply(case: dict[str, Any]) -> None:
    parsed = parse(case["text"])
    assert parsed.intent != "apply" and not parsed.affirm


@pytest.mark.parametrize("case", [c for c in NOT_APPROVALS if c["category"] != "negated"],
                         ids=lambda c: c["text"])
def test_approval_words_that_did_not_approve_are_flagged(case: dict[str, Any]) -> None:
    """So the thread gets "Say `apply` to build the plan shown above" rather than a generic reply."""
    parsed = parse(case["text"])
    assert parsed.intent in ("unknown", "status", "help", "cancel", "history")
    if parsed.intent == "unknown":
        assert parsed.unclear_approval


@pytest.mark.parametrize("case", GO_AHEADS, ids=lambda c: c["text"])
def test_clear_go_aheads_apply(case: dict[str, Any]) -> None:
    parsed = parse(case["text"])
    assert (parsed.intent, parsed.affirm, parsed.unclear_approval) == ("apply", True, False)


@pytest.mark.parametrize("text", ["yes, but in london", "lgtm, add a redis too", "ok make it large"])
def test_a_verdict_with_a_change_is_the_change(text: str) -> None:
    assert parse(text).intent == "create"
