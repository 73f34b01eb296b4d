"""The request lifecycle table (core/request.py TRANSITIONS) keeps the promises the rest of the code leans on."""

from __future__ import annotations

import pytest

from core.request import (
    BUSY,
    LIVE,
    OPEN,
    REVISABLE,
    RUNNING,
    SUPERSEDABLE,
    TRANSITIONS,
    VOID,
    IllegalTransition,
    Status,
    check_transition,
)

S = Status
ENDS = {s for s, targets in TRANSITIONS.items() if not targets}


def reachable(start: Status, avoiding: frozenset[Status] = frozenset()) -> set[Status]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in TRANSITIONS[todo.pop()]:
            if nxt not in seen and nxt not in avoiding:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_every_status_has_a_row_and_every_move_is_checked() -> None:
    assert set(TRANSITIONS) == set(Status)
    for source in Status:
        for target in Status:
            if target in TRANSITIONS[source]:
                check_transition(source, target)
            else:
                with pytest.raises(IllegalTransition):
                    check_transition(source, target)


def test_every_status_is_reachable_from_planning_and_can_reach_an_end() -> None:
    assert reachable(S.PLANNING) == set(Status)
    # Applied is where a built stack rests; every other status either ends or gets somewhere that does.
    for status in Status:
        assert reachable(status) & (ENDS | {S.APPLIED}), status


def test_nothing_reaches_the_cloud_without_an_approval_of_a_shown_plan() -> None:
    into_applying = {s for s, targets in TRANSITIONS.items() if S.APPLYING in targets}
    into_approved = {s for s, targets in TRANSITIONS.items() if S.APPROVED in targets}
    assert into_applying == {S.APPROVED}
    assert into_approved == {S.AWAITING_APPROVAL}


def test_the_named_groups_agree_with_the_table() -> None:
    assert OPEN <= REVISABLE and not REVISABLE & RUNNING
    assert RUNNING <= BUSY and LIVE & ENDS == set()
    for status in SUPERSEDABLE:
        assert S.SUPERSEDED in TRANSITIONS[status], status
    for status in REVISABLE:
        assert S.PLANNING in TRANSITIONS[status], status
    # A void request never ran; it only runs again after a fresh plan (and so a fresh approval).
    for status in VOID:
        assert S.APPLYING not in reachable(status, avoiding=frozenset({S.PLANNING})), status
