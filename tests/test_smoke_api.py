"""Smoke test of the app factory and the workflow happy path."""

import httpx


async def test_create_and_read_workflow(client: httpx.AsyncClient) -> None:
    created = await client.post("/api/v1/workflows", json={"name": "first"})
    assert created.status_code == 201, created.text
    assert created.headers["etag"] == '"1"'
    read = await client.get(created.headers["location"])
    assert read.status_code == 200
    assert read.json()["name"] == "first"
