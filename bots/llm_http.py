"""The HTTP side of the optional language-model fallback: an OpenAI-compatible chat-completions call."""

from __future__ import annotations

import httpx

from core.understanding.fallback import TIMEOUT_SECONDS


class OpenAICompatible:
    """POSTs to `{LLM_URL}/chat/completions` (or to LLM_URL itself when it already ends so)."""

    def __init__(self, url: str, model: str, api_key: str | None = None,
                 timeout: float = TIMEOUT_SECONDS) -> None:
        self.url = url if url.rstrip("/").endswith("/chat/completions") else url.rstrip("/") + "/chat/completions"
        self.model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.AsyncClient(timeout=timeout, headers=headers)

    async def complete(self, messages: list[dict[str, str]]) -> str:
        response = await self.client.post(self.url, json={
            "model": self.model, "messages": messages, "temperature": 0,
            "response_format": {"type": "json_object"},
        })
        response.raise_for_status()
        return str(response.json()["choices"][0]["message"]["content"])

    async def aclose(self) -> None:
        await self.client.aclose()
