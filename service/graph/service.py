"""Saving a whole graph: the order of lock, checks, version and write, in one place."""

import gc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg import errors as pg_errors

from service.changes import service as change_log
from service.changes.models import ChangeEntry, Operation
from service.graph import repository, rules
from service.graph.models import GraphChanges
from service.graph.repository import IdsTakenError, RenderedGraph
from service.preconditions import Precondition
from service.revisions.history import RevisionRequest, record_revision
from service.revisions.repository import StoredRevision
from service.workflows import repository as workflows
from service.workflows.models import WorkflowUpdate


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a burst of allocations that form no cycles."""
    # Validating a large graph allocates ~10 objects per item; each collection it triggers
    # walks the whole heap, which costs more than the validation itself. No await inside.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(frozen=True)
class SavedGraph:
    """A saved graph as rendered, what the save changed, and the revision that holds it."""

    graph: RenderedGraph
    changes: GraphChanges
    revision: StoredRevision


async def replace_graph(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    precondition: Precondition | None,
    submitted: rules.SubmittedGraph,
    *,
    revision: RevisionRequest,
    fields: WorkflowUpdate | None = None,
    operation: Operation = Operation.GRAPH_SAVED,
) -> SavedGraph:
    """Check and save a parsed graph (and workflow `fields`), then record it as a revision.

    The row lock comes before any stored fact is read, so no writer of this workflow can
    change them between the checks and the save. The body is judged before the precondition,
    as FastAPI judges declared bodies: an invalid document is 422 whatever the version. The
    revision is recorded unless the latest one holds the same content.
    """
    await workflows.lock_workflow(connection, owner_id, workflow_id)
    await check(connection, owner_id, workflow_id, submitted)
    version = await workflows.bump_version(connection, owner_id, workflow_id, precondition, fields)
    try:
        async with connection.transaction():  # a savepoint: a clash leaves nothing written
            changes, ids = await repository.save_graph(connection, workflow_id, submitted)
    except (IdsTakenError, pg_errors.UniqueViolation, pg_errors.ForeignKeyViolation):
        # Another workflow's save took ids of this graph after the checks read them: checking
        # again names them (422); anything else is unforeseen and stays an error.
        await check(connection, owner_id, workflow_id, submitted)
        raise
    written = [] if fields is None else sorted(fields.model_fields_set)
    entry = ChangeEntry(operation=operation, nodes=ids.nodes, edges=ids.edges, fields=written)
    await change_log.record(connection, owner_id, workflow_id, version, entry)
    saved = await repository.get_graph(connection, owner_id, workflow_id)
    assert saved is not None  # locked above
    stored = await record_revision(connection, workflow_id, owner_id, saved, revision)
    return SavedGraph(saved, changes, stored)


async def check(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    submitted: rules.SubmittedGraph,
) -> None:
    """Apply every graph rule to the submitted graph, against what is stored now."""
    facts = await repository.stored_facts(connection, owner_id, workflow_id, submitted)
    with collector_paused():
        rules.check_graph(submitted, facts)
