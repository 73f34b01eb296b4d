"""How Slack places map onto ThreadRef: team id is the workspace, a thread is its parent message's ts."""

from __future__ import annotations

from core.messages import ThreadRef

PLATFORM = "slack"
# A direct message conversation without a Slack thread lives at the top of the DM.
DM_THREAD = "dm"


def thread_ref(team: str, channel: str, thread: str) -> ThreadRef:
    return ThreadRef(platform=PLATFORM, workspace=team, channel=channel, thread=thread)


def thread_ts(thread: ThreadRef) -> str | None:
    """The `thread_ts` to post with, or None to post at the top of a DM."""
    return None if thread.thread == DM_THREAD else thread.thread
