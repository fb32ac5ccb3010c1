"""Tests for the workflow validation report in service.graph.validation."""

import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from service.graph.validation import (
    Severity,
    ValidationIssue,
    ValidationReport,
    build_report,
)


@dataclass(frozen=True)
class FakeNode:
    name: str
    node_type: str
    config: dict[str, Any] = field(default_factory=dict)
    tool_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True)
class FakeEdge:
    source_node_id: uuid.UUID
    target_node_id: uuid.UUID
    source_handle: str | None = None
    target_handle: str | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)


TOOL_ID = uuid.uuid4()
AGENT_ID = uuid.uuid4()


def trigger(name: str = "Every morning") -> FakeNode:
    return FakeNode(name, "trigger", {"trigger_type": "schedule"})


def condition(name: str = "Is weekday?", **config: Any) -> FakeNode:
    return FakeNode(name, "condition", {"condition_expression": "weekday < 5", **config})


def tool(name: str = "Send mail", tool_id: uuid.UUID | None = TOOL_ID) -> FakeNode:
    return FakeNode(name, "tool", tool_id=tool_id)


def agent(name: str = "Summarise", agent_id: uuid.UUID | None = AGENT_ID) -> FakeNode:
    return FakeNode(name, "agent", agent_id=agent_id)


def link(source: FakeNode, target: FakeNode, handle: str | None = None) -> FakeEdge:
    return FakeEdge(source.id, target.id, source_handle=handle)


def report(
    nodes: list[FakeNode], edges: list[FakeEdge], *, warn_dead_ends: bool = False
) -> ValidationReport:
    return build_report(
        nodes,
        edges,
        usable_tool_ids={TOOL_ID},
        usable_agent_ids={AGENT_ID},
        warn_dead_ends=warn_dead_ends,
    )


def issues_with(result: ValidationReport, code: str) -> list[ValidationIssue]:
    return [issue for issue in result.issues if issue.code == code]


def codes(result: ValidationReport) -> list[str]:
    return [issue.code for issue in result.issues]


def test_clean_workflow_has_no_issues() -> None:
    start, check, mail, summary = trigger(), condition(), tool(), agent()
    edges = [link(start, check), link(check, mail, "true"), link(check, summary, "false")]
    result = report([start, check, mail, summary], edges, warn_dead_ends=True)
    assert result.issues == []
    assert result.is_valid
    assert result.topological_order == [start.id, check.id, mail.id, summary.id]
    assert result.layers == [[start.id], [check.id], [mail.id, summary.id]]


def test_custom_condition_handles_are_accepted() -> None:
    start, check, mail = trigger(), condition(true_handle="yes", false_handle="no"), tool()
    edges = [link(start, check), link(check, mail, "yes"), link(check, mail, "no")]
    assert report([start, check, mail], edges).issues == []


def test_single_trigger_is_valid_without_dangling_warning() -> None:
    result = report([trigger()], [])
    assert result.issues == []
    assert result.is_valid


def test_no_trigger() -> None:
    mail = tool()
    result = report([mail], [])
    [issue] = issues_with(result, "NO_TRIGGER")
    assert issue.severity == Severity.ERROR
    assert issue.node_ids == []
    assert "UNREACHABLE_NODE" not in codes(result)
    assert not result.is_valid


def test_empty_workflow_has_no_trigger() -> None:
    assert codes(report([], [])) == ["NO_TRIGGER"]


def test_cycle_detected_empties_order_and_layers() -> None:
    start, first, second = trigger(), tool("First"), tool("Second")
    edges = [link(start, first), link(first, second), link(second, first)]
    result = report([start, first, second], edges)
    [issue] = issues_with(result, "CYCLE_DETECTED")
    assert set(issue.node_ids) == {first.id, second.id}
    assert len(issue.node_ids) == 2
    assert result.topological_order == []
    assert result.layers == []
    assert not result.is_valid


def test_unreachable_node_per_node() -> None:
    start, mail, lonely_a, lonely_b = trigger(), tool(), tool("A"), tool("B")
    edges = [link(start, mail), link(lonely_a, lonely_b)]
    result = report([start, mail, lonely_a, lonely_b], edges)
    unreachable = issues_with(result, "UNREACHABLE_NODE")
    assert [issue.node_ids for issue in unreachable] == [[lonely_a.id], [lonely_b.id]]
    assert '"A"' in unreachable[0].message


