"""A redis-py connection pool whose commands go out without waiting a turn of the event loop.

redis-py 5 (arq 0.28 holds it below 6) costs every command two turns of the loop before it is sent: the
pool checks a pooled connection for unread data by reading it with a zero timeout, under the pool's one lock,
and the write then runs in `asyncio.wait_for`, which on Python 3.11 is a task of its own. In a process whose
loop is busy each turn takes milliseconds, and the lock lets one command start per turn: fifty turns' claims
and context reads queue behind each other. Here the check looks at what the connection has already received,
without waiting, and the write is bounded by `asyncio.timeout` in the calling task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from redis import exceptions as redis_errors
from redis._parsers.hiredis import NOT_ENOUGH_DATA
from redis.asyncio.connection import (
    AbstractConnection,
    Connection,
    ConnectionPool,
    SSLConnection,
    UnixDomainSocketConnection,
    parse_url,
)


class PromptSend(AbstractConnection):
    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        if not self.is_connected:
            await self.connect()
        elif check_health:
            await self.check_health()
        try:
            if isinstance(command, str):
                command = command.encode()
            if isinstance(command, bytes):
                command = [command]
            writer = self._writer
            assert writer is not None
            writer.writelines(command)
            if self.socket_timeout:
                async with asyncio.timeout(self.socket_timeout):
                    await writer.drain()
            else:
                await writer.drain()
        except TimeoutError:
            await self.disconnect(nowait=True)
            raise redis_errors.TimeoutError("Timeout writing to socket") from None
        except OSError as exc:
            await self.disconnect(nowait=True)
            raise redis_errors.ConnectionError(f"Error while writing to socket: {exc}") from exc
        except BaseException:
            # A write cut off half way leaves the server reading a partial command: the connection is spent.
            await self.disconnect(nowait=True)
            raise

    def has_unread(self) -> bool:
        """Whether anything arrived that no command read: a reply left behind, or the server's hang-up."""
        stream = self._reader
        if stream is None:
            return False
        if stream.at_eof() or getattr(stream, "_buffer", None):
            return True
        hiredis = getattr(self._parser, "_reader", None)
        if hiredis is None:
            return bool(getattr(self._parser, "_buffer", b""))
        try:
            return hiredis.gets() is not NOT_ENOUGH_DATA
        except Exception:  # a garbled reply is unread data too
            return True


class PromptConnection(PromptSend, Connection):
    pass


class PromptSSLConnection(PromptSend, SSLConnection):
    pass


class PromptUnixConnection(PromptSend, UnixDomainSocketConnection):
    pass


_PROMPT: dict[type[AbstractConnection], type[PromptSend]] = {
    Connection: PromptConnection,
    SSLConnection: PromptSSLConnection,
    UnixDomainSocketConnection: PromptUnixConnection,
}


class PromptPool(ConnectionPool):
    async def ensure_connection(self, connection: AbstractConnection) -> None:
        await connection.connect()
        if isinstance(connection, PromptSend) and not connection.has_unread():
            return
        # A connection given back mid-reply, or closed by the server: start it afresh, as redis-py would.
        await connection.disconnect()
        await connection.connect()


def prompt_pool(url: str, **options: Any) -> ConnectionPool:
    """The pool `ConnectionPool.from_url(url, **options)` would give, with prompt connections (TCP, TLS or a
    Unix socket, as the URL says)."""
    settings = {**options, **parse_url(url)}
    plain = settings.get("connection_class", Connection)
    if issubclass(plain, UnixDomainSocketConnection):
        # TCP keepalive means nothing on a Unix socket, whose connection class refuses the option.
        settings.pop("socket_keepalive", None)
        settings.pop("socket_keepalive_options", None)
    settings["connection_class"] = _PROMPT.get(plain, plain)
    return PromptPool(**settings)
