"""Every table class, and the ORM's version rule; import this module to use the ORM.

SQLModel.metadata (Alembic, the ORM mappers) knows every table once this module is imported.
"""

import uuid
from collections.abc import Iterable
from itertools import chain
from typing import Any

from sqlalchemy import event, func, inspect
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.orm.attributes import set_attribute

from service.changes.models import Change
from service.graph.edges.models import Edge
from service.graph.nodes.models import Node
from service.registry.models import Agent, Tool
from service.revisions.models import Revision
from service.users.models import User
from service.workflows.models import Workflow

__all__ = ["Agent", "Change", "Edge", "Node", "Revision", "Tool", "User", "Workflow"]


def changed_workflow_ids(session: Session) -> set[uuid.UUID]:
    """The workflows whose nodes or edges this flush creates, changes or deletes."""
    ids: set[uuid.UUID] = set()
    items: Iterable[Any] = chain(session.new, session.dirty, session.deleted)
    for item in items:
        if not isinstance(item, Node | Edge):
            continue
        if item in session.dirty and not session.is_modified(item):
            continue
        history = inspect(item).attrs.workflow_id.history
        ids.update(chain(history.added, history.unchanged, history.deleted))
    return ids


@event.listens_for(Session, "before_flush")
def raise_versions_of_changed_workflows(
    session: Session, _context: UOWTransaction, _instances: object
) -> None:
    """A flush that changes a workflow's graph raises that workflow's version once, as the API does.

    Touching updated_at makes the flush UPDATE the workflow row, and its mapper's version_id_col
    raises the version in that one UPDATE, also when the workflow row changes itself.
    """
    for workflow_id in changed_workflow_ids(session):
        workflow = session.get(Workflow, workflow_id)
        if workflow is not None and workflow not in session.new and workflow not in session.deleted:
            set_attribute(workflow, "updated_at", func.now())
