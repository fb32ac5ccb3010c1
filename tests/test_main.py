"""App-level behaviour: problem documents for routing errors, the Allow header."""

import httpx
import pytest


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/v1/workflows", "GET, HEAD, POST"),
        ("POST", "/healthz", "GET, HEAD"),
        ("PATCH", "/api/v1/workflows/{id}/nodes/batch", "POST"),
        ("PUT", "/api/v1/workflows/{id}", "DELETE, GET, HEAD, PATCH"),
    ],
)
async def test_405_lists_every_allowed_method(
    client: httpx.AsyncClient, method: str, path: str, allowed: str
) -> None:
    path = path.replace("{id}", "6f1c0c8e-0000-4000-8000-000000000001")
    response = await client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"


async def test_unknown_path_is_a_problem_document(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "NOT_FOUND"
