"""The revision statements against PostgreSQL's planner, and the OpenAPI links to revisions."""

import uuid

import httpx
import psycopg

from service.db import psycopg_conninfo
from service.revisions.repository import LIST_STATEMENTS


async def test_the_newest_first_list_reads_the_primary_key_backwards(database_url: str) -> None:
    statement = LIST_STATEMENTS[True]
    values = statement.params(
        {"workflow_id": uuid.uuid4(), "owner_id": uuid.uuid4(), "limit": 51, "after": 900}
    )
    async with await psycopg.AsyncConnection.connect(psycopg_conninfo(database_url)) as connection:
        await connection.execute("SET enable_seqscan = off")
        cursor = await connection.execute("EXPLAIN " + statement.text, values)
        plan = "\n".join(str(row[0]) for row in await cursor.fetchall())
    assert "Index Scan Backward using revisions_pkey" in plan, plan
    assert "Sort" not in plan, plan


async def test_openapi_links_a_created_revision_to_its_reads(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    created = document["paths"]["/api/v1/workflows/{workflow_id}/revisions"]["post"]
    links = created["responses"]["201"]["links"]
    assert links["get_revision"]["parameters"] == {
        "workflow_id": "$request.path.workflow_id",
        "number": "$response.body#/number",
    }
    assert links["restore_revision"]["parameters"]["header.If-Match"] == "$response.header.ETag"
    checkpoint = created["parameters"]
    assert [p.get("required", False) for p in checkpoint if p["name"] == "If-Match"] == [False]
