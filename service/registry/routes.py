"""Tools and agents: one route factory for the two registries, which share one shape."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel

from service.deps import CurrentUser, IfMatch, IfNoneMatch, ReadConnection, SessionDep
from service.errors import (
    NotDeletedError,
    NotFoundError,
    PreconditionRequiredError,
    VersionMismatchError,
    error_responses,
)
from service.json_body import JsonBodyRoute
from service.pagination import Page, SortKey, page_json
from service.preconditions import none_match
from service.registry import repository as registry
from service.registry.repository import OwnedTable
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
from service.shared_models import SafeStr

Limit = Annotated[int, Query(ge=1, le=100, description="Page size (1-100).")]
CursorParam = Annotated[
    str | None, Query(max_length=512, description="Opaque cursor from `next_cursor`.")
]
SortParam = Annotated[SortKey, Query(description="Sort key; `-` for descending.")]
IsActiveParam = Annotated[bool | None, Query(description="Only active or inactive.")]
NameQuery = Annotated[
    SafeStr | None, Query(max_length=255, description="Case-insensitive name substring.")
]
DeletedParam = Annotated[bool, Query(description="Show the trash instead.")]
PermanentParam = Annotated[bool, Query(description="Delete for good (live or trashed).")]
WRITE_ERRORS = (NotFoundError, PreconditionRequiredError, VersionMismatchError)


def entry_id_param(table: OwnedTable) -> Any:
    """The `{tool_id}`-style path parameter of one entry of `table`."""
    singular = table.label.lower()
    return Path(alias=f"{singular}_id", description=f"The {singular}'s UUID.")


def not_found(table: OwnedTable, entry_id: uuid.UUID) -> NotFoundError:
    """404 for an entry the caller does not have."""
    return NotFoundError(f"{table.label} {entry_id} not found.")


def with_article(noun: str) -> str:
    """The noun with its indefinite article, for summaries ("a tool", "an agent")."""
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def registry_router(
    table: OwnedTable,
    create_model: type[BaseModel],
    update_model: type[BaseModel],
    page_model: type[Page[Any]],
) -> APIRouter:
    """Routes for one registry: list, create, read, update, soft delete, restore, purge."""
    router = APIRouter(prefix=f"/{table.name}", tags=[table.name], route_class=JsonBodyRoute)
    add_list_route(router, table, page_model)
    add_create_route(router, table, create_model)
    add_get_route(router, table)
    add_update_route(router, table, update_model)
    add_delete_route(router, table)
    add_restore_route(router, table)
    return router


def add_list_route(router: APIRouter, table: OwnedTable, page_model: type[Page[Any]]) -> None:
    """GET /{table}: one keyset page of the caller's entries."""

    @router.get(
        "",
        operation_id=f"list_{table.name}",
        name=f"list_{table.name}",
        response_model=page_model,
        summary=f"List {table.name}",
        description=f"The caller's {table.name}, one keyset page at a time.",
        responses={200: success(f"A page of {table.name}.", LINK_HEADER), **error_responses()},
    )
    async def list_entries(
        request: Request,
        user_id: CurrentUser,
        connection: ReadConnection,
        limit: Limit = 20,
        cursor: CursorParam = None,
        sort: SortParam = SortKey.CREATED_AT_DESC,
        is_active: IsActiveParam = None,
        q: NameQuery = None,
        deleted: DeletedParam = False,
    ) -> Response:
        filters = registry.ListFilter(is_active=is_active, name_contains=q, deleted=deleted)
        items, next_cursor = await registry.list_rows(
            connection, table, user_id, filters, sort, limit, cursor
        )
        return page_response(request, page_json(items, next_cursor), next_cursor)


def add_create_route(router: APIRouter, table: OwnedTable, create_model: type[BaseModel]) -> None:
    """POST /{table}: a new entry at version 1."""
    singular = table.label.lower()

    @router.post(
        "",
        operation_id=f"create_{singular}",
        name=f"create_{singular}",
        status_code=status.HTTP_201_CREATED,
        response_model=table.public,
        summary=f"Create {with_article(singular)}",
        description=f"Create {with_article(singular)} (no If-Match needed).",
        responses={
            201: success("Created at version 1.", {**ETAG_HEADER, **LOCATION_HEADER}),
            **error_responses(),
        },
    )
    async def create_entry(
        request: Request,
        user_id: CurrentUser,
        session: SessionDep,
        entry_in: create_model,  # type: ignore[valid-type]
    ) -> Response:
        created = await registry.insert_row(session, table, user_id, entry_in)
        assert created.id is not None
        location = request.url_for(f"get_{singular}", **{f"{singular}_id": str(created.id)})
        return json_response(
            created.body, version=created.version, status_code=201, location=str(location)
        )


