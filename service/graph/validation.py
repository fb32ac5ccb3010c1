"""Workflow validation report: structural and reference checks over nodes and edges."""

import uuid
from collections.abc import Sequence, Set
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from sqlmodel import Field, SQLModel

from service.graph.dag import find_cycle, reachable_from, topological_layers

TRIGGER = "trigger"
CONDITION = "condition"
TOOL = "tool"
AGENT = "agent"
# Node types whose job is a side effect or a result, so ending a branch there is fine.
TERMINAL_NODE_TYPES = frozenset({TOOL, AGENT, "adapter", "aggregator"})


class Severity(StrEnum):
    """How bad a validation issue is; only errors make a workflow invalid."""

    ERROR = "error"
    WARNING = "warning"


class IssueCode(StrEnum):
    """Stable machine-readable issue codes."""

    NO_TRIGGER = "NO_TRIGGER"
    CYCLE_DETECTED = "CYCLE_DETECTED"
    UNREACHABLE_NODE = "UNREACHABLE_NODE"
    MISSING_TOOL = "MISSING_TOOL"
    MISSING_AGENT = "MISSING_AGENT"
    MISSING_CONFIG = "MISSING_CONFIG"
    INVALID_HANDLE = "INVALID_HANDLE"
    TRIGGER_HAS_INPUT = "TRIGGER_HAS_INPUT"
    DANGLING_NODE = "DANGLING_NODE"
    DEAD_END = "DEAD_END"


class ValidationIssue(SQLModel):
    """One problem found in a workflow, pointing at the nodes and edges involved."""

    severity: Severity
    code: IssueCode
    message: str
    node_ids: list[uuid.UUID] = Field(default_factory=list)
    edge_ids: list[uuid.UUID] = Field(default_factory=list)


class ValidationReport(SQLModel):
    """Validation outcome with the execution order of a workflow."""

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "is_valid": False,
                    "topological_order": [
                        "0b7c6f3e-1d2a-4c5b-9e8f-7a6b5c4d3e2f",
                        "5f4e3d2c-1b0a-4987-8654-3210fedcba98",
                    ],
                    "layers": [
                        ["0b7c6f3e-1d2a-4c5b-9e8f-7a6b5c4d3e2f"],
                        ["5f4e3d2c-1b0a-4987-8654-3210fedcba98"],
                    ],
                    "issues": [
                        {
                            "severity": "error",
                            "code": "MISSING_TOOL",
                            "message": 'Tool node "Send digest" has no tool selected.',
                            "node_ids": ["5f4e3d2c-1b0a-4987-8654-3210fedcba98"],
                            "edge_ids": [],
                        }
                    ],
                }
            ]
        }
    }

    is_valid: bool
    topological_order: list[uuid.UUID] = Field(default_factory=list)
    layers: list[list[uuid.UUID]] = Field(default_factory=list)
    issues: list[ValidationIssue] = Field(default_factory=list)


class ReportNode(Protocol):
    """Workflow node as seen by the validator."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def name(self) -> str: ...
    @property
    def node_type(self) -> str: ...
    @property
    def config(self) -> dict[str, Any]: ...
    @property
    def tool_id(self) -> uuid.UUID | None: ...
    @property
    def agent_id(self) -> uuid.UUID | None: ...


class ReportEdge(Protocol):
    """Workflow edge as seen by the validator."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def source_node_id(self) -> uuid.UUID: ...
    @property
    def target_node_id(self) -> uuid.UUID: ...
    @property
    def source_handle(self) -> str | None: ...
    @property
    def target_handle(self) -> str | None: ...


@dataclass
class _Graph:
    """Nodes plus the edges between them, indexed by node id."""

    nodes: Sequence[ReportNode]
    edges: list[ReportEdge]
    incoming: dict[uuid.UUID, list[ReportEdge]] = field(default_factory=dict)
    outgoing: dict[uuid.UUID, list[ReportEdge]] = field(default_factory=dict)

    @classmethod
    def build(cls, nodes: Sequence[ReportNode], edges: Sequence[ReportEdge]) -> "_Graph":
        """Index the edges whose endpoints are both among ``nodes``; ignore the rest."""
        node_ids = {node.id for node in nodes}
        known = [e for e in edges if e.source_node_id in node_ids and e.target_node_id in node_ids]
        graph = cls(nodes, known)
        for edge in known:
            graph.outgoing.setdefault(edge.source_node_id, []).append(edge)
            graph.incoming.setdefault(edge.target_node_id, []).append(edge)
        return graph

    def node_ids(self) -> list[uuid.UUID]:
        """Node ids in input order."""
        return [node.id for node in self.nodes]

    def pairs(self) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """Edges as (source, target) id pairs."""
        return [(edge.source_node_id, edge.target_node_id) for edge in self.edges]


