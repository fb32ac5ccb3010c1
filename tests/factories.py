"""Test data through the API: each helper asserts success and returns the created JSON.

A workflow dict returned by `create_workflow` doubles as the ETag tracker: helpers that change
its graph send `If-Match` from `workflow["version"]` and store the new version from the ETag.
"""

import uuid
from typing import Any

import httpx
import psycopg
from psycopg.types.json import Jsonb

from service.db import psycopg_conninfo

API = "/api/v1"


def workflow_url(workflow: dict[str, Any], *parts: str) -> str:
    """URL of a workflow or of something under it, e.g. workflow_url(wf, "nodes")."""
    return "/".join([f"{API}/workflows/{workflow['id']}", *parts])


def if_match(workflow: dict[str, Any]) -> dict[str, str]:
    """An If-Match header naming the workflow's last known version."""
    return {"If-Match": f'"{workflow["version"]}"'}


def track(workflow: dict[str, Any], response: httpx.Response) -> None:
    """Remember the workflow version a response's ETag carries."""
    workflow["version"] = int(response.headers["etag"].strip('"'))


def expect(response: httpx.Response, status: int) -> httpx.Response:
    """The response, after checking its status (the body is shown when it differs)."""
    assert response.status_code == status, response.text
    return response


async def create_workflow(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    """A new workflow of the client's user (named "workflow" unless given)."""
    response = await client.post(f"{API}/workflows", json={"name": "workflow", **fields})
    return dict(expect(response, 201).json())


async def create_node(
    client: httpx.AsyncClient, workflow: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    """A new node in the workflow (an adapter named "step" unless given)."""
    body = {"name": "step", "node_type": "adapter", **fields}
    response = await client.post(
        workflow_url(workflow, "nodes"), json=body, headers=if_match(workflow)
    )
    track(workflow, expect(response, 201))
    return dict(response.json())


async def create_edge(
    client: httpx.AsyncClient,
    workflow: dict[str, Any],
    source: dict[str, Any],
    target: dict[str, Any],
    **fields: Any,
) -> dict[str, Any]:
    """A new edge from node `source` to node `target` of the workflow."""
    body = {"source_node_id": source["id"], "target_node_id": target["id"], **fields}
    response = await client.post(
        workflow_url(workflow, "edges"), json=body, headers=if_match(workflow)
    )
    track(workflow, expect(response, 201))
    return dict(response.json())


async def insert_owner_row(
    database_url: str, table: str, owner_id: uuid.UUID, **columns: Any
) -> uuid.UUID:
    """Insert a tools/agents row directly (the user row too); its id."""
    row = {"id": uuid.uuid4(), "owner_id": owner_id, **columns}
    names = ", ".join(row)
    values = [Jsonb(value) if isinstance(value, dict) else value for value in row.values()]
    async with await psycopg.AsyncConnection.connect(psycopg_conninfo(database_url)) as connection:
        await connection.execute(
            "INSERT INTO users (id) VALUES (%s) ON CONFLICT (id) DO NOTHING", (owner_id,)
        )
        await connection.execute(
            f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(row))})",
            values,
        )
    return row["id"]


async def insert_tool(database_url: str, owner_id: uuid.UUID, **columns: Any) -> uuid.UUID:
    """A tool of `owner_id`, inserted with SQL (pass deleted_at to make it trashed)."""
    defaults = {"name": "tool", "tool_type": "http"}
    return await insert_owner_row(database_url, "tools", owner_id, **{**defaults, **columns})


async def insert_agent(database_url: str, owner_id: uuid.UUID, **columns: Any) -> uuid.UUID:
    """An agent of `owner_id`, inserted with SQL (pass deleted_at to make it trashed)."""
    defaults = {"name": "agent", "model_provider": "anthropic", "model_name": "claude"}
    return await insert_owner_row(database_url, "agents", owner_id, **{**defaults, **columns})
