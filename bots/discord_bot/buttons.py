"""Approve/Cancel buttons that keep working after a restart.

Each button's custom id carries the action and request id. The DynamicItem is registered at
start-up, so a click on a message posted by an earlier process is still routed here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord

from core.messages import Button

if TYPE_CHECKING:
    from bots.discord_bot.app import InfraBot

CUSTOM_ID_PREFIX = "infrabot"
CUSTOM_ID_LIMIT = 100
_STYLES = {
    "primary": discord.ButtonStyle.primary,
    "success": discord.ButtonStyle.success,
    "danger": discord.ButtonStyle.danger,
}


def custom_id(action: str, request_id: str) -> str:
    value = f"{CUSTOM_ID_PREFIX}:{action}:{request_id}"
    if len(value) > CUSTOM_ID_LIMIT:
        raise ValueError(f"custom id for {request_id!r} is over Discord's {CUSTOM_ID_LIMIT} characters")
    return value


class ActionButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"{CUSTOM_ID_PREFIX}:(?P<action>[a-z_]+):(?P<request_id>.+)",
):
    def __init__(self, action: str, request_id: str, label: str = "", style: str = "default") -> None:
        super().__init__(
            discord.ui.Button(
                label=label or action.title(),
                style=_STYLES.get(style, discord.ButtonStyle.secondary),
                custom_id=custom_id(action, request_id),
            )
        )
        self.action = action
        self.request_id = request_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: Any, /
    ) -> ActionButton:
        label = getattr(item, "label", None) or ""
        return cls(match["action"], match["request_id"], label)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot: InfraBot = interaction.client
        await bot.on_button(interaction, self.action, self.request_id)


def buttons_view(buttons: list[Button]) -> discord.ui.View | None:
    """A persistent view (no timeout, custom ids on every item), or None to clear the buttons."""
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for button in buttons[:25]:
        view.add_item(ActionButton(button.action, button.request_id, button.label, button.style))
    return view
