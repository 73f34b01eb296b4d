"""Who may reach the web chat, and how much they may send it.

The web chat has no accounts: anyone who reaches `/api/*` can ask for infrastructure under any name. So
it answers only where that is safe. On a loopback HOST it is the local developer's own chat; bound to
any other address it does not exist (404) unless WEB_CHAT_TOKEN is set, and then every `/api/*` call
must carry `Authorization: Bearer <token>`. Slack's endpoint (signed by Slack), the probes and /metrics are
never gated. Bodies are read in full, up to a cap, before anything parses them.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

log = logging.getLogger("infrabot.web")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY_BYTES = 64 * 1024
# Signed by Slack, or for probes and Prometheus (aggregate counts, nothing anyone typed): not the web chat.
UNGATED = ("/slack/events", "/healthz", "/livez", "/readyz", "/metrics")
PAGE = "/"


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


class WebGuard:
    """ASGI middleware; `settings_of()` is read per request because the runtime only exists after start-up."""

    def __init__(self, app: ASGIApp, settings_of: Callable[[], Any], max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.settings_of = settings_of
        self.max_body = max_body
        self._warned = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNGATED:
            await self.app(scope, receive, send)
            return
        settings = self.settings_of()
        token = settings.web_chat_token.get_secret_value() if settings.web_chat_token else None
        if token is None and not is_loopback(settings.host):
            if not self._warned:
                self._warned = True
                log.warning("web chat: HOST=%s is not a loopback address and WEB_CHAT_TOKEN is not set, so the "
                            "web chat answers 404 (Slack's endpoint and /healthz still work)", settings.host)
            await _json(send, 404, {"error": "Not found"})
            return
        if token is not None and scope["path"] != PAGE and not _bearer_matches(scope, token):
            # The page itself holds nothing secret; it asks for the token and sends it on every call.
            log.info("web chat: refused %s %s without a valid token", scope["method"], scope["path"])
            await _json(send, 401, {"error": "This web chat needs its access token."},
                        [(b"www-authenticate", b"Bearer")])
            return
        body = await self._read_body(scope, receive)
        if body is None:
            log.info("web chat: refused %s %s: body over %d bytes", scope["method"], scope["path"], self.max_body)
            await _json(send, 413, {"error": f"That request is too large: the web chat takes up to "
                                             f"{self.max_body // 1024} KB. Please send something shorter."})
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it is over the cap (a declared length is trusted to refuse early)."""
        for name, value in scope.get("headers") or ():
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body:
                return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _bearer_matches(scope: Scope, token: str) -> bool:
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            scheme, _, given = value.decode("latin-1").partition(" ")
            # compare_digest: the time taken says nothing about how much of a guess was right.
            return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
    return False


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: disconnects, as the server reports them

    return replay


async def _json(send: Send, status: int, content: dict[str, Any],
                headers: list[tuple[bytes, bytes]] | None = None) -> None:
    data = json.dumps(content).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": data})
