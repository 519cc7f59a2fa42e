"""``/metrics`` (Prometheus text), ``/healthz`` and ``/readyz`` on one port.

``/healthz`` answers while the event loop runs. ``/readyz`` answers 200
once the process is ready to do its job: the leader when its caches are
synced, a follower when it is campaigning (a standby is healthy and ready).
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from k8ssnap.runtime.metrics import Registry


class HealthServer:
    """The small HTTP server of the controller process."""

    def __init__(self, *, registry: Registry, ready: Callable[[], bool], address: str) -> None:
        host, _, port = address.rpartition(":")
        self._host = host or "0.0.0.0"  # noqa: S104 - the metrics port is meant to be scraped
        self._port = int(port)
        self._registry = registry
        self._ready = ready
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _metrics(self, _: web.Request) -> web.Response:
        return web.Response(text=self._registry.render(), content_type="text/plain", charset="utf-8")

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _readyz(self, _: web.Request) -> web.Response:
        if self._ready():
            return web.Response(text="ok")
        return web.Response(status=503, text="not ready")
