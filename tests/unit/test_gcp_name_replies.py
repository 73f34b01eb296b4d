"""App names GCP or the databases refuse get a friendly reply in chat with a name that works, on fakes."""

from __future__ import annotations

import pytest

from core.requests import Request
from tests.fakes import FakeRequests
from tests.unit.test_conversation_on_fakes import conversation, said


@pytest.mark.parametrize(("text", "reason", "suggestion"), [
    ("create a bucket for my app google-shop in dev", 'contains "google"', "shop"),
    ("create a bucket called googshop in dev", 'starts with "goog"', "shop"),
    ("create a bucket for app postgres in dev", "built-in database user", "postgres-app"),
    ("create a bucket for app `mysql` in dev", "built-in database user", "mysql-app"),
    ("create a bucket for app root in dev", "built-in database user", "root-app"),
    ("create a bucket called sys in dev", "built-in database user", "sys-app"),
    # A database word where the name goes is the name, not a database the plan would silently add.
    ("create a bucket for my app postgres in dev", "built-in database user", "postgres-app"),
    ('create a bucket for my app called "mysql" in dev', "built-in database user", "mysql-app"),
])
async def test_a_refused_name_is_explained_and_the_suggestion_is_one_yes_away(
    text: str, reason: str, suggestion: str
) -> None:
    requests = FakeRequests()
    chat = conversation(requests=requests)
    [reply] = await chat.handle_message(said(text, event="e1"))
    assert "can't be used as an app name" in reply.text and reason in reply.text
    assert f"How about `{suggestion}`?" in reply.text
    assert requests.docs == {}, "nothing is requested under a name GCP would refuse"

    [started] = await chat.handle_message(said("yes", event="e2"))
    assert f"planning bucket for *{suggestion}*" in started.text
    [doc] = requests.docs.values()
    spec = Request.from_doc(doc).spec
    assert spec.app == suggestion and [c.kind for c in spec.components] == ["bucket"]
