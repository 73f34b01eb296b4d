"""A small HTTP server for processes without a web front (worker, Slack Socket Mode, Discord):
/metrics, /livez and /readyz on METRICS_PORT."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from telemetry import metrics, probes

log = logging.getLogger("infrabot.probes")

Checks = Callable[[], Awaitable[dict[str, bool]]]
Refresh = Callable[[], Awaitable[None]]


@dataclass
class ProbeServer:
    runner: web.AppRunner
    port: int

    async def stop(self) -> None:
        await self.runner.cleanup()


def probe_app(checks: Checks, refresh: Refresh | None = None) -> web.Application:
    async def livez(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        status, body = probes.verdict(await checks())
        return web.json_response(body, status=status)

    async def scrape(request: web.Request) -> web.Response:
        if refresh is not None:
            try:
                await refresh()
            except Exception:
                # The counters are still worth serving when a store is down; the gauges keep their last value.
                log.warning("metrics: could not refresh gauges", exc_info=True)
        body, content_type = metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})

    app = web.Application()
    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", scrape)
    return app


async def start_probe_server(port: int, checks: Checks, refresh: Refresh | None = None,
                             host: str = "0.0.0.0") -> ProbeServer:
    """Port 0 picks a free port (tests); the bound port is on the result."""
    runner = web.AppRunner(probe_app(checks, refresh), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    sockets = site._server.sockets if site._server is not None else []  # type: ignore[union-attr]
    bound = sockets[0].getsockname()[1] if sockets else port
    log.info("metrics and probes on :%d (/metrics, /livez, /readyz)", bound)
    return ProbeServer(runner, bound)