def test_missing_tool_when_unset_or_unusable() -> None:
    start, unset, deleted = trigger(), tool("Unset", tool_id=None), tool("Gone", uuid.uuid4())
    edges = [link(start, unset), link(start, deleted)]
    missing = issues_with(report([start, unset, deleted], edges), "MISSING_TOOL")
    assert [issue.node_ids for issue in missing] == [[unset.id], [deleted.id]]


def test_missing_agent_when_unset_or_unusable() -> None:
    start, unset, deleted = trigger(), agent("Unset", None), agent("Gone", uuid.uuid4())
    edges = [link(start, unset), link(start, deleted)]
    missing = issues_with(report([start, unset, deleted], edges), "MISSING_AGENT")
    assert [issue.node_ids for issue in missing] == [[unset.id], [deleted.id]]


def test_missing_config_for_trigger_and_condition() -> None:
    start = FakeNode("Start", "trigger", {"trigger_type": ""})
    check = FakeNode("Check", "condition", {"condition_expression": None})
    mail = tool()
    edges = [link(start, check), link(check, mail, "true")]
    missing = issues_with(report([start, check, mail], edges), "MISSING_CONFIG")
    assert [issue.node_ids for issue in missing] == [[start.id], [check.id]]


def test_missing_config_when_key_absent() -> None:
    start = FakeNode("Start", "trigger", {})
    assert codes(report([start], [])) == ["MISSING_CONFIG"]


def test_invalid_handle_on_condition_edges() -> None:
    start, check, mail, summary = trigger(), condition(), tool(), agent()
    wrong, missing = link(check, mail, "maybe"), link(check, summary, None)
    edges = [link(start, check), wrong, missing]
    invalid = issues_with(report([start, check, mail, summary], edges), "INVALID_HANDLE")
    assert [issue.edge_ids for issue in invalid] == [[wrong.id], [missing.id]]
    assert all(issue.node_ids == [check.id] for issue in invalid)


def test_trigger_has_input() -> None:
    start, mail = trigger(), tool()
    forward, back = link(start, mail), link(mail, start)
    result = report([start, mail], [forward, back])
    [issue] = issues_with(result, "TRIGGER_HAS_INPUT")
    assert issue.node_ids == [start.id]
    assert issue.edge_ids == [back.id]


def test_dangling_node_is_a_warning() -> None:
    start, mail, lonely = trigger(), tool(), tool("Lonely")
    result = report([start, mail, lonely], [link(start, mail)])
    [issue] = issues_with(result, "DANGLING_NODE")
    assert issue.severity == Severity.WARNING
    assert issue.node_ids == [lonely.id]


def test_dead_end_only_when_asked() -> None:
    start, check = trigger(), condition()
    nodes, edges = [start, check], [link(start, check)]
    assert "DEAD_END" not in codes(report(nodes, edges))
    [issue] = issues_with(report(nodes, edges, warn_dead_ends=True), "DEAD_END")
    assert issue.severity == Severity.WARNING
    assert issue.node_ids == [check.id]


def test_terminal_types_are_not_dead_ends() -> None:
    start = trigger()
    ends = [tool(), agent(), FakeNode("Adapt", "adapter"), FakeNode("Gather", "aggregator")]
    edges = [link(start, end) for end in ends]
    assert codes(report([start, *ends], edges, warn_dead_ends=True)) == []


def test_warnings_alone_keep_workflow_valid() -> None:
    result = report([trigger(), trigger("Second trigger")], [])
    assert codes(result) == ["DANGLING_NODE", "DANGLING_NODE"]
    assert result.is_valid


def test_parallel_edges_are_fine() -> None:
    start, mail = trigger(), tool()
    result = report([start, mail], [link(start, mail), link(start, mail)])
    assert result.issues == []
    assert result.layers == [[start.id], [mail.id]]


def test_node_type_may_be_an_enum() -> None:
    class NodeType(StrEnum):
        TRIGGER = "trigger"
        TOOL = "tool"

    start = FakeNode("Start", NodeType.TRIGGER, {"trigger_type": "manual"})
    mail = FakeNode("Mail", NodeType.TOOL, tool_id=None)
    assert codes(report([start, mail], [link(start, mail)])) == ["MISSING_TOOL"]


def test_report_schema_has_example() -> None:
    schema = ValidationReport.model_json_schema()
    example = schema["examples"][0]
    assert ValidationReport.model_validate(example).issues[0].code == "MISSING_TOOL"
