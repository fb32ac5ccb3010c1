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
from service.changes.models import ChangeEntry, Operation, touched
from service.graph import change_repository, change_set, repository, rules
from service.graph.models import ChangeCounts, GraphChanges, GraphChangeSet
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
    version rises only if something changed; the revision is recorded unless the latest one
    holds the same content.
    """
    version = await workflows.lock_workflow(connection, owner_id, workflow_id)
    await check(connection, owner_id, workflow_id, submitted)
    await workflows.require_match(connection, workflow_id, precondition, version)
    try:
        async with connection.transaction():  # a savepoint: a clash leaves nothing written
            changes, ids = await repository.save_graph(connection, workflow_id, submitted)
    except (IdsTakenError, pg_errors.UniqueViolation, pg_errors.ForeignKeyViolation):
        # Another workflow's save took ids of this graph after the checks read them: checking
        # again names them (422); anything else is unforeseen and stays an error.
        await check(connection, owner_id, workflow_id, submitted)
        raise
    # An unchanged graph (and fields) keeps the version: autosaves of other editors still apply.
    bumped = await workflows.bump_version(
        connection, owner_id, workflow_id, precondition, fields, touched=changes.changed_anything()
    )
    if bumped != version:
        written = [] if fields is None else sorted(fields.model_fields_set)
        entry = ChangeEntry(operation=operation, nodes=ids.nodes, edges=ids.edges, fields=written)
        await change_log.record(connection, owner_id, workflow_id, bumped, entry)
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


NO_CHANGES = GraphChanges(
    nodes=ChangeCounts(created=0, updated=0, deleted=0),
    edges=ChangeCounts(created=0, updated=0, deleted=0),
)
NO_FACTS = rules.StoredFacts(frozenset(), frozenset(), frozenset(), frozenset())


@dataclass(frozen=True)
class AppliedChanges:
    """A change set applied: the workflow's version after it, and what it changed."""

    version: int
    changes: GraphChanges

    @property
    def changed(self) -> bool:
        """Whether anything was written (else the version stayed)."""
        return self.changes.changed_anything()


async def apply_change_set(
    connection: AsyncConnection[Any],
    owner_id: uuid.UUID,
    workflow_id: uuid.UUID,
    precondition: Precondition | None,
    changes: GraphChangeSet,
    limits: tuple[int, int],
) -> AppliedChanges:
    """Check a change set with every graph rule and write it, all or nothing, one version step.

    The row lock comes first, so nothing the checks read can change before the writes; a
    change set that writes nothing (an empty one, or values equal to the stored) keeps the
    version. A drag (the same fields of many nodes, valid alone) is one statement.
    """
    moves = change_set.moves_only(changes)
    if moves is not None:
        moved = await change_repository.move_nodes(
            connection, owner_id, workflow_id, precondition, moves
        )
        if moved is not None:  # else nothing was written: the general path says why
            version, moved_ids = moved
            entry = ChangeEntry(operation=Operation.GRAPH_CHANGED, nodes=touched(updated=moved_ids))
            await change_log.record(connection, owner_id, workflow_id, version, entry)
            counts = ChangeCounts(created=0, updated=len(moved_ids), deleted=0)
            return AppliedChanges(version, GraphChanges(nodes=counts, edges=NO_CHANGES.edges))
    version = await workflows.lock_workflow(connection, owner_id, workflow_id)
    if precondition is not None and not precondition.matches(version):
        raise await change_log.version_mismatch(connection, workflow_id, precondition, version)
    if changes.is_empty():
        return AppliedChanges(version, NO_CHANGES)
    stored = await change_repository.load_state(connection, workflow_id, changes)
    with collector_paused():
        drafted = change_set.draft(changes, stored)
    asked = drafted.facts_graph(changes)
    facts = NO_FACTS
    if asked.nodes or asked.edges or asked.node_ids:
        facts = await repository.stored_facts(connection, owner_id, workflow_id, asked)
    plan = change_set.plan(changes, stored, drafted, facts, limits)
    written = await change_repository.apply_plan(connection, workflow_id, plan)
    applied = change_set.changes_of(plan, *written)
    if not applied.changed_anything():
        return AppliedChanges(version, NO_CHANGES)
    version = await workflows.bump_version(connection, owner_id, workflow_id, precondition)
    entry = change_set.change_entry(plan, *written)
    await change_log.record(connection, owner_id, workflow_id, version, entry)
    return AppliedChanges(version, applied)
