"""Nodes of a workflow: list, create (one or a batch), read, update, delete."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from starlette.convertors import StringConvertor, register_url_convertor

from service.deps import CurrentUser, IfMatch, IfNoneMatch, ReadConnection, SessionDep, SettingsDep
from service.errors import GraphTooLargeError, NotFoundError, ValidationError, error_responses
from service.json_body import JsonBodyRoute
from service.models import NodeCreate, NodePublic, NodeUpdate
from service.models.node import NodeBatchCreate, NodeBatchPublic
from service.pagination import Page, page_json
from service.preconditions import etag, none_match
from service.repositories import nodes
from service.repositories.nodes import NODES, GraphTable
from service.responses import (
    ETAG_HEADER,
    LINK_HEADER,
    LOCATION_HEADER,
    json_response,
    no_content,
    not_modified,
    page_response,
    success,
)
from service.routes.workflows import WRITE_ERRORS, CursorParam, Limit, WorkflowId


class ItemIdConvertor(StringConvertor):
    """A path segment naming one node or edge: anything but `batch`, which answers 405 then."""

    regex = r"(?!batch$)[^/]+"


# Paths `/{node_id:item_id}` and `/{edge_id:item_id}` use it; a malformed UUID stays a 422.
register_url_convertor("item_id", ItemIdConvertor())

router = APIRouter(
    prefix="/workflows/{workflow_id}/nodes", tags=["nodes"], route_class=JsonBodyRoute
)

NodeId = Annotated[uuid.UUID, Path(description="The node's UUID.")]
READ_RESPONSES = {
    200: success("The item, with the workflow's ETag.", ETAG_HEADER),
    304: {"description": "Not modified (If-None-Match matched)."},
    **error_responses(NotFoundError),
}
CREATE_ERRORS = (*WRITE_ERRORS, GraphTooLargeError)


def refuse_oversized_batch(count: int, limit: int, collection: str) -> None:
    """422 when a batch has more items than the configured maximum."""
    if count > limit:
        detail = f"A batch holds at most {limit} items; this one has {count}."
        raise ValidationError([{"pointer": f"/{collection}", "detail": detail}], detail=detail)


async def read_item(
    connection: ReadConnection,
    table: GraphTable,
    user_id: uuid.UUID,
    workflow_id: uuid.UUID,
    item_id: uuid.UUID,
    if_none_match: str | None,
) -> Response:
    """One node or edge; 304 when If-None-Match names the workflow's current version."""
    found = await nodes.get_item(connection, table, user_id, workflow_id, item_id)
    if found is None:
        raise NotFoundError(f"{table.label} {item_id} not found.")
    if none_match(if_none_match, found.version):
        return not_modified(found.version)
    return json_response(found.body, version=found.version)


async def list_page(
    request: Request,
    connection: ReadConnection,
    table: GraphTable,
    user_id: uuid.UUID,
    workflow_id: uuid.UUID,
    limit: int,
    cursor: str | None,
) -> Response:
    """One page of a workflow's nodes or edges, with the workflow's ETag."""
    page = await nodes.list_items(connection, table, user_id, workflow_id, limit, cursor)
    if page is None:
        raise NotFoundError(f"Workflow {workflow_id} not found.")
    response = page_response(request, page_json(page.items, page.next_cursor), page.next_cursor)
    response.headers["ETag"] = etag(page.version)
    return response


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
    node_in: NodeCreate,
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
    version = await nodes.delete_item(session, NODES, user_id, workflow_id, node_id, precondition)
    return no_content(version)
