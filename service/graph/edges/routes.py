"""Edges of a workflow: list, create (one or a batch), read, update, delete."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from service.deps import (
    CurrentUser,
    IfMatch,
    IfNoneMatch,
    ReadConnection,
    SessionDep,
    SettingsDep,
    WorkflowId,
)
from service.errors import (
    CycleDetectedError,
    DuplicateEdgeError,
    GraphTooLargeError,
    NodeNotInWorkflowError,
    NotFoundError,
    SelfLoopError,
    error_responses,
)
from service.graph.edges import repository as edges
from service.graph.edges.models import (
    EdgeBatchCreate,
    EdgeBatchPublic,
    EdgeCreate,
    EdgePublic,
    EdgeUpdate,
)
from service.graph.edges.repository import EDGES
from service.graph.items_routes import (
    READ_RESPONSES,
    delete_item,
    list_page,
    read_item,
    refuse_oversized_batch,
)
from service.json_body import JsonBodyRoute
from service.pagination import Page
from service.responses import (
    ETAG_HEADER,
    LINK_HEADER,
    LOCATION_HEADER,
    json_response,
    success,
)
from service.workflows.routes import WRITE_ERRORS, CursorParam, Limit

router = APIRouter(
    prefix="/workflows/{workflow_id}/edges", tags=["edges"], route_class=JsonBodyRoute
)

EdgeId = Annotated[uuid.UUID, Path(description="The edge's UUID.")]
GRAPH_ERRORS = (
    *WRITE_ERRORS,
    SelfLoopError,
    NodeNotInWorkflowError,
    DuplicateEdgeError,
    CycleDetectedError,
)


@router.get(
    "",
    operation_id="list_edges",
    response_model=Page[EdgePublic],
    summary="List a workflow's edges",
    responses={
        200: success("A page of edges, oldest first.", {**LINK_HEADER, **ETAG_HEADER}),
        **error_responses(NotFoundError),
    },
)
async def list_edges(
    request: Request,
    workflow_id: WorkflowId,
    user_id: CurrentUser,
    connection: ReadConnection,
    limit: Limit = 20,
    cursor: CursorParam = None,
) -> Response:
    """The workflow's edges by creation time, one keyset page at a time."""
    return await list_page(request, connection, EDGES, user_id, workflow_id, limit, cursor)


@router.post(
    "",
    operation_id="create_edge",
    status_code=status.HTTP_201_CREATED,
    response_model=EdgePublic,
    summary="Connect two nodes",
    responses={
        201: success(
            "Created; the workflow version rose by one.", {**ETAG_HEADER, **LOCATION_HEADER}
        ),
        **error_responses(*GRAPH_ERRORS, GraphTooLargeError),
    },
)
async def create_edge(
    request: Request,
    workflow_id: WorkflowId,
    user_id: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    precondition: IfMatch,
    edge_in: EdgeCreate,
) -> Response:
    """Add one edge between two nodes of this workflow; the graph must stay a DAG."""
    created = await edges.create_edges(
        session,
        user_id,
        workflow_id,
        precondition,
        [edge_in],
        max_edges=settings.max_edges_per_workflow,
        collection=None,
    )
    edge_id, body = created.items[0]
    location = request.url_for("get_edge", workflow_id=str(workflow_id), edge_id=str(edge_id))
    return json_response(body, version=created.version, status_code=201, location=str(location))


@router.post(
    "/batch",
    operation_id="create_edges_batch",
    status_code=status.HTTP_201_CREATED,
    response_model=EdgeBatchPublic,
    summary="Add several edges at once",
    responses={
        201: success("Created, in request order; the version rose by one.", ETAG_HEADER),
        **error_responses(*WRITE_ERRORS, CycleDetectedError, GraphTooLargeError),
    },
)
async def create_edges_batch(
    workflow_id: WorkflowId,
    user_id: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    precondition: IfMatch,
    batch: EdgeBatchCreate,
) -> Response:
    """Add up to MAX_BATCH_ITEMS edges, all or nothing; item problems are one located 422."""
    refuse_oversized_batch(len(batch.edges), settings.max_batch_items, "edges")
    created = await edges.create_edges(
        session,
        user_id,
        workflow_id,
        precondition,
        batch.edges,
        max_edges=settings.max_edges_per_workflow,
        collection="edges",
    )
    return json_response(created.batch_json(), version=created.version, status_code=201)


@router.get(
    "/{edge_id:item_id}",
    operation_id="get_edge",
    response_model=EdgePublic,
    summary="Read an edge",
    responses=READ_RESPONSES,
)
async def get_edge(
    workflow_id: WorkflowId,
    edge_id: EdgeId,
    user_id: CurrentUser,
    connection: ReadConnection,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """One edge of a live workflow, with the workflow's ETag."""
    return await read_item(connection, EDGES, user_id, workflow_id, edge_id, if_none_match)


@router.patch(
    "/{edge_id:item_id}",
    operation_id="update_edge",
    response_model=EdgePublic,
    summary="Update an edge",
    responses={200: success("Updated.", ETAG_HEADER), **error_responses(*GRAPH_ERRORS)},
)
async def update_edge(
    workflow_id: WorkflowId,
    edge_id: EdgeId,
    user_id: CurrentUser,
    session: SessionDep,
    precondition: IfMatch,
    edge_in: EdgeUpdate,
) -> Response:
    """Replace the named fields (endpoints too); the graph must stay a DAG."""
    updated = await edges.update_edge(session, user_id, workflow_id, edge_id, precondition, edge_in)
    return json_response(updated.body, version=updated.version)


@router.delete(
    "/{edge_id:item_id}",
    operation_id="delete_edge",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an edge",
    responses={204: success("Deleted.", ETAG_HEADER), **error_responses(*WRITE_ERRORS)},
)
async def delete_edge(
    workflow_id: WorkflowId,
    edge_id: EdgeId,
    user_id: CurrentUser,
    session: SessionDep,
    precondition: IfMatch,
) -> Response:
    """Delete one edge; the version rises by one."""
    return await delete_item(session, EDGES, user_id, workflow_id, edge_id, precondition)