def _node_type(node: ReportNode) -> str:
    """The node type as a plain string value."""
    # A (str, Enum) member stringifies to "Class.MEMBER", so prefer its value.
    return str(getattr(node.node_type, "value", node.node_type))


def _is_blank(value: Any) -> bool:
    """Whether a config value counts as missing: None or a whitespace-only string."""
    return value is None or (isinstance(value, str) and not value.strip())


def _error(
    code: IssueCode,
    message: str,
    *,
    node: ReportNode | None = None,
    edge_ids: Sequence[uuid.UUID] = (),
) -> ValidationIssue:
    """An error issue about at most one node and any number of edges."""
    return ValidationIssue(
        severity=Severity.ERROR,
        code=code,
        message=message,
        node_ids=[node.id] if node is not None else [],
        edge_ids=list(edge_ids),
    )


def _warning(code: IssueCode, message: str, *, node: ReportNode) -> ValidationIssue:
    """A warning issue about one node."""
    return ValidationIssue(
        severity=Severity.WARNING, code=code, message=message, node_ids=[node.id]
    )


def _check_triggers(graph: _Graph) -> list[ValidationIssue]:
    """NO_TRIGGER, or UNREACHABLE_NODE for nodes no trigger leads to."""
    trigger_ids = [node.id for node in graph.nodes if _node_type(node) == TRIGGER]
    if not trigger_ids:
        return [_error(IssueCode.NO_TRIGGER, "The workflow has no trigger node.")]
    reachable = reachable_from(trigger_ids, graph.pairs())
    return [
        _error(
            IssueCode.UNREACHABLE_NODE,
            f'Node "{node.name}" is not reachable from a trigger.',
            node=node,
        )
        for node in graph.nodes
        if node.id not in reachable
    ]


def _check_references(
    graph: _Graph, usable_tool_ids: Set[uuid.UUID], usable_agent_ids: Set[uuid.UUID]
) -> list[ValidationIssue]:
    """MISSING_TOOL and MISSING_AGENT for nodes whose tool or agent is unset or unusable."""
    issues: list[ValidationIssue] = []
    for node in graph.nodes:
        node_type = _node_type(node)
        if node_type == TOOL:
            issues += _missing_reference(
                IssueCode.MISSING_TOOL, node, node.tool_id, usable_tool_ids
            )
        elif node_type == AGENT:
            issues += _missing_reference(
                IssueCode.MISSING_AGENT, node, node.agent_id, usable_agent_ids
            )
    return issues


def _missing_reference(
    code: IssueCode, node: ReportNode, referenced_id: uuid.UUID | None, usable_ids: Set[uuid.UUID]
) -> list[ValidationIssue]:
    """The issue for a tool or agent node whose reference is unset or not usable, if any."""
    kind = _node_type(node)
    if referenced_id is None:
        message = f'{kind.capitalize()} node "{node.name}" has no {kind} selected.'
    elif referenced_id not in usable_ids:
        message = (
            f'{kind.capitalize()} node "{node.name}" uses a {kind} that is missing or inactive.'
        )
    else:
        return []
    return [_error(code, message, node=node)]


def _check_config(graph: _Graph) -> list[ValidationIssue]:
    """MISSING_CONFIG for triggers without a trigger_type and conditions without an expression."""
    required_key = {TRIGGER: "trigger_type", CONDITION: "condition_expression"}
    issues: list[ValidationIssue] = []
    for node in graph.nodes:
        key = required_key.get(_node_type(node))
        if key is not None and _is_blank(node.config.get(key)):
            message = f'Node "{node.name}" is missing the "{key}" setting.'
            issues.append(_error(IssueCode.MISSING_CONFIG, message, node=node))
    return issues


