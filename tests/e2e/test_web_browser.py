"""Drives the chat page in real headless Chromium: type a request, see the plan arrive live."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Dialog, Locator, Page, async_playwright
from pydantic import SecretStr

from bots.runtime import Runtime
from bots.serve import create_app
from tests.support import serving

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture
async def server(runtime: Runtime, worker: object) -> AsyncIterator[str]:
    runtime.start_relay()
    async with serving(create_app(runtime)) as url:
        yield url


async def _request_a_plan(page: Page, text: str) -> Locator:
    """Types a request for the app `shop` and waits for its card to offer Approve; returns the card."""
    await page.fill("#text", text)
    async with page.expect_response(lambda r: r.url.endswith("/api/chat") and r.request.method == "POST") as sent:
        await page.press("#text", "Enter")
    # The page reads the answer as a stream: "on it" as soon as the words are stored, then the answer in its place.
    assert "application/x-ndjson" in (await sent.value).headers["content-type"]
    await page.wait_for_selector(".msg.bot >> text=planning", timeout=10_000)
    assert await page.locator(".msg.pending").count() == 0
    # The core's emphasis arrives as markup the server rendered, with no Slack asterisks left over.
    reply = page.locator(".msg.bot").first
    assert await reply.locator("b", has_text="shop").count() == 1
    assert "*" not in await reply.inner_text()
    card = page.locator(".msg.status")
    await card.locator("button.approve").wait_for(timeout=20_000)
    return card


async def test_typing_a_request_shows_the_plan_and_apply_finishes(server: str) -> None:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = await browser.new_page()
        await page.goto(f"{server}/#browser-thread")
        card = await _request_a_plan(page, "create a postgres database and a bucket for my app shop in staging")
        text = await card.inner_text()
        assert "Plan ready for shop-staging" in text
        assert "Cloud SQL instance" in text and "offline engine" in text
        await page.click("button.approve")
        await card.filter(has_text="is ready").wait_for(timeout=20_000)
        assert await card.count() == 1, "one status card per request, updated in place"
        # What a person types is shown as typed, never as markup.
        await page.fill("#text", "what does *this* <b>do</b>?")
        await page.press("#text", "Enter")
        mine = page.locator(".msg.user").last
        assert await mine.inner_text() == "what does *this* <b>do</b>?"
        assert await mine.locator("b").count() == 0
        await browser.close()


async def test_an_exposed_page_asks_for_the_token_once_and_streams_with_it(runtime: Runtime, server: str) -> None:
    # As if bound to 0.0.0.0 with WEB_CHAT_TOKEN set; the guard reads the settings on every request.
    token = "browser-token-0123456789abcdef"
    runtime.settings = runtime.settings.model_copy(update={"host": "0.0.0.0", "web_chat_token": SecretStr(token)})
    asked: list[str] = []

    async def answer(dialog: Dialog) -> None:
        asked.append(dialog.message)
        await dialog.accept("not-the-token-not-the-token" if len(asked) == 1 else token)

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = await browser.new_page()
        page.on("dialog", answer)
        await page.goto(f"{server}/#token-thread")
        # The card arrives over the token-bearing stream.
        card = await _request_a_plan(page, "create a bucket for my app shop in staging")
        await page.click("button.approve")
        await card.filter(has_text="is ready").wait_for(timeout=20_000)
        assert len(asked) == 2 and "access token" in asked[0], "asked until right, then never again"
        assert await page.evaluate("sessionStorage.getItem('infrabot-token')") == token
        await browser.close()
