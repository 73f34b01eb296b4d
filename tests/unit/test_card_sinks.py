"""One card loop for every platform: Slack and Discord supply only how to post, edit and read their errors;
grouping, coalescing, never-backwards, reposting and giving up live once, in core/cardsink.py."""

from __future__ import annotations

from bots.discord_bot.sink import DiscordStatusSink
from bots.slack.sink import SlackStatusSink
from core.cardsink import CardSink

# What a platform may supply (and what Python adds to every subclass); the rest of the loop is the base's alone.
PLATFORM_HOOKS = {"__init__", "_abc_impl", "post", "edit", "classify", "describe", "error_text", "find_posted",
                  "platform", "min_interval"}


def test_each_platform_sink_is_the_shared_loop_plus_its_own_calls() -> None:
    loop = {name for name in vars(CardSink) if not name.startswith("__")} - PLATFORM_HOOKS
    assert {"show", "flush", "_write", "_post_or_edit", "_flush_later", "_sweep"} <= loop
    for sink in (SlackStatusSink, DiscordStatusSink):
        assert issubclass(sink, CardSink)
        own = {name for name in vars(sink) if not name.startswith("__") or name == "__init__"}
        assert not own & loop, f"{sink.__name__} re-implements {sorted(own & loop)} of the shared loop"
        assert own <= PLATFORM_HOOKS | {"__init__"}, f"{sink.__name__} adds {sorted(own - PLATFORM_HOOKS)}"
