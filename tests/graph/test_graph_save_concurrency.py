"""A save racing another workflow's save for the same new ids answers a located 422."""

import asyncio
import uuid

import httpx
import psycopg
import pytest

from service.db import psycopg_conninfo
from tests.factories import create_workflow, if_match, workflow_url


@pytest.mark.parametrize("with_edge", [False, True], ids=["nodes only", "with an edge"])
async def test_an_id_taken_meanwhile_by_another_workflow_is_a_located_422(
    client: httpx.AsyncClient, database_url: str, with_edge: bool
) -> None:
    """The other save commits after this one's checks: the write notices and checks again."""
    first, other = await create_workflow(client), await create_workflow(client)
    taken, kept = str(uuid.uuid4()), str(uuid.uuid4())
    nodes = [
        {"id": taken, "name": "A", "node_type": "adapter"},
        {"id": kept, "name": "B", "node_type": "adapter"},
    ]
    edges = [{"source_node_id": taken, "target_node_id": kept}] if with_edge else []
    conninfo = psycopg_conninfo(database_url)
    async with await psycopg.AsyncConnection.connect(conninfo) as rival:
        async with rival.transaction():
            await rival.execute(
                "INSERT INTO nodes (id, workflow_id, name, node_type, position_x, position_y) "
                "VALUES (%s, %s, 'x', 'adapter', 0, 0)",
                (taken, other["id"]),
            )
            save = asyncio.create_task(
                client.put(
                    workflow_url(first, "graph"),
                    json={"nodes": nodes, "edges": edges},
                    headers=if_match(first),
                )
            )
            await asyncio.sleep(0.5)  # the save has checked and now waits on the rival's row
        response = await save

    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert [item["pointer"] for item in body["errors"]] == ["/nodes/0/id"]
    graph = (await client.get(workflow_url(first, "graph"))).json()
    assert graph["nodes"] == []
    assert graph["version"] == first["version"]
