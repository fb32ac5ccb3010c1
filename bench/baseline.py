"""Raw baseline: Starlette + a psycopg pool + hand-written SQL, answering W1-W3 with the same JSON.

Every throughput figure of the service is reported as a ratio to this app, measured in the same
run. It does the same essential work as the service (verify the bearer JWT, one owner-scoped
statement that renders the API JSON in PostgreSQL, ETag/If-Match) and nothing else: no
dependency injection, no request validation models, no middleware, no problem+json machinery.

`/pydantic/...` serves W1 and W2 the ORM-style way (rows hydrated into the service's Public
models, then `model_dump_json`) to measure what rendering JSON in PostgreSQL buys.

Run: `python -m bench.baseline --host 127.0.0.1 --port 8001` with DATABASE_URL and JWT_SECRET.
"""

import argparse
import math
import os
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import jwt
import orjson
import uvicorn
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service.db import psycopg_conninfo
from service.graph.edges.models import EdgePublic
from service.graph.nodes.models import NodePublic
from service.workflows.models import WorkflowPublic

WORKFLOW_FIELDS = (
    "'id', w.id, 'deleted_at', w.deleted_at, 'created_at', w.created_at,"
    " 'updated_at', w.updated_at, 'name', w.name, 'description', w.description,"
    " 'config', w.config, 'variables', w.variables, 'is_active', w.is_active,"
    " 'viewport', w.viewport,"
    " 'owner_id', w.owner_id, 'version', w.version, 'is_deleted', (w.deleted_at IS NOT NULL),"
    " 'published_revision', w.published_revision, 'has_unpublished_changes', "
    + "(w.published_revision IS NULL)"
)
# The seeded workflows the baseline serves are never published, so it skips the content hash
# the service compares for published ones (has_unpublished_changes is true when unpublished).
UNPUBLISHED = "(w.published_revision IS NULL) AS has_unpublished_changes"
WORKFLOW_JSON = f"json_build_object({WORKFLOW_FIELDS})"
NODE_JSON = (
    "json_build_object('id', n.id, 'created_at', n.created_at, 'updated_at', n.updated_at,"
    " 'name', n.name, 'node_type', n.node_type, 'position_x', n.position_x,"
    " 'position_y', n.position_y, 'config', n.config, 'input_schema', n.input_schema,"
    " 'output_schema', n.output_schema, 'tool_id', n.tool_id, 'agent_id', n.agent_id,"
    " 'timeout_seconds', n.timeout_seconds, 'retry_config', n.retry_config,"
    " 'workflow_id', n.workflow_id)"
)
EDGE_JSON = (
    "json_build_object('id', e.id, 'created_at', e.created_at, 'updated_at', e.updated_at,"
    " 'source_handle', e.source_handle,"
    " 'target_handle', e.target_handle, 'condition', e.condition, 'priority', e.priority,"
    " 'label', e.label, 'source_node_id', e.source_node_id, 'target_node_id', e.target_node_id,"
    " 'workflow_id', e.workflow_id)"
)
LIVE_WORKFLOW = "w.id = %s AND w.owner_id = %s AND w.deleted_at IS NULL"
GET_WORKFLOW = f"SELECT w.version, {WORKFLOW_JSON}::text FROM workflows w WHERE {LIVE_WORKFLOW}"
GET_GRAPH = (
    f"SELECT w.version, json_build_object({WORKFLOW_FIELDS},"
    f" 'nodes', (SELECT coalesce(json_agg({NODE_JSON} ORDER BY n.created_at, n.id), '[]'::json)"
    "   FROM nodes n WHERE n.workflow_id = w.id),"
    f" 'edges', (SELECT coalesce(json_agg({EDGE_JSON} ORDER BY e.created_at, e.id), '[]'::json)"
    "   FROM edges e WHERE e.workflow_id = w.id)"
    f")::text FROM workflows w WHERE {LIVE_WORKFLOW}"
)
# One statement: bump the workflow's version if If-Match names it, move the node, render it.
PATCH_NODE_POSITION = (
    "WITH w AS (UPDATE workflows w SET version = w.version + 1, updated_at = now()"
    f"   WHERE {LIVE_WORKFLOW} AND (%s::int[] IS NULL OR w.version = ANY(%s::int[]))"
    "   RETURNING w.id, w.version),"
    " n AS (UPDATE nodes n SET position_x = coalesce(%s, n.position_x),"
    "   position_y = coalesce(%s, n.position_y), updated_at = now()"
    "   FROM w WHERE n.id = %s AND n.workflow_id = w.id RETURNING n.*)"
    f" SELECT w.version, {NODE_JSON}::text FROM w, n"
)
CURRENT_VERSION = f"SELECT w.version FROM workflows w WHERE {LIVE_WORKFLOW}"
ENTITY_TAG = re.compile(r'\s*(W/)?"([0-9]{1,9})"\s*(?:,|$)')
PROBLEM = "application/problem+json"


