"""Nodes of a workflow: list, create (one or a batch), read, update, delete."""

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
from service.errors import GraphTooLargeError, NotFoundError, error_responses
from service.graph.items_routes import (
    READ_RESPONSES,
    delete_item,
    list_page,
    read_item,
    refuse_oversized_batch,
)
from service.graph.nodes import repository as nodes
from service.graph.nodes.models import (
    NodeBatchCreate,
    NodeBatchPublic,
    NodeCreateIn,
    NodePublic,
    NodeUpdate,
)
from service.graph.nodes.repository import NODES
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
    prefix="/workflows/{workflow_id}/nodes", tags=["nodes"], route_class=JsonBodyRoute
)

NodeId = Annotated[uuid.UUID, Path(description="The node's UUID.")]
CREATE_ERRORS = (*WRITE_ERRORS, GraphTooLargeError)


@router.get(
    "",
    operation_id="list_nodes",
    response_model=Page[NodePublic],
    summary="List a workflow's nodes",
    responses={
        200: success("A page of nodes, oldest first.", {**LINK_HEADER, **ETAG_HEADER}),
        **error_responses(NotFoundError),
    },
)
async def list_nodes(
    request: Request,
    workflow_id: WorkflowId,
    user_id: CurrentUser,
    connection: ReadConnection,
    limit: Limit = 20,
    cursor: CursorParam = None,
) -> Response:
    """The workflow's nodes by creation time, one keyset page at a time."""
    return await list_page(request, connection, NODES, user_id, workflow_id, limit, cursor)


@router.post(
    "",
    operation_id="create_node",
    status_code=status.HTTP_201_CREATED,
    response_model=NodePublic,
    summary="Add a node",
    responses={
        201: success(
            "Created; the workflow version rose by one.", {**ETAG_HEADER, **LOCATION_HEADER}
        ),
        **error_responses(*CREATE_ERRORS),
    },
)
async def create_node(
    request: Request,
    workflow_id: WorkflowId,
    user_id: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    precondition: IfMatch,
    node_in: NodeCreateIn,
) -> Response:
    """Add one node; its tool or agent must be one of the caller's live ones."""
    created = await nodes.create_nodes(
        session,
        user_id,
        workflow_id,
        precondition,
        [node_in],
        max_nodes=settings.max_nodes_per_workflow,
        collection=None,
    )
    node_id, body = created.items[0]
    location = request.url_for("get_node", workflow_id=str(workflow_id), node_id=str(node_id))
    return json_response(body, version=created.version, status_code=201, location=str(location))


@router.post(
    "/batch",
    operation_id="create_nodes_batch",
    status_code=status.HTTP_201_CREATED,
    response_model=NodeBatchPublic,
    summary="Add several nodes at once",
    responses={
        201: success("Created, in request order; the version rose by one.", ETAG_HEADER),
        **error_responses(*CREATE_ERRORS),
    },
)
async def create_nodes_batch(
    workflow_id: WorkflowId,
    user_id: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    precondition: IfMatch,
    batch: NodeBatchCreate,
) -> Response:
    """Add up to MAX_BATCH_ITEMS nodes, all or nothing; every bad item is reported."""
    refuse_oversized_batch(len(batch.nodes), settings.max_batch_items, "nodes")
    created = await nodes.create_nodes(
        session,
        user_id,
        workflow_id,
        precondition,
        batch.nodes,
        max_nodes=settings.max_nodes_per_workflow,
        collection="nodes",
    )
    return json_response(created.batch_json(), version=created.version, status_code=201)


@router.get(
    "/{node_id:item_id}",
    operation_id="get_node",
    response_model=NodePublic,
    summary="Read a node",
    responses=READ_RESPONSES,
)
async def get_node(
    workflow_id: WorkflowId,
    node_id: NodeId,
    user_id: CurrentUser,
    connection: ReadConnection,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """One node of a live workflow, with the workflow's ETag."""
    return await read_item(connection, NODES, user_id, workflow_id, node_id, if_none_match)


@router.patch(
    "/{node_id:item_id}",
    operation_id="update_node",
    response_model=NodePublic,
    summary="Update a node",
    responses={200: success("Updated.", ETAG_HEADER), **error_responses(*WRITE_ERRORS)},
)
async def update_node(
    workflow_id: WorkflowId,
    node_id: NodeId,
    user_id: CurrentUser,
    session: SessionDep,
    precondition: IfMatch,
    node_in: NodeUpdate,
) -> Response:
    """Replace the named fields, then check the whole node; the version rises by one."""
    updated = await nodes.update_node(session, user_id, workflow_id, node_id, precondition, node_in)
    return json_response(updated.body, version=updated.version)


@router.delete(
    "/{node_id:item_id}",
    operation_id="delete_node",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a node and its edges",
    responses={204: success("Deleted.", ETAG_HEADER), **error_responses(*WRITE_ERRORS)},
)
async def delete_node(
    workflow_id: WorkflowId,
    node_id: NodeId,
    user_id: CurrentUser,
    session: SessionDep,
    precondition: IfMatch,
) -> Response:
    """Delete the node with every edge into or out of it; the version rises by one."""
    return await delete_item(session, NODES, user_id, workflow_id, node_id, precondition)
