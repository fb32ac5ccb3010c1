"""Every table class, imported so that SQLModel.metadata (Alembic, ORM mappers) has them all."""

from service.graph.edges.models import Edge
from service.graph.nodes.models import Node
from service.registry.models import Agent, Tool
from service.users.models import User
from service.workflows.models import Workflow

__all__ = ["Agent", "Edge", "Node", "Tool", "User", "Workflow"]
