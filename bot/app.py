"""The FastAPI app factory: health, metrics, the simulator and (when enabled) the platform routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.runtime import Runtime
from bot.web import admin, dash, ingest, simulator, wecom


def create_app(runtime: Runtime, *, start_workers: bool = True) -> FastAPI:
    """`start_workers=False` lets tests drive the inbox and outbox by hand."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if start_workers:
            runtime.start()
        try:
            yield
        finally:
            if start_workers:
                runtime.stop()

    app = FastAPI(title="留痕 liuhen", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.runtime = runtime

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        status = runtime.health()
        return JSONResponse(status, status_code=200 if status["database"] == "ok" else 503)

    @app.get("/metrics")
    def metrics() -> Response:
        runtime.refresh_gauges()
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(dash.router(runtime))
    app.include_router(admin.router(runtime))
    if runtime.settings.local.enabled:
        app.include_router(simulator.router(runtime))
    if runtime.settings.wecom.enabled:
        app.include_router(wecom.router(runtime))
    if runtime.settings.ingest.archive_token:  # answers 404 while the touches module is off (runtime.modules)
        app.include_router(ingest.router(runtime))
    return app
