"""The domain model: one SQLModel class hierarchy per entity, both table and API schema."""

from service.models.common import ExecutionStatus, ModelProvider, NodeType, ToolType, select_live
from service.models.edge import Edge, EdgeCreate, EdgePublic, EdgeUpdate
from service.models.node import Node, NodeCreate, NodePublic, NodeUpdate
from service.models.registry import (
    Agent,
    AgentCreate,
    AgentPublic,
    AgentUpdate,
    Tool,
    ToolCreate,
    ToolPublic,
    ToolUpdate,
)
from service.models.user import User, UserPublic
from service.models.workflow import Workflow, WorkflowCreate, WorkflowPublic, WorkflowUpdate

__all__ = [
    "Agent",
    "AgentCreate",
    "AgentPublic",
    "AgentUpdate",
    "Edge",
    "EdgeCreate",
    "EdgePublic",
    "EdgeUpdate",
    "ExecutionStatus",
    "ModelProvider",
    "Node",
    "NodeCreate",
    "NodePublic",
    "NodeType",
    "NodeUpdate",
    "Tool",
    "ToolCreate",
    "ToolPublic",
    "ToolType",
    "ToolUpdate",
    "User",
    "UserPublic",
    "Workflow",
    "WorkflowCreate",
    "WorkflowPublic",
    "WorkflowUpdate",
    "select_live",
]
