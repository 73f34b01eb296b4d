"""Stands in for https://slack.com/api/ the way slack-bolt's own tests do: records calls, answers like Slack.

It keeps the messages it was asked to post so tests can read a status card's final state, and can be told to
fail a method a number of times (429 with Retry-After, or 500) to exercise retries. Like Slack, it knows
which workspace each bot token belongs to: every call records the token it carried, and `auth.test`
answers with that token's workspace and bot user.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-test-token"
BOT_USER = "UBOT"
BOT_ID = "BBOT"
TEAM = "T0001"
SIGNING_SECRET = "test-signing-secret"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int
    at: float = field(default_factory=time.monotonic)
    token: str | None = None  # the bearer token the call carried


@dataclass(frozen=True)
class Workspace:
    team: str
    bot_user: str
    bot_id: str


@dataclass
class UserGroup:
    id: str
    handle: str
    users: list[str]
    disabled: bool = False


@dataclass
class Failure:
    status: int
    times: int
    retry_after: int | None = None


class MockSlack:
    def __init__(self, streaming: bool = True) -> None:
        self.streaming = streaming
        self.calls: list[Call] = []
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.ephemeral: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []
        self.socket_url: str | None = None
        self.not_in_channels: set[str] = set()
        # Seconds a method takes to answer, to show that nothing slow sits in the 3-second ack path.
        self.delays: dict[str, float] = {}
        self._failures: dict[str, list[Failure]] = {}
        self.workspaces: dict[str, Workspace] = {BOT_TOKEN: Workspace(TEAM, BOT_USER, BOT_ID)}
        self.usergroups: dict[str, list[UserGroup]] = {}  # per team
        # Scopes an installation lacks: Slack answers `missing_scope` for the methods that need them.
        self.missing_scopes: set[str] = set()
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        # A handler stuck on a client that vanished must not hold up the test's teardown.
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/api/"

    def start(self) -> MockSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_workspace(self, token: str, team: str, bot_user: str, bot_id: str) -> Workspace:
        """Installs the app in another workspace: `token` is then its bot token there."""
        workspace = self.workspaces[token] = Workspace(team, bot_user, bot_id)
        return workspace

    def add_usergroup(self, team: str, group_id: str, handle: str, users: list[str],
                      disabled: bool = False) -> UserGroup:
        with self._lock:
            group = UserGroup(group_id, handle, list(users), disabled)
            self.usergroups.setdefault(team, []).append(group)
            return group

    def fail(self, method: str, status: int, times: int = 1, retry_after: int | None = None) -> None:
        with self._lock:
            self._failures.setdefault(method, []).append(Failure(status, times, retry_after))

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.messages.clear()
            self.ephemeral.clear()
            self.responses.clear()
            self._failures.clear()

    def calls_to(self, method: str, ok_only: bool = True) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method and (c.status == 200 or not ok_only)]

    def thread_messages(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        with self._lock:
            return [
                m for m in self.messages.values()
                if m["channel"] == channel and (m.get("thread_ts") == thread_ts or m["ts"] == thread_ts)
            ]

    def _next_ts(self) -> str:
        n = next(self._ts)
        return f"{1700000000 + n}.{n:06d}"

    def _take_failure(self, method: str) -> Failure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        return failure

    def call(
        self, method: str, params: dict[str, Any], authorization: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """One Web API call as it arrives over HTTP, its token in the `Authorization` header."""
        token = authorization.removeprefix("Bearer ") if authorization.startswith("Bearer ") else None
        return self.answer(method, decoded(params), token)

    def answer(
        self, method: str, params: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            failure = self._take_failure(method)
            if failure is not None:
                headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
                error = "ratelimited" if failure.status == 429 else "internal_error"
                self.calls.append(Call(method, params, failure.status, token=token))
                return failure.status, {"ok": False, "error": error}, headers
            self.calls.append(Call(method, params, 200, token=token))
            if method == "apps.connections.open":
                authorized = token == APP_TOKEN
            else:
                authorized = token in self.workspaces
            if not authorized:
                return 200, {"ok": False, "error": "not_authed" if token is None else "invalid_auth"}, {}
            return 200, self._respond(method, params, token), {}

    def _respond(self, method: str, p: dict[str, Any], token: str | None) -> dict[str, Any]:
        if method == "auth.test":
            ws = self.workspaces[token or ""]
            return {"ok": True, "url": f"https://{ws.team.lower()}.slack.com/", "team": ws.team,
                    "user": "infrabot", "team_id": ws.team, "user_id": ws.bot_user, "bot_id": ws.bot_id,
                    "is_enterprise_install": False}
        if method == "apps.connections.open" and self.socket_url:
            return {"ok": True, "url": self.socket_url}
        if method.startswith("usergroups."):
            return self._usergroups(method, p, self.workspaces[token or ""].team)
        if method == "chat.postMessage":
            if p["channel"] in self.not_in_channels:
                return {"ok": False, "error": "not_in_channel"}
            ts = self._next_ts()
            message = {
                "channel": p["channel"], "ts": ts, "text": p.get("text", ""), "blocks": p.get("blocks"),
                "thread_ts": p.get("thread_ts"), "updates": 0,
            }
            self.messages[(p["channel"], ts)] = message
            return {"ok": True, "channel": p["channel"], "ts": ts, "message": dict(message)}
        if method == "chat.update":
            if p["channel"] in self.not_in_channels:
                return {"ok": False, "error": "not_in_channel"}
            message = self.messages.get((p["channel"], p["ts"]))
            if message is None:
                return {"ok": False, "error": "message_not_found"}
            message.update(text=p.get("text", ""), blocks=p.get("blocks"), updates=message["updates"] + 1)
            return {"ok": True, "channel": p["channel"], "ts": p["ts"], "text": message["text"]}
        if method == "chat.delete":
            if self.messages.pop((p["channel"], p.get("ts", "")), None) is None:
                return {"ok": False, "error": "message_not_found"}
            return {"ok": True, "channel": p["channel"], "ts": p["ts"]}
        if method == "chat.postEphemeral":
            self.ephemeral.append(dict(p))
            return {"ok": True, "message_ts": self._next_ts()}
        if method.endswith("Stream"):
            return self._stream(method, p)
        return {"ok": False, "error": "unknown_method"}

    def _usergroups(self, method: str, p: dict[str, Any], team: str) -> dict[str, Any]:
        """usergroups.list / usergroups.users.list as Slack answers them (needs the usergroups:read scope)."""
        if "usergroups:read" in self.missing_scopes:
            return {"ok": False, "error": "missing_scope", "needed": "usergroups:read", "provided": "chat:write"}
        groups = self.usergroups.get(team, [])
        include_disabled = _flag(p.get("include_disabled"))
        if method == "usergroups.list":
            shown = []
            for g in groups:
                if g.disabled and not include_disabled:
                    continue
                item: dict[str, Any] = {
                    "id": g.id, "team_id": team, "is_usergroup": True, "name": g.handle.title(),
                    "handle": g.handle, "description": "", "is_external": False, "date_create": 1446598059,
                    "date_update": 1446670362, "date_delete": 1446670400 if g.disabled else 0,
                    "auto_type": None, "created_by": "U0000", "updated_by": "U0000", "deleted_by": None,
                    "prefs": {"channels": [], "groups": []}, "user_count": len(g.users),
                }
                if _flag(p.get("include_users")):
                    item["users"] = list(g.users)
                shown.append(item)
            return {"ok": True, "usergroups": shown}
        if method == "usergroups.users.list":
            group = next((g for g in groups if g.id == p.get("usergroup")), None)
            if group is None:
                return {"ok": False, "error": "no_such_subteam"}
            if group.disabled and not include_disabled:
                return {"ok": False, "error": "subteam_disabled"}
            return {"ok": True, "users": list(group.users)}
        return {"ok": False, "error": "unknown_method"}

    def _stream(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        if not self.streaming:
            return {"ok": False, "error": "unknown_method"}
        chunks = p.get("chunks") or []
        if isinstance(chunks, str):
            chunks = json.loads(chunks)
        text = "".join(c.get("text", "") for c in chunks if isinstance(c, dict)) + p.get("markdown_text", "")
        if method == "chat.startStream":
            ts = self._next_ts()
            self.messages[(p["channel"], ts)] = {
                "channel": p["channel"], "ts": ts, "text": text, "blocks": None,
                "thread_ts": p.get("thread_ts"), "updates": 0, "streaming": True,
            }
            return {"ok": True, "channel": p["channel"], "ts": ts}
        message = self.messages.get((p["channel"], p.get("ts", "")))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if not message.get("streaming"):
            return {"ok": False, "error": "message_not_in_streaming_state"}
        message["text"] += text
        if method == "chat.stopStream":
            message["streaming"] = False
            blocks = p.get("blocks")
            message["blocks"] = json.loads(blocks) if isinstance(blocks, str) else blocks
        return {"ok": True, "channel": p["channel"], "ts": message["ts"]}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        mock = self

        class Handler(BaseHTTPRequestHandler):
            # A client cut off mid-request (its event loop stopped at teardown) must not pin a thread forever.
            timeout = 10
            # The headers and the body go out as two writes; with Nagle's algorithm the body would wait for the
            # client's delayed ACK of the headers (40 ms on Linux) on a kept-alive connection. Slack does not.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                return

            def do_GET(self) -> None:
                # Some read methods (usergroups.*) go out as GET with their arguments in the query.
                path, _, query = self.path.partition("?")
                self._call(path, dict(parse_qsl(query)))

            def _call(self, path: str, params: dict[str, Any]) -> None:
                method = path.rsplit("/", 1)[-1]
                time.sleep(mock.delays.get(method, 0))
                status, body, headers = mock.call(method, params, self.headers.get("Authorization", ""))
                self._send(status, json.dumps(body).encode(), "application/json; charset=utf-8", headers)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                if "json" in (self.headers.get("Content-Type") or ""):
                    params = json.loads(raw or "{}")
                else:
                    params = dict(parse_qsl(raw))
                if "/response/" in self.path:  # a response_url: Slack answers these with a bare "ok"
                    with mock._lock:
                        mock.responses.append(decoded(params))
                    self._send(200, b"ok", "text/plain", {})
                    return
                path, _, query = self.path.partition("?")
                params.update(dict(parse_qsl(query)))
                self._call(path, params)

            def _send(self, status: int, data: bytes, content_type: str, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler


def decoded(params: dict[str, Any]) -> dict[str, Any]:
    """`blocks` and `chunks` may come JSON-encoded (in a form, as slack_sdk sends them there)."""
    for key in ("blocks", "chunks"):
        if isinstance(params.get(key), str):
            params[key] = json.loads(params[key])
    return params


def _flag(value: Any) -> bool:
    return str(value).lower() in ("1", "true")
