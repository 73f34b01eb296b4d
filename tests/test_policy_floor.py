"""The prod size floor: databases and caches in prod are raised to `medium` unless configured."""

from __future__ import annotations

import pytest

from config.policy import DEFAULT_MIN_SIZE, PolicyConfigError, parse_min_size, read_policy_file
from core.policy import Guardrails, Policy
from core.spec import Component, InfraSpec


def spec(env: str, *components: Component, size: str = "small") -> InfraSpec:
    return InfraSpec(app="shop", environment=env, size=size, components=list(components))


def prod_policy(**min_size: str) -> Policy:
    return Policy(guardrails=Guardrails(min_size={**DEFAULT_MIN_SIZE, **min_size}))


def test_prod_databases_and_caches_are_raised_to_medium() -> None:
    fitted = prod_policy().fit(spec("prod", Component(kind="postgres"), Component(kind="redis"),
                                    Component(kind="mysql", size="large"), Component(kind="bucket")))
    assert [(c.kind, fitted.size_of(c)) for c in fitted.components] == [
        ("postgres", "medium"), ("redis", "medium"), ("mysql", "large"), ("bucket", "small")
    ]


def test_other_environments_keep_small() -> None:
    original = spec("staging", Component(kind="postgres"))
    assert prod_policy().fit(original) == original


def test_the_floor_is_configurable() -> None:
    assert parse_min_size("prod=large") == {"prod": "large"}
    assert parse_min_size("staging=medium") == {"prod": "medium", "staging": "medium"}
    fitted = Policy(guardrails=Guardrails(min_size=parse_min_size("prod=small"))).fit(
        spec("prod", Component(kind="postgres")))
    assert fitted.size_of(fitted.components[0]) == "small"
    with pytest.raises(PolicyConfigError, match="not a size"):
        parse_min_size("prod=huge")


def test_policy_file_accepts_min_size(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "policy.yaml"
    path.write_text("min_size:\n  prod: large\n")
    assert read_policy_file(str(path))["min_size"] == {"prod": "large"}
