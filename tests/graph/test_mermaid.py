"""Tests for the Mermaid rendering in service.graph.mermaid."""

import uuid
from dataclasses import dataclass, field

from service.graph.mermaid import escape_label, render_mermaid


@dataclass(frozen=True)
class FakeNode:
    name: str
    node_type: str
    id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True)
class FakeEdge:
    source_node_id: uuid.UUID
    target_node_id: uuid.UUID
    source_handle: str | None = None
    label: str | None = None


def test_condition_workflow_renders_exactly() -> None:
    start = FakeNode("Every morning", "trigger")
    check = FakeNode("Is weekday?", "condition")
    mail = FakeNode("Send mail", "tool")
    summary = FakeNode("Summarise", "agent")
    edges = [
        FakeEdge(start.id, check.id),
        FakeEdge(check.id, mail.id, source_handle="true"),
        FakeEdge(check.id, summary.id, source_handle="false", label="Weekend"),
    ]
    expected = """\
---
title: "Morning digest"
---
flowchart TD
    n1(["Every morning<br/><i>trigger</i>"])
    n2{"Is weekday?<br/><i>condition</i>"}
    n3["Send mail<br/><i>tool</i>"]
    n4[["Summarise<br/><i>agent</i>"]]
    n1 --> n2
    n2 -->|true| n3
    n2 -->|Weekend| n4
    classDef trigger fill:#e8f5e9,stroke:#2e7d32,color:#1b5e20
    classDef condition fill:#fff8e1,stroke:#f9a825,color:#5d4037
    classDef tool fill:#e3f2fd,stroke:#1565c0,color:#0d47a1
    classDef agent fill:#f3e5f5,stroke:#6a1b9a,color:#4a148c
    class n1 trigger
    class n2 condition
    class n3 tool
    class n4 agent
"""
    assert render_mermaid("Morning digest", [start, check, mail, summary], edges) == expected


def test_hostile_names_cannot_break_syntax() -> None:
    hostile = FakeNode('x"]) --> evil{<b>#1|%%', "adapter")
    gather = FakeNode("Gather", "aggregator")
    edge = FakeEdge(hostile.id, gather.id, label='a"b]|c')
    text = render_mermaid('Digest: "daily"\n---', [hostile, gather], [edge])
    assert text.splitlines()[:3] == ["---", 'title: "Digest: \\"daily\\" ---"', "---"]
    assert (
        '    n1[/"x#34;#93;#41; --#62; evil#123;#60;b#62;#35;1#124;#37;#37;<br/><i>adapter</i>"/]'
    ) in text
    assert '    n2{{"Gather<br/><i>aggregator</i>"}}' in text
    assert "    n1 -->|a#34;b#93;#124;c| n2" in text
    assert "    class n1 adapter" in text
    assert "    class n2 aggregator" in text


def test_escape_label_keeps_plain_text_and_collapses_whitespace() -> None:
    assert escape_label("Don't  stop,\nplease!") == "Don't stop, please!"
    assert escape_label("Café 3") == "Café 3"
    assert escape_label("<&>") == "#60;#38;#62;"


def test_grouped_classes_and_unknown_types() -> None:
    first, second = FakeNode("A", "tool"), FakeNode("B", "tool")
    odd = FakeNode("C", "custom")
    text = render_mermaid("T", [first, second, odd], [])
    assert '    n3["C<br/><i>custom</i>"]' in text
    assert "    class n1,n2 tool" in text
    assert "custom" not in text.split("classDef", 1)[1]


def test_edges_to_unknown_nodes_are_skipped() -> None:
    start = FakeNode("Start", "trigger")
    text = render_mermaid("T", [start], [FakeEdge(start.id, uuid.uuid4())])
    assert "-->" not in text


def test_output_does_not_depend_on_uuids() -> None:
    def render_fresh_graph() -> str:
        start, mail = FakeNode("Start", "trigger"), FakeNode("Mail", "tool")
        return render_mermaid("T", [start, mail], [FakeEdge(start.id, mail.id)])

    assert render_fresh_graph() == render_fresh_graph()
