"""Accuracy of the rule parser on corpora of realistic chat messages (tests/corpus/*.jsonl).

Each line: text, intent, components (kinds repeated per count) and optionally app, environment, region
and remove. utterances.jsonl was written before the parser existed; holdout.jsonl was written after
the parser's first version and never shown to it before its first scoring (59/66 then). The bar is 95%.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from core.understanding.model import INTENTS
from core.understanding.parser import RuleParser

CORPORA = Path(__file__).parent / "corpus"
CORPUS = CORPORA / "utterances.jsonl"
THRESHOLD = 0.95
ATTRIBUTES = ("app", "environment", "region", "remove")


def _load(path: Path = CORPUS) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _kinds(parsed_components: list[Any]) -> list[str]:
    return sorted(c.kind for c in parsed_components for _ in range(c.count))


@pytest.fixture(scope="module", params=["utterances.jsonl", "holdout.jsonl"])
def results(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    parser = RuleParser()
    rows = []
    for case in _load(CORPORA / request.param):
        parsed = parser.parse(case["text"])
        got_attrs = {"app": parsed.app, "environment": parsed.environment, "region": parsed.region,
                     "remove": sorted(parsed.remove)}
        want_attrs = {k: (sorted(case[k]) if k == "remove" else case[k]) for k in ATTRIBUTES if k in case}
        rows.append({
            "text": case["text"],
            "intent_ok": parsed.intent == case["intent"],
            "components_ok": _kinds(parsed.components) == sorted(case["components"]),
            "attrs_ok": all(got_attrs[k] == v for k, v in want_attrs.items()),
            "has_attrs": bool(want_attrs),
            "got": (parsed.intent, _kinds(parsed.components), {k: got_attrs[k] for k in want_attrs}),
            "want": (case["intent"], sorted(case["components"]), want_attrs),
        })
    return rows


def test_corpus_is_broad() -> None:
    cases = _load()
    assert len(cases) >= 180
    intents = Counter(c["intent"] for c in cases)
    assert set(intents) == set(INTENTS), f"intents without examples: {set(INTENTS) - set(intents)}"
    kinds = {k for c in cases for k in c["components"]}
    assert kinds == {"service", "postgres", "mysql", "redis", "bucket", "queue", "secret", "registry"}


def _score(rows: list[dict[str, Any]], key: str) -> float:
    return sum(r[key] for r in rows) / len(rows)


def test_corpus_accuracy(results: list[dict[str, Any]]) -> None:
    intent = _score(results, "intent_ok")
    components = _score(results, "components_ok")
    with_attrs = [r for r in results if r["has_attrs"]]
    attrs = _score(with_attrs, "attrs_ok")
    exact = sum(r["intent_ok"] and r["components_ok"] and r["attrs_ok"] for r in results) / len(results)
    misses = [r for r in results if not (r["intent_ok"] and r["components_ok"] and r["attrs_ok"])]
    print(f"\nparser corpus: {len(results)} utterances | intent {intent:.1%} | components {components:.1%} | "
          f"attributes {attrs:.1%} of {len(with_attrs)} | all exact {exact:.1%}")
    for r in misses:
        print(f"  MISS {r['text']!r}\n       got  {r['got']}\n       want {r['want']}")
    assert intent >= THRESHOLD
    assert components >= THRESHOLD
    assert attrs >= THRESHOLD