class GraphPublic(WorkflowPublic):
    """The graph document as a pydantic model (for the `/pydantic` variant only)."""

    nodes: list[NodePublic]
    edges: list[EdgePublic]


class RefusedError(Exception):
    """A request answered with an error status."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.headers = headers or {}


def problem(error: RefusedError) -> Response:
    """A minimal problem+json response."""
    body = orjson.dumps({"status": error.status, "detail": str(error)})
    return Response(body, error.status, headers=error.headers, media_type=PROBLEM)


def caller(request: Request) -> uuid.UUID:
    """The user id of the verified bearer token (HS256, `exp` and `sub` required)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise RefusedError(401, "A bearer token is required.")
    try:
        claims = jwt.decode(
            token,
            request.app.state.secret,
            algorithms=["HS256"],
            options={"require": ["exp", "sub"], "verify_aud": False},
        )
        return uuid.UUID(str(claims["sub"]))
    except (jwt.PyJWTError, ValueError) as error:
        raise RefusedError(401, f"The token is invalid: {error}") from error


def path_uuid(request: Request, name: str) -> uuid.UUID:
    """A UUID path parameter; 404 when it is not one."""
    try:
        return uuid.UUID(request.path_params[name])
    except ValueError as error:
        raise RefusedError(404, "Not found.") from error


def json_text(body: str, version: int) -> Response:
    """JSON already rendered by PostgreSQL, with the version as its ETag."""
    return Response(body, headers={"ETag": f'"{version}"'}, media_type="application/json")


async def get_workflow(request: Request) -> Response:
    """W1: one workflow."""
    try:
        user_id, workflow_id = caller(request), path_uuid(request, "workflow_id")
        async with request.app.state.pool.connection() as connection:
            row = await (await connection.execute(GET_WORKFLOW, (workflow_id, user_id))).fetchone()
        if row is None:
            raise RefusedError(404, "Workflow not found.")
        return json_text(row[1], row[0])
    except RefusedError as error:
        return problem(error)


async def get_graph(request: Request) -> Response:
    """W2: a workflow with its nodes and edges."""
    try:
        user_id, workflow_id = caller(request), path_uuid(request, "workflow_id")
        async with request.app.state.pool.connection() as connection:
            row = await (await connection.execute(GET_GRAPH, (workflow_id, user_id))).fetchone()
        if row is None:
            raise RefusedError(404, "Workflow not found.")
        return json_text(row[1], row[0])
    except RefusedError as error:
        return problem(error)


def finite_number(body: dict[str, Any], key: str) -> float | None:
    """An optional finite number from the body; 422 otherwise."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RefusedError(422, f"{key} must be a finite number.")
    return float(value)


def if_match_versions(request: Request) -> list[int] | None:
    """The versions If-Match names (None for `*`); 428 when it is missing."""
    header = request.headers.get("if-match")
    if header is None:
        raise RefusedError(428, "If-Match is required.")
    if header.strip() == "*":
        return None
    return [int(opaque) for weak, opaque in ENTITY_TAG.findall(header) if not weak]


async def patch_node(request: Request) -> Response:
    """W3-like: move a node, with the workflow's version checked and raised in one statement."""
    try:
        user_id, workflow_id = caller(request), path_uuid(request, "workflow_id")
        node_id = path_uuid(request, "node_id")
        versions = if_match_versions(request)
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError as error:
            raise RefusedError(400, "The body is not valid JSON.") from error
        if not isinstance(body, dict):
            raise RefusedError(422, "The body must be a JSON object.")
        x, y = finite_number(body, "position_x"), finite_number(body, "position_y")
        async with request.app.state.pool.connection() as connection:
            async with connection.transaction():
                cursor = await connection.execute(
                    PATCH_NODE_POSITION,
                    (workflow_id, user_id, versions, versions, x, y, node_id),
                )
                row = await cursor.fetchone()
            if row is not None:
                return json_text(row[1], row[0])
            cursor = await connection.execute(CURRENT_VERSION, (workflow_id, user_id))
            current = await cursor.fetchone()
        if current is None or versions is None or current[0] in versions:
            raise RefusedError(404, "Workflow or node not found.")
        raise RefusedError(412, "Version mismatch.", {"ETag": f'"{current[0]}"'})
    except RefusedError as error:
        return problem(error)


