"""The core's light notation is read back in one place, core.messages.stored_message, from what was stored in
MongoDB: adapters get Messages and never parse notation, and no reply is built by parsing a string."""

from __future__ import annotations

import ast
from pathlib import Path

from bots.discord_bot.render import card_embed
from bots.slack.render import render_card
from bots.web.render import html
from core.markup import Code, Message, Strong, line
from core.status_card import StatusCard, card_message
from tests.unit.test_layering import REPO, modules

READERS = ("Message.parse", "parse_inline", "_parse_inline")
# The reader's own module, and the one function that calls it.
HOMES = {"core/markup.py", "core/messages.py"}


def readers_used(path: Path) -> set[str]:
    """Which of READERS a module names: `Message.parse(...)`, or the inline reader called or imported."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            found.add(f"{node.value.id}.{node.attr}")
            found.add(node.attr)
        elif isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.ImportFrom):
            found.update(alias.name for alias in node.names)
    return found & set(READERS)


def using() -> dict[str, set[str]]:
    return {str(path.relative_to(REPO)): used for path in modules().values() if (used := readers_used(path))}


def test_no_adapter_parses_the_cores_notation() -> None:
    in_bots = {path: used for path, used in using().items() if path.startswith("bots/")}
    assert in_bots == {}, "adapters render the Messages the core hands them (StatusCard.body, stored_message)"


def test_stored_notation_is_read_in_one_place() -> None:
    assert set(using()) == HOMES
    assert readers_used(REPO / "core" / "messages.py") == {"Message.parse"}


def test_the_check_sees_a_reader_however_it_is_reached(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from core.markup import Message, parse_inline\nMessage.parse(t)\nmarkup._parse_inline(t)\n")
    assert readers_used(sample) == {"Message.parse", "parse_inline", "_parse_inline"}


def test_a_cards_stored_lines_reach_every_adapter_as_one_message() -> None:
    card = StatusCard(request_id="r1", job_id="j1", phase="awaiting_approval", title="Plan ready for shop-dev",
                      engine="offline", simulated=True, lines=["Plan: *3* to create", "say `plan` for <!here>"])
    assert card.body == Message((line("Plan: ", Strong("3"), " to create"), line("say ", Code("plan"), " for <!here>")))
    assert StatusCard(**{**card.__dict__, "lines": []}).body == Message()
    slack = str(render_card(card)[0])
    assert "Plan: *3* to create" in slack and "say `plan` for &lt;!here&gt;" in slack
    assert card_embed(card).description == "Plan: **3** to create\nsay `plan` for <!here>"
    assert "say <code>plan</code> for &lt;!here&gt;" in html(card_message(card))
