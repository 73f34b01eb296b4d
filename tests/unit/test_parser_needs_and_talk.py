"""Understanding v2, phrase by phrase: needs map to kinds, talk is left alone, questions about state are
answered, names without a keyword, cost words as sizes, one component per thing described."""

from __future__ import annotations

import pytest

from core.understanding.components import NEEDS
from core.understanding.parser import parse
from tests.corpus_score import kinds


@pytest.mark.parametrize("need, kind", [
    ("somewhere to store invoices as PDFs", "bucket"), ("a place for user uploads", "bucket"),
    ("to archive nightly backups", "bucket"), ("to keep scanned receipts", "bucket"),
    ("to store uploaded videos", "bucket"), ("to keep training data files", "bucket"),
    ("to keep media assets", "bucket"), ("something to hold container images", "registry"),
    ("somewhere to push our images", "registry"), ("to keep docker images", "registry"),
    ("to keep the stripe credentials", "secret"), ("to store a github token", "secret"),
    ("somewhere safe for the smtp password", "secret"), ("to keep our tls certificates", "secret"),
    ("async processing of webhooks", "queue"), ("to pass events between services", "queue"),
    ("to buffer clickstream events", "queue"), ("to fan out messages", "queue"),
    ("to cache sessions", "redis"), ("to cache api responses", "redis"), ("caching for query results", "redis"),
    ("to keep customer records", "postgres"), ("a relational store for orders", "postgres"),
])
def test_each_need_maps_to_its_kind(need: str, kind: str) -> None:
    p = parse(f"we need {need} for app demo")
    assert (p.intent, kinds(p), p.app) == ("create", [kind], "demo")


def test_every_needs_entry_is_exercised() -> None:
    assert {kind for kind, _ in NEEDS} == {"bucket", "registry", "secret", "queue", "redis", "postgres"}


def test_background_work_is_a_worker_and_named_products_win_over_needs() -> None:
    assert kinds(parse("a way to run background tasks for app mailer")) == ["queue", "service"]
    assert kinds(parse("need to store customer records in a relational db for app crm")) == ["postgres"]
    assert kinds(parse("async processing of uploads for app thumbs, via a queue")) == ["queue"]


@pytest.mark.parametrize("text, expected", [
    ("a secret for the sendgrid api key for app alerts", ["secret"]),
    ("a cache for api responses for app weather", ["redis"]),
    ("I need a REST API for app gateway", ["service"]),
    ("we must keep db backups for app vault", ["bucket"]),
])
def test_one_thing_described_counts_once(text: str, expected: list[str]) -> None:
    assert kinds(parse(text)) == expected


@pytest.mark.parametrize("text", [
    "my redis client keeps timing out locally", "is mysql or postgres better for analytics?",
    "postgres vs mysql, thoughts?", "we used to run redis on a VM back in the day",
    "anyone know why pubsub acks are slow?", "the bucket policy thing from yesterday was weird",
    "can you list the reasons kafka is better?",
])
def test_talk_about_things_is_left_alone(text: str) -> None:
    p = parse(text)
    assert (p.intent, p.components, p.app) == ("unknown", [], None)


@pytest.mark.parametrize("text, intent", [
    ("is my bucket ready?", "status"), ("is the database up yet?", "status"),
    ("did the redis get created?", "status"), ("are the buckets ready?", "status"),
    ("which databases do we have?", "list"), ("what's the bucket name", "outputs"),
])
def test_questions_about_existing_things(text: str, intent: str) -> None:
    assert parse(text).intent == intent


@pytest.mark.parametrize("text, app", [
    ("new project `pay-2`, a bucket please", "pay-2"), ('postgres for "inventory"', "inventory"),
    ("shop's redis cache please", "shop"), ("project atlas needs a bucket", "atlas"),
    ("`hermes` needs a secret", "hermes"), ("a cloud run service for shop", "shop"),
    ("minimal cloud run service for app api", "api"), ("a redis for app web", "web"),
])
def test_names_without_the_word_app(text: str, app: str) -> None:
    p = parse(text)
    assert (p.intent, p.app) == ("create", app)


@pytest.mark.parametrize("text", ["a mysql for it", "a bucket for now", "is postgres good for analytics?"])
def test_ordinary_words_are_not_names(text: str) -> None:
    assert parse(text).app is None


@pytest.mark.parametrize("text, size", [
    ("as cheap as possible postgres for app a", "small"), ("a bucket for app a, keep it on a budget", "small"),
    ("bare minimum postgres for app a", "small"), ("cheapest possible redis for app a", "small"),
    ("a beefy redis for app a", "large"), ("production-grade mysql for app a", "large"),
    ("a powerful service for app a", "large"),
])
def test_cost_words_are_sizes(text: str, size: str) -> None:
    p = parse(text)
    assert size in {p.size, *(c.size for c in p.components)}