def add_get_route(router: APIRouter, table: OwnedTable) -> None:
    """GET /{table}/{id}: one live entry, or 304."""
    singular = table.label.lower()

    @router.get(
        f"/{{{singular}_id}}",
        operation_id=f"get_{singular}",
        name=f"get_{singular}",
        response_model=table.public,
        summary=f"Read {with_article(singular)}",
        description=f"One live {singular}; 304 when If-None-Match names its current version.",
        responses={
            200: success(f"The {singular}.", ETAG_HEADER),
            304: {"description": "Not modified (If-None-Match matched)."},
            **error_responses(NotFoundError),
        },
    )
    async def get_entry(
        user_id: CurrentUser,
        connection: ReadConnection,
        entry_id: Annotated[uuid.UUID, entry_id_param(table)],
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        found = await registry.get_row(connection, table, user_id, entry_id)
        if found is None:
            raise not_found(table, entry_id)
        if none_match(if_none_match, found.version):
            return not_modified(found.version)
        return json_response(found.body, version=found.version)


def add_update_route(router: APIRouter, table: OwnedTable, update_model: type[BaseModel]) -> None:
    """PATCH /{table}/{id}: replace the named fields under If-Match."""
    singular = table.label.lower()

    @router.patch(
        f"/{{{singular}_id}}",
        operation_id=f"update_{singular}",
        name=f"update_{singular}",
        response_model=table.public,
        summary=f"Update {with_article(singular)}",
        description="Replace the named fields (no deep merge); the version rises by one.",
        responses={200: success("Updated.", ETAG_HEADER), **error_responses(*WRITE_ERRORS)},
    )
    async def update_entry(
        user_id: CurrentUser,
        session: SessionDep,
        precondition: IfMatch,
        entry_id: Annotated[uuid.UUID, entry_id_param(table)],
        entry_in: update_model,  # type: ignore[valid-type]
    ) -> Response:
        updated = await registry.patch_row(
            session, table, user_id, entry_id, precondition, entry_in
        )
        return json_response(updated.body, version=updated.version)


def add_delete_route(router: APIRouter, table: OwnedTable) -> None:
    """DELETE /{table}/{id}: to the trash, or for good with `permanent=true`."""
    singular = table.label.lower()

    @router.delete(
        f"/{{{singular}_id}}",
        operation_id=f"delete_{singular}",
        name=f"delete_{singular}",
        status_code=status.HTTP_204_NO_CONTENT,
        summary=f"Delete {with_article(singular)} (to the trash, or for good)",
        description="Soft delete (the version rises), or with `permanent=true` delete for good.",
        responses={204: success("Deleted.", ETAG_HEADER), **error_responses(*WRITE_ERRORS)},
    )
    async def delete_entry(
        user_id: CurrentUser,
        session: SessionDep,
        precondition: IfMatch,
        entry_id: Annotated[uuid.UUID, entry_id_param(table)],
        permanent: PermanentParam = False,
    ) -> Response:
        if permanent:
            await registry.purge_row(session, table, user_id, entry_id, precondition)
            return no_content()
        deleted = await registry.soft_delete_row(session, table, user_id, entry_id, precondition)
        return no_content(deleted.version)


def add_restore_route(router: APIRouter, table: OwnedTable) -> None:
    """POST /{table}/{id}/restore: out of the trash, under If-Match."""
    singular = table.label.lower()

    @router.post(
        f"/{{{singular}_id}}/restore",
        operation_id=f"restore_{singular}",
        name=f"restore_{singular}",
        response_model=table.public,
        summary=f"Restore {with_article(singular)} from the trash",
        description=f"Bring a trashed {singular} back; If-Match must name its trashed version.",
        responses={
            200: success("Restored.", ETAG_HEADER),
            **error_responses(*WRITE_ERRORS, NotDeletedError),
        },
    )
    async def restore_entry(
        user_id: CurrentUser,
        session: SessionDep,
        precondition: IfMatch,
        entry_id: Annotated[uuid.UUID, entry_id_param(table)],
    ) -> Response:
        restored = await registry.restore_row(session, table, user_id, entry_id, precondition)
        return json_response(restored.body, version=restored.version)
