"""`Prefer: return=minimal` (RFC 7240) on every write operation, over HTTP."""

import httpx
import pytest

from service.middleware import prefers_minimal
from tests.write_requests import WRITE_REQUESTS, write_operations


async def test_every_write_operation_has_a_request_here(app_client: httpx.AsyncClient) -> None:
    openapi = (await app_client.get("/openapi.json")).json()

    assert set(write_operations(openapi)) == set(WRITE_REQUESTS)


@pytest.mark.parametrize("operation_id", sorted(WRITE_REQUESTS))
async def test_return_minimal_answers_204_with_the_headers(
    client: httpx.AsyncClient, operation_id: str
) -> None:
    request = await WRITE_REQUESTS[operation_id](client)

    response = await request.send(client, Prefer="return=minimal")

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert response.headers["preference-applied"] == "return=minimal"
    assert "content-type" not in response.headers
    assert ("location" in response.headers) == request.creates
    expected = '"1"' if request.version is None else f'"{request.version + request.raises_version}"'
    assert response.headers["etag"] == expected


@pytest.mark.parametrize("operation_id", ["update_workflow", "create_node", "replace_graph"])
async def test_return_representation_is_the_default(
    client: httpx.AsyncClient, operation_id: str
) -> None:
    plain = await (await WRITE_REQUESTS[operation_id](client)).send(client)
    asked = await (await WRITE_REQUESTS[operation_id](client)).send(
        client, Prefer="return=representation"
    )

    for response in (plain, asked):
        assert response.status_code in (200, 201), response.text
        assert response.json()
        assert "preference-applied" not in response.headers


async def test_a_refused_write_keeps_its_problem_body(client: httpx.AsyncClient) -> None:
    request = await WRITE_REQUESTS["update_workflow"](client)

    response = await client.patch(
        request.url, json=request.body, headers={"If-Match": '"0"', "Prefer": "return=minimal"}
    )

    assert (response.status_code, response.json()["code"]) == (412, "VERSION_MISMATCH")
    assert "preference-applied" not in response.headers


async def test_the_openapi_document_names_prefer_and_its_204(
    app_client: httpx.AsyncClient,
) -> None:
    openapi = (await app_client.get("/openapi.json")).json()

    for operation_id, operation in write_operations(openapi).items():
        assert "Prefer" in [p["name"] for p in operation["parameters"]], operation_id
        minimal = operation["responses"]["204"]
        assert "Preference-Applied" in minimal["headers"], operation_id
        created = operation["responses"].get("201", {}).get("headers", {})
        assert ("Location" in minimal["headers"]) == ("Location" in created), operation_id


@pytest.mark.parametrize(
    ("lines", "minimal"),
    [
        ([b"return=minimal"], True),
        ([b'RETURN="minimal"; foo=bar'], True),
        ([b"respond-async, wait=10", b"return=minimal"], True),
        ([b"return=representation, return=minimal"], False),
        ([b"return=representation"], False),
        ([b"handling=strict"], False),
        ([], False),
    ],
)
def test_the_return_preference_is_read_from_every_line(lines: list[bytes], minimal: bool) -> None:
    scope = {"headers": [(b"prefer", line) for line in lines]}

    assert prefers_minimal(scope) is minimal
