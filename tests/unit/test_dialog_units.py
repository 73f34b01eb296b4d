"""Draft merging, count cues and the questions, without servers."""

from __future__ import annotations

import pytest

from core.draft import CountCues, Draft, ask_next, count_cues, looks_like_name, name_candidate, template_answer
from core.markup import Message, Numbered, Strong, line
from core.texts import MAX_REPLY_CHARS
from core.understanding.parser import parse


def merged(*texts: str, start: Draft | None = None) -> Draft:
    draft = start or Draft()
    for text in texts:
        draft.merge(parse(text), count_cues(text))
    return draft


def counts(draft: Draft) -> dict[str, int]:
    return {c["kind"]: c["count"] for c in draft.components}


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (("a bucket for app shop", "add another bucket"), {"bucket": 2}),
        (("a bucket for app shop", "one more bucket"), {"bucket": 2}),
        (("two buckets for app shop", "add 2 more buckets"), {"bucket": 4}),
        (("a bucket for app shop", "an extra bucket", "a second bucket"), {"bucket": 3}),
        (("a bucket for app shop", "add one more bucket and a redis"), {"bucket": 2, "redis": 1}),
        (("three buckets for app shop", "just one bucket"), {"bucket": 1}),
        (("three buckets for app shop", "make it 2 buckets"), {"bucket": 2}),
        # Naming a kind that is already there (here to size it) keeps its count.
        (("two buckets for app shop", "a large bucket"), {"bucket": 2}),
        (("the api template for app shop", "add a redis"), {"service": 1, "postgres": 1, "redis": 1}),
        (("a web app for app shop", "drop the bucket"), {"service": 1, "postgres": 1}),
        (("a bucket for app shop", "make it more robust with a redis"), {"bucket": 1, "redis": 1}),
    ],
)
def test_counts_follow_what_was_said(texts: tuple[str, ...], expected: dict[str, int]) -> None:
    assert counts(merged(*texts)) == expected


def test_cues_are_per_kind() -> None:
    assert count_cues("add another bucket and a redis") == CountCues(frozenset({"bucket"}), frozenset())
    assert count_cues("only one postgres please") == CountCues(frozenset(), frozenset({"postgres"}))
    assert count_cues("add a redis") == CountCues()


def test_counts_stay_within_the_spec_limit() -> None:
    draft = merged("ten buckets for app shop", "add 5 more buckets")
    assert counts(draft) == {"bucket": 10}
    draft.to_spec("ana")  # would raise if the count were out of range


def test_merge_reports_whether_anything_changed() -> None:
    draft = merged("a postgres db for app shop")
    assert not draft.merge(parse("a postgres database"), count_cues("a postgres database"))
    assert draft.merge(parse("make it medium"))
    assert draft.size == "medium"


def test_attributes_replace_and_survive_other_changes() -> None:
    draft = merged("a web app for app shop", "actually europe-west1", "use prod", "make it medium",
                   "add a redis")
    assert (draft.region, draft.environment, draft.size) == ("europe-west1", "prod", "medium")
    assert draft.app == "shop"
    assert set(counts(draft)) == {"service", "postgres", "bucket", "redis"}


def test_old_contexts_with_unknown_keys_still_load() -> None:
    draft = Draft.from_dict({"app": "shop", "components": [], "obsolete": 1})
    assert draft.app == "shop" and draft.missing() == ["components"]


def test_the_template_question_comes_first_and_states_the_defaults() -> None:
    awaited, asked = ask_next(Draft()) or ("", Message())
    question = asked.markup()
    assert awaited == "template"
    # Built as structure, not notation: the menu is a numbered list whose names are strong.
    menu = asked.blocks[1]
    assert isinstance(menu, Numbered) and menu.items[0][0] == Strong("web app")
    for words in ("1. *web app*", "4. *static site*", "yes", "region us-central1", "environment dev",
                  "size small"):
        assert words in question
    assert "called" not in question, "one question at a time"
    awaited, asked = ask_next(merged("the api one")) or ("", Message())
    question = asked.markup()
    assert awaited == "app" and "service, postgres, redis" in question
    assert ask_next(merged("an api for app shop")) is None


def test_defaults_already_chosen_are_not_restated() -> None:
    question = (ask_next(merged("make it medium in belgium")) or ("", Message()))[1].markup()
    assert "size small" not in question and "region" not in question and "environment dev" in question


@pytest.mark.parametrize(
    ("answer", "kinds"),
    [("1", ["service", "postgres", "bucket"]), ("2", ["service", "postgres", "redis"]),
     ("the worker one", ["service", "queue"]), ("static site", ["bucket"]), ("yes", ["service", "postgres",
                                                                                     "bucket"]),
     ("the second", ["service", "postgres", "redis"]), ("#4", ["bucket"])],
)
def test_template_answers(answer: str, kinds: list[str]) -> None:
    parsed = parse(answer)
    assert template_answer(parsed, answer)
    assert [c.kind for c in parsed.components] == kinds


@pytest.mark.parametrize("answer", ["7", "what are those?", "hmm"])
def test_non_answers_to_the_template_question(answer: str) -> None:
    assert not template_answer(parse(answer), answer)


@pytest.mark.parametrize(("text", "ok"), [("shop", True), ("`checkout-api`", True), ("My Shop", True),
                                          ("what should I call it?", False), ("x" * 80, False),
                                          ("please make me a thing that does lots of stuff", False)])
def test_what_may_be_a_bare_name(text: str, ok: bool) -> None:
    assert looks_like_name(text) is ok


def test_fit_cuts_long_replies_at_a_line() -> None:
    text = "Header\n" + "\n".join(f"• line {i} " + "x" * 40 for i in range(200))
    cut = Message.parse(text).fit(MAX_REPLY_CHARS).markup()
    assert len(cut) <= MAX_REPLY_CHARS and cut.endswith("\n…")
    lines = cut.splitlines()
    assert lines[0] == "Header" and lines[-1] == "…"
    assert all(line.startswith("• line") and line.endswith("x") for line in lines[1:-1])
    assert Message.parse("short").fit(MAX_REPLY_CHARS).markup() == "short"


def test_fit_keeps_the_start_of_one_overlong_line() -> None:
    cut = Message.of(line("Plan: ", Strong("shop"), " " + "word " * 1000)).fit(MAX_REPLY_CHARS)
    text = cut.markup()
    assert len(text) <= MAX_REPLY_CHARS and text.startswith("Plan: *shop* word") and text.endswith("word\n…")


@pytest.mark.parametrize(("answer", "app"), [("shop please", "shop"), ("name: shop", "shop"),
                                             ("Shop!", "shop"), ("it's checkout-api", "checkout-api"),
                                             ("`blog`", "blog")])
def test_name_answers_are_read_as_the_name(answer: str, app: str) -> None:
    assert looks_like_name(answer)
    assert parse(name_candidate(answer)).app == app
