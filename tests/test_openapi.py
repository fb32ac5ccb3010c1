"""The committed openapi.json is exactly what the service serves (`make openapi` rewrites it)."""

import json

import httpx

from service.main import create_app
from service.openapi import openapi_document_text
from tests.live_server import PROJECT_ROOT

COMMITTED = PROJECT_ROOT / "openapi.json"


def test_committed_openapi_matches_the_code() -> None:
    generated = openapi_document_text(create_app())
    assert COMMITTED.read_text() == generated, "openapi.json is stale: run `make openapi`"


async def test_served_openapi_matches_the_committed_file(app_client: httpx.AsyncClient) -> None:
    served = await app_client.get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == json.loads(COMMITTED.read_text())


async def test_every_operation_documents_errors_as_problem_json(
    app_client: httpx.AsyncClient,
) -> None:
    document = (await app_client.get("/openapi.json")).json()
    for path, path_item in document["paths"].items():
        for method, operation in path_item.items():
            assert operation["operationId"].isidentifier(), (path, method)
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], (
                        path,
                        method,
                        status,
                    )


async def test_bearer_scheme_is_declared(app_client: httpx.AsyncClient) -> None:
    document = (await app_client.get("/openapi.json")).json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
