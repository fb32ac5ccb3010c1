"""Workflows: the owned-row data access applied to the workflows table.

`bump_version` starts node and edge writes: it checks If-Match and raises the version in
one statement, and the row lock it takes holds other writers off until commit. Every write
here that raises the version records the step in the change log next to it.
"""

import uuid
from functools import cache
from typing import Any

from psycopg import AsyncConnection
from pydantic import BaseModel
from sqlalchemy import select

from service.changes import service as change_log
from service.changes.models import ChangeEntry, Operation
from service.errors import workflow_not_found
from service.owned_rows import (
    ListFilter,
    OwnedTable,
    RowState,
    VersionedJson,
    get_row,
    insert_row,
    list_rows,
    patch_row,
    purge_row,
    restore_row,
    row_version,
    soft_delete_row,
    update_row,
)
from service.pagination import SortKey
from service.preconditions import Precondition
from service.revisions.content import workflow_members
from service.sql import CompiledSql, compiled
from service.workflows.models import (
    Workflow,
    WorkflowCreate,
    WorkflowPublic,
    WorkflowPublication,
    WorkflowUpdate,
)

WORKFLOWS = OwnedTable(Workflow, WorkflowPublic, workflow_members)


async def get_workflow(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    *,
    include_deleted: bool = False,
) -> VersionedJson | None:
    """The owner's workflow, live unless `include_deleted`."""
    return await get_row(
        connection, WORKFLOWS, owner_id, workflow_id, include_deleted=include_deleted
    )


async def create_workflow(
    connection: AsyncConnection[Any], owner_id: uuid.UUID, workflow_in: WorkflowCreate
) -> VersionedJson:
    """Insert a workflow at version 1."""
    created = await insert_row(connection, WORKFLOWS, owner_id, workflow_in)
    assert created.id is not None
    entry = ChangeEntry(
        operation=Operation.WORKFLOW_CREATED, fields=sorted(workflow_in.model_fields_set)
    )
    await change_log.record(connection, owner_id, created.id, created.version, entry)
    return created


async def current_version(
    connection: AsyncConnection[Any], owner_id: uuid.UUID, workflow_id: uuid.UUID, *, deleted: bool
) -> int | None:
    """The version of the owner's live (or trashed) workflow, None if there is none."""
    return await row_version(connection, WORKFLOWS, owner_id, workflow_id, deleted=deleted)


@cache
def lock_statement() -> CompiledSql:
    """SELECT ... FOR UPDATE of the owner's live workflow."""
    table = WORKFLOWS.table
    return compiled(select(table.c.version).where(WORKFLOWS.where(RowState.LIVE)).with_for_update())


async def lock_workflow(
    connection: AsyncConnection[Any], owner_id: uuid.UUID, workflow_id: uuid.UUID
) -> int:
    """Lock the owner's live workflow until commit, before a write reads what it checks; 404."""
    statement = lock_statement()
    values = {"row_id": workflow_id, "owner_id": owner_id}
    cursor = await connection.execute(statement.text, statement.params(values))
    row = await cursor.fetchone()
    if row is None:
        raise workflow_not_found(workflow_id)
    return int(row[0])


async def bump_version(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    precondition: Precondition | None,
    changes: BaseModel | None = None,
) -> int:
    """Raise a live workflow's version by one if the precondition holds; locks it until commit.

    `changes` (an Update model's set fields) are written in the same statement. The caller
    records the step once it knows the ids it touched (service.changes.service.record).
    """
    updated = await update_row(connection, WORKFLOWS, owner_id, workflow_id, precondition, changes)
    return updated.version


async def patch_workflow(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    precondition: Precondition | None,
    workflow_in: WorkflowUpdate,
) -> VersionedJson:
    """Replace the named fields; the version rises even when nothing changed."""
    updated = await patch_row(
        connection, WORKFLOWS, owner_id, workflow_id, precondition, workflow_in
    )
    entry = ChangeEntry(
        operation=Operation.WORKFLOW_UPDATED, fields=sorted(workflow_in.model_fields_set)
    )
    await change_log.record(connection, owner_id, workflow_id, updated.version, entry)
    return updated


async def set_published_revision(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    precondition: Precondition | None,
    number: int | None,
) -> VersionedJson:
    """Publish revision `number` (None: unpublish); the version rises by one."""
    publication = WorkflowPublication(published_revision=number)
    updated = await update_row(
        connection, WORKFLOWS, owner_id, workflow_id, precondition, publication
    )
    operation = Operation.WORKFLOW_UNPUBLISHED if number is None else Operation.WORKFLOW_PUBLISHED
    entry = ChangeEntry(operation=operation, fields=["published_revision"])
    await change_log.record(connection, owner_id, workflow_id, updated.version, entry)
    return updated


async def soft_delete_workflow(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    precondition: Precondition | None,
) -> VersionedJson:
    """Move the workflow to the trash (a change: the version rises)."""
    deleted = await soft_delete_row(connection, WORKFLOWS, owner_id, workflow_id, precondition)
    entry = ChangeEntry(operation=Operation.WORKFLOW_DELETED, fields=["deleted_at"])
    await change_log.record(connection, owner_id, workflow_id, deleted.version, entry)
    return deleted


async def restore_workflow(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    precondition: Precondition | None,
) -> VersionedJson:
    """Take the workflow out of the trash; 409 NOT_DELETED when it is live."""
    restored = await restore_row(connection, WORKFLOWS, owner_id, workflow_id, precondition)
    entry = ChangeEntry(operation=Operation.WORKFLOW_RESTORED, fields=["deleted_at"])
    await change_log.record(connection, owner_id, workflow_id, restored.version, entry)
    return restored


async def purge_workflow(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    precondition: Precondition | None,
) -> None:
    """Delete the workflow with its nodes and edges for good (live or trashed)."""
    await purge_row(connection, WORKFLOWS, owner_id, workflow_id, precondition)


async def list_workflows(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    filters: ListFilter,
    sort: SortKey,
    limit: int,
    cursor: str | None,
) -> tuple[list[str], str | None]:
    """One keyset page of the owner's workflows: item JSON texts and the next cursor."""
    return await list_rows(connection, WORKFLOWS, owner_id, filters, sort, limit, cursor)
