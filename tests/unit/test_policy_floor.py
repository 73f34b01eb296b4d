"""The prod size floor: databases and caches in prod are raised to `medium` unless configured."""

from __future__ import annotations

from pathlib import Path

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


def test_policy_file_accepts_min_size(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("min_size:\n  prod: large\n")
    assert read_policy_file(str(path))["min_size"] == {"prod": "large"}


def test_settings_default_to_a_medium_floor_in_prod_and_min_size_overrides_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from config.policy import policy_from_settings
    from config.settings import Settings, SettingsError

    monkeypatch.delenv("MIN_SIZE", raising=False)
    monkeypatch.delenv("POLICY_FILE", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    default = policy_from_settings(Settings(_env_file=None))  # type: ignore[call-arg]
    assert default.guardrails.min_size == {"prod": "medium"}
    raised = default.fit(spec("prod", Component(kind="redis")))
    assert raised.size_of(raised.components[0]) == "medium"
    assert policy_from_settings(Settings(_env_file=None, min_size="prod=large")).guardrails.min_size == {  # type: ignore[call-arg]
        "prod": "large"
    }
    with pytest.raises((SettingsError, ValueError)):
        Settings(_env_file=None, min_size="prod=enormous")  # type: ignore[call-arg]
