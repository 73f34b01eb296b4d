"""Which connection the prompt pool makes for each kind of Redis URL (nothing is connected here)."""

from __future__ import annotations

import pytest

from jobs.stores.connections import redis_client
from jobs.stores.redis_pool import PromptConnection, PromptSSLConnection, PromptUnixConnection


@pytest.mark.parametrize(("url", "kind"), [
    ("redis://127.0.0.1:6379/0", PromptConnection),
    ("rediss://cache.example:6380/0", PromptSSLConnection),
    ("unix:///run/redis/redis.sock?db=2", PromptUnixConnection),
])
async def test_each_url_gets_the_prompt_form_of_the_connection_redis_py_would_make(url: str, kind: type) -> None:
    client = redis_client(url)
    try:
        pool = client.connection_pool
        assert pool.connection_class is kind
        connection = pool.make_connection()  # a Unix socket's connection refuses TCP-only options
        assert isinstance(connection, kind)
    finally:
        await client.aclose()


async def test_the_url_wins_over_the_defaults_as_with_redis_py() -> None:
    client = redis_client("redis://:secret@10.0.0.5:6390/3")
    try:
        kwargs = client.connection_pool.connection_kwargs
        assert (kwargs["host"], kwargs["port"], kwargs["db"], kwargs["password"]) == ("10.0.0.5", 6390, 3, "secret")
        assert kwargs["socket_timeout"] == 15.0
    finally:
        await client.aclose()