async def get_workflow_pydantic(request: Request) -> Response:
    """W1 the ORM way: the row hydrated into WorkflowPublic, then serialized by pydantic."""
    try:
        user_id, workflow_id = caller(request), path_uuid(request, "workflow_id")
        async with request.app.state.pool.connection() as connection:
            cursor = connection.cursor(row_factory=dict_row)
            await cursor.execute(
                f"SELECT *, {UNPUBLISHED} FROM workflows w WHERE {LIVE_WORKFLOW}",
                (workflow_id, user_id),
            )
            row = await cursor.fetchone()
        if row is None:
            raise RefusedError(404, "Workflow not found.")
        workflow = WorkflowPublic.model_validate(row)
        return json_text(workflow.model_dump_json(), workflow.version)
    except RefusedError as error:
        return problem(error)


async def get_graph_pydantic(request: Request) -> Response:
    """W2 the ORM way: three SELECTs (as selectin loading does), pydantic models, then JSON."""
    try:
        user_id, workflow_id = caller(request), path_uuid(request, "workflow_id")
        async with request.app.state.pool.connection() as connection:
            cursor = connection.cursor(row_factory=dict_row)
            await cursor.execute(
                f"SELECT *, {UNPUBLISHED} FROM workflows w WHERE {LIVE_WORKFLOW}",
                (workflow_id, user_id),
            )
            row = await cursor.fetchone()
            if row is None:
                raise RefusedError(404, "Workflow not found.")
            await cursor.execute(
                "SELECT * FROM nodes WHERE workflow_id = %s ORDER BY created_at, id",
                (workflow_id,),
            )
            nodes = await cursor.fetchall()
            await cursor.execute(
                "SELECT * FROM edges WHERE workflow_id = %s ORDER BY created_at, id",
                (workflow_id,),
            )
            edges = await cursor.fetchall()
        graph = GraphPublic.model_validate({**row, "nodes": nodes, "edges": edges})
        return json_text(graph.model_dump_json(), graph.version)
    except RefusedError as error:
        return problem(error)


async def ready(request: Request) -> Response:
    """200 once the pool answers."""
    async with request.app.state.pool.connection() as connection:
        await connection.execute("SELECT 1")
    return Response('{"status":"ready"}', media_type="application/json")


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """Open the pool with the service's default settings."""
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        psycopg_conninfo(os.environ["DATABASE_URL"]),
        min_size=int(os.environ.get("DB_POOL_MIN_SIZE", "2")),
        max_size=int(os.environ.get("DB_POOL_MAX_SIZE", "10")),
        kwargs={
            "autocommit": True,
            "prepare_threshold": 5,
            "options": "-c TimeZone=UTC -c statement_timeout=15000",
        },
        open=False,
        name="baseline",
    )
    await pool.open(wait=True)
    app.state.pool = pool
    try:
        yield
    finally:
        await pool.close()


def create_app() -> Starlette:
    """The baseline application."""
    prefix = "/api/v1/workflows/{workflow_id}"
    app = Starlette(
        routes=[
            Route(prefix, get_workflow, methods=["GET"]),
            Route(prefix + "/graph", get_graph, methods=["GET"]),
            Route(prefix + "/nodes/{node_id}", patch_node, methods=["PATCH"]),
            Route("/pydantic" + prefix, get_workflow_pydantic, methods=["GET"]),
            Route("/pydantic" + prefix + "/graph", get_graph_pydantic, methods=["GET"]),
            Route("/readyz", ready, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.secret = os.environ["JWT_SECRET"]
    return app


def main() -> None:
    """Serve the baseline with the service's uvicorn settings (uvloop, httptools, access log)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    uvicorn.run(
        "bench.baseline:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=1,
        log_level=os.environ.get("LOG_LEVEL", "info"),
        access_log=os.environ.get("ACCESS_LOG", "true").lower() in ("1", "true", "yes"),
        loop="uvloop",
        http="httptools",
        proxy_headers=True,
    )


if __name__ == "__main__":
    main()