def _check_condition_handles(graph: _Graph) -> list[ValidationIssue]:
    """INVALID_HANDLE for edges leaving a condition through neither its true nor false handle."""
    issues: list[ValidationIssue] = []
    for node in graph.nodes:
        if _node_type(node) != CONDITION:
            continue
        allowed = {
            str(node.config.get("true_handle") or "true"),
            str(node.config.get("false_handle") or "false"),
        }
        for edge in graph.outgoing.get(node.id, []):
            if edge.source_handle not in allowed:
                message = (
                    f'Edge leaving condition "{node.name}" uses handle {edge.source_handle!r}, '
                    f"expected one of {sorted(allowed)}."
                )
                issues.append(
                    _error(IssueCode.INVALID_HANDLE, message, node=node, edge_ids=[edge.id])
                )
    return issues


def _check_trigger_inputs(graph: _Graph) -> list[ValidationIssue]:
    """TRIGGER_HAS_INPUT for triggers that are the target of an edge."""
    issues: list[ValidationIssue] = []
    for node in graph.nodes:
        incoming = graph.incoming.get(node.id, [])
        if _node_type(node) == TRIGGER and incoming:
            message = f'Trigger "{node.name}" must not have incoming edges.'
            edge_ids = [edge.id for edge in incoming]
            issues.append(
                _error(IssueCode.TRIGGER_HAS_INPUT, message, node=node, edge_ids=edge_ids)
            )
    return issues


def _check_dangling(graph: _Graph) -> list[ValidationIssue]:
    """DANGLING_NODE warnings for unconnected nodes, unless the workflow is a single node."""
    if len(graph.nodes) < 2:
        return []
    return [
        _warning(IssueCode.DANGLING_NODE, f'Node "{node.name}" is not connected.', node=node)
        for node in graph.nodes
        if node.id not in graph.incoming and node.id not in graph.outgoing
    ]


def _check_dead_ends(graph: _Graph) -> list[ValidationIssue]:
    """DEAD_END warnings for reached nodes whose type needs a successor but has none.

    Tool, agent, adapter and aggregator nodes may end a branch; a trigger or condition (or
    any unknown type) with incoming edges and no outgoing edge leads nowhere.
    """
    return [
        _warning(IssueCode.DEAD_END, f'Node "{node.name}" leads nowhere.', node=node)
        for node in graph.nodes
        if node.id in graph.incoming
        and node.id not in graph.outgoing
        and _node_type(node) not in TERMINAL_NODE_TYPES
    ]


def _execution_order(graph: _Graph) -> tuple[list[list[uuid.UUID]], list[ValidationIssue]]:
    """Topological layers, or no layers and a CYCLE_DETECTED issue when the graph has a cycle."""
    cycle = find_cycle(graph.node_ids(), graph.pairs())
    if cycle is None:
        return topological_layers(graph.node_ids(), graph.pairs()), []
    names = {node.id: node.name for node in graph.nodes}
    cycle_text = " -> ".join(f'"{names[node_id]}"' for node_id in cycle)
    issue = ValidationIssue(
        severity=Severity.ERROR,
        code=IssueCode.CYCLE_DETECTED,
        message=f"The workflow contains a cycle: {cycle_text}.",
        node_ids=list(dict.fromkeys(cycle)),
    )
    return [], [issue]


def build_report(
    nodes: Sequence[ReportNode],
    edges: Sequence[ReportEdge],
    *,
    usable_tool_ids: Set[uuid.UUID],
    usable_agent_ids: Set[uuid.UUID],
    warn_dead_ends: bool = False,
) -> ValidationReport:
    """Validate a workflow and report its issues, topological order and layers."""
    graph = _Graph.build(nodes, edges)
    layers, issues = _execution_order(graph)
    issues += _check_triggers(graph)
    issues += _check_references(graph, usable_tool_ids, usable_agent_ids)
    issues += _check_config(graph)
    issues += _check_condition_handles(graph)
    issues += _check_trigger_inputs(graph)
    issues += _check_dangling(graph)
    if warn_dead_ends:
        issues += _check_dead_ends(graph)
    return ValidationReport(
        is_valid=all(issue.severity != Severity.ERROR for issue in issues),
        topological_order=[node_id for layer in layers for node_id in layer],
        layers=layers,
        issues=issues,
    )
