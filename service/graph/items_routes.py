"""What the node and edge routes share: item ids in paths, reads, pages and batch limits."""

import uuid

from fastapi import Request, Response
from starlette.convertors import StringConvertor, register_url_convertor

from service.deps import ReadConnection, SessionDep
from service.errors import (
    ItemCode,
    NotFoundError,
    ValidationError,
    error_responses,
    workflow_not_found,
)
from service.graph import items_repository as graph_items
from service.graph.items_repository import GraphTable
from service.pagination import page_json
from service.preconditions import Precondition, etag, none_match
from service.responses import (
    ETAG_HEADER,
    json_response,
    no_content,
    not_modified,
    page_response,
    success,
)


class ItemIdConvertor(StringConvertor):
    """A path segment naming one node or edge: anything but `batch`, which answers 405 then."""

    regex = r"(?!batch$)[^/]+"


# Paths `/{node_id:item_id}` and `/{edge_id:item_id}` use it; a malformed UUID stays a 422.
register_url_convertor("item_id", ItemIdConvertor())

READ_RESPONSES = {
    200: success("The item, with the workflow's ETag.", ETAG_HEADER),
    304: {"description": "Not modified (If-None-Match matched)."},
    **error_responses(NotFoundError),
}


def refuse_oversized_batch(count: int, limit: int, collection: str) -> None:
    """422 when a batch has more items than the configured maximum."""
    if count > limit:
        detail = f"A batch holds at most {limit} items; this one has {count}."
        item = {"code": ItemCode.TOO_MANY_ITEMS, "pointer": f"/{collection}", "detail": detail}
        raise ValidationError([item], detail=detail)


async def read_item(
    connection: ReadConnection,
    table: GraphTable,
    user_id: uuid.UUID,
    workflow_id: uuid.UUID,
    item_id: uuid.UUID,
    if_none_match: str | None,
) -> Response:
    """One node or edge; 304 when If-None-Match names the workflow's current version."""
    found = await graph_items.get_item(connection, table, user_id, workflow_id, item_id)
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
    page = await graph_items.list_items(connection, table, user_id, workflow_id, limit, cursor)
    if page is None:
        raise workflow_not_found(workflow_id)
    response = page_response(request, page_json(page.items, page.next_cursor), page.next_cursor)
    response.headers["ETag"] = etag(page.version)
    return response


async def delete_item(
    session: SessionDep,
    table: GraphTable,
    user_id: uuid.UUID,
    workflow_id: uuid.UUID,
    item_id: uuid.UUID,
    precondition: Precondition | None,
) -> Response:
    """Delete one node or edge; 204 with the workflow's new ETag."""
    version = await graph_items.delete_item(
        session, table, user_id, workflow_id, item_id, precondition
    )
    return no_content(version)
