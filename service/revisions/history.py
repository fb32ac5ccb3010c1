"""When a revision is recorded: after a write, unless the latest revision holds the content.

Graph saves, duplicates, checkpoints, publishing and restores call `record_revision` in their
own transaction, with the workflow locked, once the working copy is what they wrote.
"""

import uuid
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection

from service.graph.repository import RenderedGraph
from service.revisions import repository as revisions
from service.revisions.models import RevisionCreate, RevisionOrigin
from service.revisions.repository import StoredRevision


@dataclass(frozen=True)
class RevisionRequest:
    """What a write records: the origin, the message, and how many revisions to keep."""

    origin: RevisionOrigin
    keep: int
    revision_in: RevisionCreate = field(default_factory=RevisionCreate)


async def record_revision(
    connection: AsyncConnection[Any],
    workflow_id: uuid.UUID,
    author_id: uuid.UUID,
    working_copy: RenderedGraph,
    request: RevisionRequest,
) -> StoredRevision:
    """Store the working copy as a revision unless the latest holds it; prune beyond `keep`.

    The same content as the latest revision stores nothing and answers that revision.
    """
    stored = await revisions.record(
        connection, workflow_id, author_id, working_copy, request.origin, request.revision_in
    )
    if stored.created:
        await revisions.prune(connection, workflow_id, request.keep)
    return stored
