"""Knowing one chat adapter means knowing the other: both keep the same jobs in files of the same names."""

from __future__ import annotations

from tests.unit.test_layering import REPO

SHARED = {"app", "handlers", "replies", "sink", "render", "places"}


def files_of(adapter: str) -> set[str]:
    return {p.stem for p in (REPO / "bots" / adapter).glob("*.py")}


def test_slack_and_discord_have_the_same_core_files() -> None:
    for adapter in ("slack", "discord_bot"):
        missing = SHARED - files_of(adapter)
        assert not missing, f"bots/{adapter}/ lacks {sorted(missing)}"
