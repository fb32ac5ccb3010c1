"""Swagger UI and ReDoc served by the service itself, so they work without internet access."""

from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
DOCS_ASSETS_PATH = "/docs-assets"
# Swagger UI starts from an inline script and ReDoc styles itself inline and runs a worker
# from a blob; nothing else is needed, and no page of the docs may reach another host.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"
)
SWAGGER_UI_PARAMETERS = {
    # The default sends the document to validator.swagger.io for a badge.
    "validatorUrl": None,
    "persistAuthorization": True,
}


def offline_docs_app(**fastapi_arguments: Any) -> FastAPI:
    """A FastAPI app whose /docs and /redoc load their assets from this service only."""
    app = FastAPIOffline(
        docs_url=DOCS_PATH,
        redoc_url=REDOC_PATH,
        static_url=DOCS_ASSETS_PATH,
        swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        **fastapi_arguments,
    )
    app.add_middleware(DocsContentSecurityMiddleware)
    return app


class DocsContentSecurityMiddleware:
    """Adds a same-origin-only Content-Security-Policy to the documentation pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in (DOCS_PATH, REDOC_PATH):
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["Content-Security-Policy"] = (
                    DOCS_CONTENT_SECURITY_POLICY
                )
            await send(message)

        await self.app(scope, receive, send_with_policy)
