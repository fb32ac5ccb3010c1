"""The OpenAPI document: problem+json error bodies, stable and cached."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from service.errors import PROBLEM_JSON


def errors_as_problem_json(schema: dict[str, Any]) -> None:
    """Declare every 4xx/5xx body as application/problem+json (FastAPI assumes JSON)."""
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if not status.startswith(("4", "5")) or "application/json" not in content:
                    continue
                content[PROBLEM_JSON] = content.pop("application/json")


def install_openapi(app: FastAPI) -> None:
    """Replace app.openapi with a builder that post-processes and caches the document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            errors_as_problem_json(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
