"""Scoring the parser on a corpus (tests/corpus/*.jsonl), shared by the corpus tests and `make bench`.

Each line: text, intent, components (kinds repeated per count), optionally app, environment, region, size,
remove, and a category. dev.jsonl is the set the rules are tuned on; test.jsonl is held out: written
before tuning and only ever scored.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.understanding.model import Parsed
from core.understanding.parser import RuleParser

CORPORA = Path(__file__).parent / "corpus"
ATTRIBUTES = ("app", "environment", "region", "size", "remove")


def load(name: str) -> list[dict[str, Any]]:
    path = CORPORA / name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def kinds(parsed: Parsed) -> list[str]:
    return sorted(c.kind for c in parsed.components for _ in range(c.count))


def _size(parsed: Parsed) -> str | None:
    return parsed.size or next((c.size for c in parsed.components if c.size), None)


@dataclass
class Row:
    text: str
    category: str
    intent_ok: bool
    kinds_ok: bool
    attrs_ok: bool
    has_kinds: bool
    has_attrs: bool
    applied_wrongly: bool
    got: tuple[Any, ...]
    want: tuple[Any, ...]


@dataclass
class Score:
    rows: list[Row] = field(default_factory=list)

    def rate(self, key: str, only: str | None = None, category: str | None = None) -> float:
        rows = [r for r in self.rows if (only is None or getattr(r, only))
                and (category is None or r.category == category)]
        return sum(getattr(r, key) for r in rows) / len(rows) if rows else 1.0

    @property
    def intent(self) -> float:
        return self.rate("intent_ok")

    @property
    def kinds(self) -> float:
        return self.rate("kinds_ok", only="has_kinds")

    @property
    def attributes(self) -> float:
        return self.rate("attrs_ok", only="has_attrs")

    @property
    def wrong_applies(self) -> list[str]:
        return [r.text for r in self.rows if r.applied_wrongly]

    def by_category(self) -> dict[str, tuple[int, float, float, float]]:
        cats: dict[str, list[Row]] = defaultdict(list)
        for r in self.rows:
            cats[r.category].append(r)
        return {c: (len(rows), self.rate("intent_ok", category=c),
                    self.rate("kinds_ok", only="has_kinds", category=c),
                    self.rate("attrs_ok", only="has_attrs", category=c)) for c, rows in sorted(cats.items())}

    def misses(self) -> list[Row]:
        return [r for r in self.rows if not (r.intent_ok and r.kinds_ok and r.attrs_ok)]


def score(cases: list[dict[str, Any]], parser: RuleParser | None = None) -> Score:
    parser = parser or RuleParser()
    result = Score()
    for case in cases:
        parsed = parser.parse(case["text"])
        got_attrs = {"app": parsed.app, "environment": parsed.environment, "region": parsed.region,
                     "size": _size(parsed), "remove": sorted(parsed.remove)}
        want_attrs = {k: (sorted(case[k]) if k == "remove" else case[k]) for k in ATTRIBUTES if k in case}
        result.rows.append(Row(
            text=case["text"],
            category=case.get("category", "uncategorised"),
            intent_ok=parsed.intent == case["intent"],
            # Components are judged where they are asked for: on requests to create or change.
            kinds_ok=kinds(parsed) == sorted(case["components"]),
            attrs_ok=all(got_attrs[k] == v for k, v in want_attrs.items()),
            has_kinds=case["intent"] == "create",
            has_attrs=bool(want_attrs),
            applied_wrongly=parsed.intent == "apply" and case["intent"] != "apply",
            got=(parsed.intent, kinds(parsed), {k: got_attrs[k] for k in want_attrs}),
            want=(case["intent"], sorted(case["components"]), want_attrs),
        ))
    return result


def report(name: str, result: Score) -> str:
    lines = [f"{name}: {len(result.rows)} messages | intent {result.intent:.1%} | kinds {result.kinds:.1%} | "
             f"attributes {result.attributes:.1%} | non-approvals parsed as apply: {len(result.wrong_applies)}"]
    for cat, (n, intent, kinds_, attrs) in result.by_category().items():
        lines.append(f"  {cat:<14} n={n:<4} intent {intent:6.1%}  kinds {kinds_:6.1%}  attributes {attrs:6.1%}")
    return "\n".join(lines)
