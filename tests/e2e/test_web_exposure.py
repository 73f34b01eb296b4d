"""The web chat bound to a non-loopback address, tried as someone on the network would: no token, a wrong
token, a huge body. Slack's endpoint and the health check stay reachable throughout."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from bots.runtime import Runtime
from bots.serve import create_app
from bots.web.guard import is_loopback
from config.settings import Settings, SettingsError, load_settings
from tests.slack_mock import MockSlack
from tests.slack_mock.harness import SIGNING_SECRET, SlackClient
from tests.slack_mock.server import BOT_TOKEN
from tests.support import eventually, resolved, serving
from tests.web_chat import web_client

TOKEN = "s3cret-web-chat-token-0123456789abcdef"
REQUEST = {"thread": "net", "user": "ana", "text": "create a bucket for my app shop in staging"}


def expose(runtime: Runtime, **values: object) -> None:
    runtime.settings = runtime.settings.model_copy(update={"host": "0.0.0.0", **values})


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with web_client(runtime, relay=False) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_exposed_without_a_token_the_web_chat_does_not_exist(
    client: httpx.AsyncClient, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    expose(runtime)
    caplog.set_level(logging.WARNING, logger="infrabot.web")
    for method, path in (("GET", "/"), ("POST", "/api/chat"), ("POST", "/api/action"), ("GET", "/api/chat/net"),
                         ("GET", "/api/chat/net/events"), ("GET", "/docs"), ("GET", "/openapi.json")):
        response = await client.request(method, path, json=REQUEST if method == "POST" else None)
        assert response.status_code == 404, (method, path, response.status_code)
    # Even someone who guesses a token gets nothing: there is no token to match.
    assert (await client.post("/api/chat", json=REQUEST, headers=bearer(TOKEN))).status_code == 404
    assert await runtime.db.requests.count_documents({}) == 0
    for probe in ("/healthz", "/livez", "/readyz", "/metrics"):
        assert (await client.get(probe)).status_code == 200, probe
    assert "WEB_CHAT_TOKEN is not set" in caplog.text


async def test_exposed_with_a_token_only_the_right_bearer_gets_in(
    client: httpx.AsyncClient, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    expose(runtime, web_chat_token=SecretStr(TOKEN))
    caplog.set_level(logging.DEBUG)
    page = await client.get("/")
    assert page.status_code == 200 and "access token" in page.text, "the page asks for the token"
    assert TOKEN not in page.text

    for headers in ({}, bearer("wrong-token-wrong-token-wrong"), bearer(TOKEN[:-1]), bearer(TOKEN + "x"),
                    {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"}):
        refused = await client.post("/api/chat", json=REQUEST, headers=headers)
        assert refused.status_code == 401, headers
        assert refused.json() == {"error": "This web chat needs its access token."}
        assert refused.headers["www-authenticate"] == "Bearer"
    assert (await client.get("/api/chat/net", headers=bearer("nope-nope-nope-nope-nope"))).status_code == 401
    assert await runtime.db.requests.count_documents({}) == 0

    answered = await client.post("/api/chat", json=REQUEST, headers=bearer(TOKEN))
    assert answered.status_code == 200 and "planning" in answered.json()["reply"].lower()
    assert await runtime.db.requests.count_documents({}) == 1
    history = await client.get("/api/chat/net", headers=bearer(TOKEN))
    assert history.status_code == 200 and history.json()[0]["text"] == REQUEST["text"]

    assert (await client.get("/api/chat/net/events")).status_code == 401
    assert TOKEN not in caplog.text


async def test_live_updates_need_the_token_too(runtime: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    # A real server: the event stream never ends, which an in-process ASGI client would wait for.
    expose(runtime, web_chat_token=SecretStr(TOKEN))
    caplog.set_level(logging.DEBUG)
    async with serving(create_app(runtime), log_level="info") as base, \
            httpx.AsyncClient(base_url=base, timeout=10) as http:
        # The token goes in a header, never in the URL, which access logs record.
        async with http.stream("GET", "/api/chat/net/events") as stream:
            assert stream.status_code == 401
        async with http.stream("GET", "/api/chat/net/events", headers=bearer(TOKEN)) as stream:
            assert stream.status_code == 200
            assert (await anext(stream.aiter_text())).startswith(": connected")
    assert TOKEN not in caplog.text


async def test_the_token_is_required_on_loopback_too_once_it_is_set(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"web_chat_token": SecretStr(TOKEN)})
    assert (await client.post("/api/chat", json=REQUEST)).status_code == 401
    assert (await client.post("/api/chat", json=REQUEST, headers=bearer(TOKEN))).status_code == 200


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_body_over_64_kb_is_refused_before_it_is_parsed(
    client: httpx.AsyncClient, runtime: Runtime, chunked: bool
) -> None:
    big = json.dumps({**REQUEST, "text": "x" * 70_000}).encode()

    async def pieces() -> AsyncIterator[bytes]:
        for i in range(0, len(big), 8192):
            yield big[i:i + 8192]

    response = await client.post("/api/chat", content=pieces() if chunked else big,
                                 headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert "too large" in response.json()["error"] and "64 KB" in response.json()["error"]
    assert await runtime.db.requests.count_documents({}) == 0
    assert await runtime.db.history.count_documents({}) == 0
    # Just under the cap is read and answered as usual (here: a message too long for a request).
    near = json.dumps({**REQUEST, "text": "x" * 60_000})
    assert (await client.post("/api/chat", content=near, headers={"Content-Type": "application/json"})).status_code \
        == 200


async def test_slack_events_and_health_are_not_gated(
    runtime: Runtime, mock_slack: MockSlack, worker: object
) -> None:
    runtime.settings = runtime.settings.model_copy(update={
        "host": "0.0.0.0", "slack_bot_token": SecretStr(BOT_TOKEN), "slack_signing_secret": SecretStr(SIGNING_SECRET),
        "slack_api_url": mock_slack.url,
    })
    async with web_client(runtime) as http:
        assert (await http.get("/")).status_code == 404
        _, response = await SlackClient(http, mock_slack).mention("help")
        assert response.status_code == 200
        assert (await http.get("/healthz")).status_code == 200
        # The answer is delivered too, through the same open port.
        await eventually(lambda: resolved(mock_slack.calls_to("chat.stopStream")))


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("localhost", True), ("::1", True), ("[::1]", True), ("127.0.0.2", True),
    ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("example.com", False),
])
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_weak_web_chat_token_stops_start_up_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_CHAT_TOKEN", "hunter2")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith("infrabot: invalid setting WEB_CHAT_TOKEN: must be at least")
    assert "hunter2" not in str(caught.value)
    settings = Settings(_env_file=None, web_chat_token=TOKEN)  # type: ignore[call-arg]
    assert TOKEN not in repr(settings) and settings.web_chat_token is not None
