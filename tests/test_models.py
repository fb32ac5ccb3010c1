"""SPEC-003 acceptance criteria on the ORM: defaults, JSONB, locking, soft delete, graph rules."""

import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine, delete, text
from sqlalchemy.exc import DataError, IntegrityError, InvalidRequestError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, select

from service.shared_models import ModelProvider, NodeType, ToolType
from service.tables import Agent, Edge, Node, Tool, User, Workflow

# Factories


def make_user(session: Session) -> User:
    """A new user row."""
    user = User(id=uuid.uuid4())
    session.add(user)
    session.flush()
    return user


def make_workflow(session: Session, owner: User | None = None, **fields: Any) -> Workflow:
    """A new workflow (of a new user unless one is given)."""
    owner = owner or make_user(session)
    workflow = Workflow(owner_id=owner.id, **{"name": "flow", **fields})
    session.add(workflow)
    session.flush()
    return workflow


def make_node(
    session: Session, workflow: Workflow, node_type: NodeType = NodeType.ADAPTER, **fields: Any
) -> Node:
    """A new node of `workflow`."""
    node = Node(workflow_id=workflow.id, node_type=node_type, **{"name": "step", **fields})
    session.add(node)
    session.flush()
    return node


def make_edge(session: Session, source: Node, target: Node, **fields: Any) -> Edge:
    """A new edge from `source` to `target`, in the source's workflow unless told otherwise."""
    edge = Edge(
        workflow_id=fields.pop("workflow_id", source.workflow_id),
        source_node_id=source.id,
        target_node_id=target.id,
        **fields,
    )
    session.add(edge)
    session.flush()
    return edge


def make_tool(session: Session, owner: User, **fields: Any) -> Tool:
    """A new HTTP tool of `owner`."""
    tool = Tool(owner_id=owner.id, **{"name": "fetch", "tool_type": ToolType.HTTP, **fields})
    session.add(tool)
    session.flush()
    return tool


def make_agent(session: Session, owner: User, **fields: Any) -> Agent:
    """A new Anthropic agent of `owner`."""
    defaults = {
        "name": "analyst",
        "model_provider": ModelProvider.ANTHROPIC,
        "model_name": "claude-sonnet-4-5",
    }
    agent = Agent(owner_id=owner.id, **{**defaults, **fields})
    session.add(agent)
    session.flush()
    return agent


def select_live(model: Any) -> Any:
    """SELECT of `model`'s rows that are not in the trash."""
    return select(model).where(model.deleted_at.is_(None))


def count(session: Session, table: str, where: str, **params: Any) -> int:
    """How many rows of `table` match `where`, counted by SQL (not the identity map)."""
    sql = f"SELECT count(*) FROM {table} WHERE {where}"
    return int(session.execute(text(sql), params).scalar_one())


def constraint_violated(error: pytest.ExceptionInfo[IntegrityError]) -> str | None:
    """The name of the constraint PostgreSQL reported."""
    return error.value.orig.diag.constraint_name  # type: ignore[union-attr]


def explain(session: Session, sql: str, **params: Any) -> str:
    """The plan of `sql` with sequential scans discouraged, so tiny tables still use indexes."""
    session.execute(text("SET LOCAL enable_seqscan = off"))
    rows = session.execute(text(f"EXPLAIN {sql}"), params)
    return "\n".join(row[0] for row in rows)


@pytest.fixture
def committed_owner(engine: Engine) -> Iterator[User]:
    """A user committed for real (for tests needing several transactions), deleted after."""
    user = User(id=uuid.uuid4())
    with Session(engine) as session:
        session.add(user)
        session.commit()
        session.refresh(user)
    yield user
    with engine.begin() as connection:
        connection.execute(delete(User).where(User.id == user.id))  # cascades to workflows


def commit_workflow(engine: Engine, owner: User) -> uuid.UUID:
    """Commit a new workflow of `owner` in its own transaction and return its id."""
    with Session(engine) as session:
        workflow = Workflow(owner_id=owner.id, name="committed")
        session.add(workflow)
        session.commit()
        return workflow.id


# Workflows


def test_workflow_defaults(db_session: Session) -> None:
    """A new workflow has a UUID, empty JSON, is active at version 1, timestamped, not deleted."""
    workflow = make_workflow(db_session)
    db_session.refresh(workflow)
    assert isinstance(workflow.id, uuid.UUID)
    assert (workflow.config, workflow.variables) == ({}, {})
    assert workflow.is_active is True
    assert workflow.version == 1
    assert isinstance(workflow.created_at, datetime)
    assert isinstance(workflow.updated_at, datetime)
    assert workflow.created_at.tzinfo is not None
    assert workflow.deleted_at is None
    assert workflow.is_deleted is False


def test_workflow_server_defaults(db_session: Session) -> None:
    """A plain SQL insert gets the same defaults from the database itself."""
    owner = make_user(db_session)
    workflow_id = uuid.uuid4()
    db_session.execute(
        text("INSERT INTO workflows (id, owner_id, name) VALUES (:id, :owner, 'raw')"),
        {"id": workflow_id, "owner": owner.id},
    )
    row = db_session.execute(
        text(
            "SELECT config, variables, is_active, version, created_at, updated_at, deleted_at "
            "FROM workflows WHERE id = :id"
        ),
        {"id": workflow_id},
    ).one()
    assert row.config == {}
    assert row.variables == {}
    assert (row.is_active, row.version, row.deleted_at) == (True, 1, None)
    assert row.created_at is not None
    assert row.created_at == row.updated_at


def test_nested_config_round_trips(db_session: Session) -> None:
    """A nested JSONB document comes back exactly as stored."""
    config = {"retry": {"max": 3, "backoff": [1, 2, 4]}, "labels": {"team": "quant"}}
    workflow = make_workflow(db_session, config=config, variables={"symbol": "BTC"})
    db_session.expire_all()
    reloaded = db_session.get(Workflow, workflow.id)
    assert reloaded is not None
    assert reloaded.config == config
    assert reloaded.variables == {"symbol": "BTC"}


def test_config_is_queryable_by_inner_field(db_session: Session) -> None:
    """JSONB paths can be filtered on in SQL."""
    owner = make_user(db_session)
    three = make_workflow(db_session, owner, config={"retry": {"max": 3}, "a": {"b": "x"}})
    make_workflow(db_session, owner, config={"retry": {"max": 5}, "a": {"b": "y"}})
    mine = Workflow.owner_id == owner.id
    by_integer = select(Workflow).where(mine, Workflow.config["retry"]["max"].as_integer() == 3)
    by_text = select(Workflow).where(mine, Workflow.config["a"]["b"].astext == "x")
    assert [w.id for w in db_session.exec(by_integer)] == [three.id]
    assert [w.id for w in db_session.exec(by_text)] == [three.id]


def test_config_containment_query(db_session: Session) -> None:
    """The GIN-indexed @> operator finds workflows by a config fragment."""
    owner = make_user(db_session)
    matching = make_workflow(
        db_session, owner, config={"error_handling": "stop_on_first_error", "x": 1}
    )
    make_workflow(db_session, owner, config={"error_handling": "continue_on_error"})
    statement = select(Workflow).where(
        Workflow.owner_id == owner.id,
        Workflow.config.contains({"error_handling": "stop_on_first_error"}),
    )
    assert [w.id for w in db_session.exec(statement)] == [matching.id]


def test_deactivating_saves_and_moves_updated_at(engine: Engine, committed_owner: User) -> None:
    """An update in a later transaction refreshes updated_at (now() is per transaction)."""
    workflow_id = commit_workflow(engine, committed_owner)
    with Session(engine) as session:
        workflow = session.get(Workflow, workflow_id)
        assert workflow is not None
        workflow.is_active = False
        session.commit()
    with Session(engine) as session:
        saved = session.get(Workflow, workflow_id)
        assert saved is not None
        assert saved.is_active is False
        assert saved.updated_at > saved.created_at


def test_update_raises_version(db_session: Session) -> None:
    """Every ORM update of a workflow bumps its version by one."""
    workflow = make_workflow(db_session)
    assert workflow.version == 1
    workflow.name = "renamed"
    db_session.flush()
    assert workflow.version == 2
    workflow.is_active = False
    db_session.flush()
    stored = db_session.execute(
        text("SELECT version FROM workflows WHERE id = :id"), {"id": workflow.id}
    )
    assert stored.scalar_one() == 3


def test_concurrent_update_raises_stale_data(engine: Engine, committed_owner: User) -> None:
    """Two sessions edit version 1: the first wins, the second gets StaleDataError."""
    workflow_id = commit_workflow(engine, committed_owner)
    with Session(engine) as first, Session(engine) as second:
        mine = first.get(Workflow, workflow_id)
        theirs = second.get(Workflow, workflow_id)
        assert mine is not None
        assert theirs is not None
        mine.name = "first writer"
        first.commit()
        theirs.name = "second writer"
        with pytest.raises(StaleDataError):
            second.commit()
    with Session(engine) as session:
        saved = session.get(Workflow, workflow_id)
        assert saved is not None
        assert (saved.name, saved.version) == ("first writer", 2)


def stored_version(session: Session, workflow: Workflow) -> int:
    """The workflow's version as the database holds it."""
    query = text("SELECT version FROM workflows WHERE id = :id")
    return int(session.execute(query, {"id": workflow.id}).scalar_one())


def test_graph_changes_raise_the_workflow_version_once_per_flush(db_session: Session) -> None:
    """Creating, changing or deleting nodes and edges raises the version by one per flush."""
    workflow = make_workflow(db_session)
    source = make_node(db_session, workflow)
    assert (workflow.version, stored_version(db_session, workflow)) == (2, 2)
    target = Node(workflow_id=workflow.id, node_type=NodeType.ADAPTER, name="second")
    db_session.add(target)
    db_session.flush()
    edge = Edge(workflow_id=workflow.id, source_node_id=source.id, target_node_id=target.id)
    db_session.add(edge)
    source.name = "renamed"
    workflow.name = "renamed too"
    db_session.flush()
    assert stored_version(db_session, workflow) == 4
    db_session.delete(edge)
    db_session.flush()
    assert stored_version(db_session, workflow) == workflow.version == 5
    db_session.flush()
    source.name = source.name  # no change: no new version
    db_session.flush()
    assert stored_version(db_session, workflow) == 5


def test_a_new_workflow_with_its_graph_starts_at_version_one(db_session: Session) -> None:
    """Nodes added together with their new workflow leave it at version 1."""
    owner = make_user(db_session)
    workflow = Workflow(owner_id=owner.id, name="fresh")
    workflow.nodes = [Node(node_type=NodeType.ADAPTER, name="step")]
    db_session.add(workflow)
    db_session.flush()
    assert stored_version(db_session, workflow) == 1


def test_a_graph_change_conflicts_with_a_stale_workflow(engine: Engine) -> None:
    """A node change of a workflow another session changed meanwhile fails the flush."""
    with Session(engine) as first, Session(engine) as second:
        workflow = make_workflow(first)
        node = make_node(first, workflow)
        first.commit()
        second.get_one(Workflow, workflow.id).name = "changed elsewhere"
        second.commit()
        node.name = "stale"
        with pytest.raises(StaleDataError):
            first.commit()
        first.rollback()
        first.delete(first.get_one(Workflow, workflow.id))
        first.commit()


def test_soft_delete_hides_and_restore_brings_back(db_session: Session) -> None:
    """A soft-deleted workflow leaves the live rows but not the table; restore undoes it."""
    workflow = make_workflow(db_session)
    this_one = Workflow.id == workflow.id
    workflow.soft_delete()
    db_session.commit()
    db_session.expire_all()
    assert workflow.deleted_at is not None
    assert workflow.is_deleted is True
    assert db_session.exec(select_live(Workflow).where(this_one)).all() == []
    assert db_session.exec(select(Workflow).where(this_one)).all() == [workflow]

    workflow.restore()
    db_session.commit()
    db_session.expire_all()
    assert workflow.deleted_at is None
    assert workflow.is_deleted is False
    assert db_session.exec(select_live(Workflow).where(this_one)).all() == [workflow]


def test_soft_delete_keeps_the_row(db_session: Session) -> None:
    """Soft delete is an update, not a DELETE: the row and its graph stay in the table."""
    workflow = make_workflow(db_session)
    make_node(db_session, workflow)
    workflow.soft_delete()
    db_session.flush()
    assert count(db_session, "workflows", "id = :id", id=workflow.id) == 1
    assert count(db_session, "nodes", "workflow_id = :id", id=workflow.id) == 1


def test_deleting_the_owner_deletes_their_workflows(db_session: Session) -> None:
    """workflows.owner_id cascades on delete."""
    owner = make_user(db_session)
    workflow = make_workflow(db_session, owner)
    db_session.execute(delete(User).where(User.id == owner.id))
    assert count(db_session, "workflows", "id = :id", id=workflow.id) == 0


# Nodes


def test_node_defaults(db_session: Session) -> None:
    """A new node sits at 0,0 with a 300 s timeout and three retries one second apart."""
    node = make_node(db_session, make_workflow(db_session))
    db_session.refresh(node)
    assert (node.position_x, node.position_y) == (0.0, 0.0)
    assert node.timeout_seconds == 300
    assert node.retry_config == {"max_retries": 3, "delay": 1}
    assert node.config == {}
    assert node.input_schema is None
    assert node.output_schema is None
    assert node.tool_id is None
    assert node.agent_id is None
    assert node.created_at is not None
    assert node.updated_at is not None


def test_node_server_defaults(db_session: Session) -> None:
    """The database supplies the timeout, retry and config defaults to plain SQL inserts."""
    workflow = make_workflow(db_session)
    node_id = uuid.uuid4()
    db_session.execute(
        text(
            "INSERT INTO nodes (id, workflow_id, name, node_type, position_x, position_y) "
            "VALUES (:id, :workflow, 'raw', 'adapter', 0, 0)"
        ),
        {"id": node_id, "workflow": workflow.id},
    )
    row = db_session.execute(
        text("SELECT timeout_seconds, retry_config, config FROM nodes WHERE id = :id"),
        {"id": node_id},
    ).one()
    assert tuple(row) == (300, {"max_retries": 3, "delay": 1}, {})


@pytest.mark.parametrize("node_type", list(NodeType))
def test_each_node_type_persists(db_session: Session, node_type: NodeType) -> None:
    """All six node types are values of node_type_enum."""
    node = make_node(db_session, make_workflow(db_session), node_type)
    stored = db_session.execute(
        text("SELECT node_type::text FROM nodes WHERE id = :id"), {"id": node.id}
    )
    assert stored.scalar_one() == node_type.value
    db_session.expire_all()
    reloaded = db_session.get(Node, node.id)
    assert reloaded is not None
    assert reloaded.node_type is node_type


def test_node_type_outside_the_enum_is_refused(db_session: Session) -> None:
    """The enum type refuses anything else."""
    workflow = make_workflow(db_session)
    with pytest.raises(DataError, match="node_type_enum"):
        db_session.execute(
            text(
                "INSERT INTO nodes (id, workflow_id, name, node_type, position_x, position_y) "
                "VALUES (:id, :workflow, 'raw', 'teleporter', 0, 0)"
            ),
            {"id": uuid.uuid4(), "workflow": workflow.id},
        )


@pytest.mark.parametrize(("x", "y"), [(100.5, 200.75), (-320.25, -0.5), (-1e6, 1e6)])
def test_fractional_and_negative_positions_persist(db_session: Session, x: float, y: float) -> None:
    """Canvas positions are floats and may be negative."""
    node = make_node(db_session, make_workflow(db_session), position_x=x, position_y=y)
    db_session.expire_all()
    reloaded = db_session.get(Node, node.id)
    assert reloaded is not None
    assert (reloaded.position_x, reloaded.position_y) == (x, y)


def test_node_config_and_schemas_round_trip(db_session: Session) -> None:
    """Type-specific config and the I/O JSON schemas are stored as JSONB."""
    config = {"trigger_type": "schedule", "cron_expression": "0 9 * * 1-5", "timezone": "UTC"}
    schema = {"type": "object", "properties": {"price": {"type": "number"}}}
    node = make_node(
        db_session,
        make_workflow(db_session),
        NodeType.TRIGGER,
        config=config,
        output_schema=schema,
    )
    db_session.expire_all()
    reloaded = db_session.get(Node, node.id)
    assert reloaded is not None
    assert (reloaded.config, reloaded.output_schema) == (config, schema)


# Cascades


def build_graph(session: Session) -> tuple[Workflow, list[Node], list[Edge]]:
    """A workflow with 3 nodes and 5 edges (two of them between the same pair, other handles)."""
    workflow = make_workflow(session)
    a, b, c = (make_node(session, workflow, name=name) for name in "abc")
    edges = [
        make_edge(session, a, b),
        make_edge(session, a, b, source_handle="alt"),
        make_edge(session, b, c),
        make_edge(session, a, c),
        make_edge(session, c, a),
    ]
    return workflow, [a, b, c], edges


def test_orm_delete_of_workflow_removes_its_nodes_and_edges(db_session: Session) -> None:
    """session.delete(workflow) removes all 3 nodes and 5 edges."""
    workflow, _, _ = build_graph(db_session)
    assert count(db_session, "nodes", "workflow_id = :id", id=workflow.id) == 3
    assert count(db_session, "edges", "workflow_id = :id", id=workflow.id) == 5
    db_session.delete(workflow)
    db_session.flush()
    assert count(db_session, "workflows", "id = :id", id=workflow.id) == 0
    assert count(db_session, "nodes", "workflow_id = :id", id=workflow.id) == 0
    assert count(db_session, "edges", "workflow_id = :id", id=workflow.id) == 0


def test_orm_delete_of_freshly_loaded_workflow_removes_its_graph(db_session: Session) -> None:
    """The cascade also works on a workflow loaded from the database (graph via selectin)."""
    workflow, _, _ = build_graph(db_session)
    workflow_id = workflow.id
    db_session.expunge_all()
    loaded = db_session.get(Workflow, workflow_id)
    assert loaded is not None
    assert (len(loaded.nodes), len(loaded.edges)) == (3, 5)
    db_session.delete(loaded)
    db_session.flush()
    assert count(db_session, "nodes", "workflow_id = :id", id=workflow_id) == 0
    assert count(db_session, "edges", "workflow_id = :id", id=workflow_id) == 0


def test_sql_delete_of_workflow_cascades_in_the_database(db_session: Session) -> None:
    """A raw DELETE relies on ON DELETE CASCADE alone."""
    workflow, _, _ = build_graph(db_session)
    other, _, _ = build_graph(db_session)
    db_session.execute(text("DELETE FROM workflows WHERE id = :id"), {"id": workflow.id})
    assert count(db_session, "nodes", "workflow_id = :id", id=workflow.id) == 0
    assert count(db_session, "edges", "workflow_id = :id", id=workflow.id) == 0
    assert count(db_session, "nodes", "workflow_id = :id", id=other.id) == 3
    assert count(db_session, "edges", "workflow_id = :id", id=other.id) == 5


def node_with_three_edges(session: Session) -> tuple[Node, Edge]:
    """A node with 2 outgoing and 1 incoming edges, plus one edge that does not touch it."""
    workflow = make_workflow(session)
    hub, a, b, c = (make_node(session, workflow, name=name) for name in ("hub", "a", "b", "c"))
    make_edge(session, hub, a)
    make_edge(session, hub, b)
    make_edge(session, c, hub)
    return hub, make_edge(session, a, b)


def test_orm_delete_of_node_removes_its_edges(db_session: Session) -> None:
    """Deleting a node removes its 2 outgoing and 1 incoming edges, and no others."""
    hub, untouched = node_with_three_edges(db_session)
    touching = "source_node_id = :id OR target_node_id = :id"
    assert count(db_session, "edges", touching, id=hub.id) == 3
    db_session.delete(hub)
    db_session.flush()
    assert count(db_session, "edges", touching, id=hub.id) == 0
    assert count(db_session, "edges", "id = :id", id=untouched.id) == 1


def test_orm_delete_of_node_with_loaded_edges_removes_them(db_session: Session) -> None:
    """With its edge collections loaded, deleting a node still removes them."""
    hub, untouched = node_with_three_edges(db_session)
    hub_id = hub.id
    db_session.expunge_all()
    statement = (
        select(Node)
        .where(Node.id == hub_id)
        .options(selectinload(Node.outgoing_edges), selectinload(Node.incoming_edges))
    )
    loaded = db_session.exec(statement).one()
    assert (len(loaded.outgoing_edges), len(loaded.incoming_edges)) == (2, 1)
    db_session.delete(loaded)
    db_session.flush()
    touching = "source_node_id = :id OR target_node_id = :id"
    assert count(db_session, "edges", touching, id=hub_id) == 0
    assert count(db_session, "edges", "id = :id", id=untouched.id) == 1


# Edges


def test_edge_defaults(db_session: Session) -> None:
    """A new edge has priority 0, no handles, condition or label, and a creation time."""
    workflow = make_workflow(db_session)
    edge = make_edge(db_session, make_node(db_session, workflow), make_node(db_session, workflow))
    db_session.refresh(edge)
    assert edge.priority == 0
    assert isinstance(edge.created_at, datetime)
    assert (edge.source_handle, edge.target_handle, edge.condition, edge.label) == (
        None,
        None,
        None,
        None,
    )


def test_edge_handles_condition_and_label_are_stored(db_session: Session) -> None:
    """Handles, condition, priority and label round-trip."""
    workflow = make_workflow(db_session)
    check = make_node(
        db_session, workflow, NodeType.CONDITION, config={"condition_expression": "x"}
    )
    edge = make_edge(
        db_session,
        check,
        make_node(db_session, workflow),
        source_handle="true",
        target_handle="input",
        condition={"type": "expression", "value": "x > 1"},
        priority=5,
        label="when high",
    )
    db_session.expire_all()
    reloaded = db_session.get(Edge, edge.id)
    assert reloaded is not None
    assert (reloaded.source_handle, reloaded.target_handle) == ("true", "input")
    assert reloaded.condition == {"type": "expression", "value": "x > 1"}
    assert (reloaded.priority, reloaded.label) == (5, "when high")


def test_same_nodes_with_different_handles_are_allowed(db_session: Session) -> None:
    """A condition's true and false branches may both lead to the same node."""
    workflow = make_workflow(db_session)
    source, target = make_node(db_session, workflow), make_node(db_session, workflow)
    make_edge(db_session, source, target, source_handle="true")
    make_edge(db_session, source, target, source_handle="false")
    make_edge(db_session, source, target)
    assert count(db_session, "edges", "source_node_id = :id", id=source.id) == 3


@pytest.mark.parametrize(
    "handles",
    [{"source_handle": "out", "target_handle": "in"}, {}],
    ids=["with-handles", "null-handles"],
)
def test_duplicate_connection_is_rejected(db_session: Session, handles: dict[str, str]) -> None:
    """The same nodes and handles twice violate uq_edge_connection, NULL handles included."""
    workflow = make_workflow(db_session)
    source, target = make_node(db_session, workflow), make_node(db_session, workflow)
    make_edge(db_session, source, target, **handles)
    with pytest.raises(IntegrityError) as error:
        make_edge(db_session, source, target, **handles)
    assert constraint_violated(error) == "uq_edge_connection"


def test_reverse_direction_is_not_a_duplicate(db_session: Session) -> None:
    """B->A is a different connection than A->B (cycles are the validator's business)."""
    workflow = make_workflow(db_session)
    a, b = make_node(db_session, workflow), make_node(db_session, workflow)
    make_edge(db_session, a, b)
    make_edge(db_session, b, a)
    assert count(db_session, "edges", "workflow_id = :id", id=workflow.id) == 2


def test_self_loop_is_rejected(db_session: Session) -> None:
    """An edge from a node to itself violates ck_no_self_loop."""
    node = make_node(db_session, make_workflow(db_session))
    with pytest.raises(IntegrityError) as error:
        make_edge(db_session, node, node)
    assert constraint_violated(error) == "ck_no_self_loop"


def test_edge_to_a_node_of_another_workflow_is_rejected(db_session: Session) -> None:
    """The composite foreign key keeps the target inside the edge's workflow."""
    owner = make_user(db_session)
    here, there = make_workflow(db_session, owner), make_workflow(db_session, owner)
    with pytest.raises(IntegrityError) as error:
        make_edge(db_session, make_node(db_session, here), make_node(db_session, there))
    assert constraint_violated(error) == "fk_edges_target_node"


def test_edge_in_a_workflow_other_than_its_source_is_rejected(db_session: Session) -> None:
    """The composite foreign key keeps the source inside the edge's workflow too."""
    owner = make_user(db_session)
    here, there = make_workflow(db_session, owner), make_workflow(db_session, owner)
    with pytest.raises(IntegrityError) as error:
        make_edge(
            db_session,
            make_node(db_session, there),
            make_node(db_session, here),
            workflow_id=here.id,
        )
    assert constraint_violated(error) == "fk_edges_source_node"


# Relationships


def test_workflow_nodes_and_edges_load_with_the_workflow(db_session: Session) -> None:
    """workflow.nodes and workflow.edges are loaded (selectin) with the workflow."""
    workflow, nodes, edges = build_graph(db_session)
    db_session.expunge_all()
    loaded = db_session.exec(select(Workflow).where(Workflow.id == workflow.id)).one()
    assert {node.id for node in loaded.nodes} == {node.id for node in nodes}
    assert {edge.id for edge in loaded.edges} == {edge.id for edge in edges}


def test_node_workflow_with_explicit_loading(db_session: Session) -> None:
    """node.workflow is available when asked for with selectinload."""
    workflow = make_workflow(db_session, name="parent")
    node = make_node(db_session, workflow)
    db_session.expunge_all()
    statement = select(Node).where(Node.id == node.id).options(selectinload(Node.workflow))
    loaded = db_session.exec(statement).one()
    assert loaded.workflow.id == workflow.id
    assert loaded.workflow.name == "parent"


def test_edge_nodes_with_explicit_loading(db_session: Session) -> None:
    """edge.source_node and edge.target_node load on request."""
    workflow = make_workflow(db_session)
    source = make_node(db_session, workflow, name="source")
    target = make_node(db_session, workflow, name="target")
    edge = make_edge(db_session, source, target)
    db_session.expunge_all()
    statement = (
        select(Edge)
        .where(Edge.id == edge.id)
        .options(
            selectinload(Edge.source_node),
            selectinload(Edge.target_node),
            selectinload(Edge.workflow),
        )
    )
    loaded = db_session.exec(statement).one()
    assert (loaded.source_node.name, loaded.target_node.name) == ("source", "target")
    assert loaded.workflow.id == workflow.id


def test_node_edge_collections_with_explicit_loading(db_session: Session) -> None:
    """node.outgoing_edges and node.incoming_edges list the right edges."""
    hub, untouched = node_with_three_edges(db_session)
    hub_id = hub.id
    db_session.expunge_all()
    statement = (
        select(Node)
        .where(Node.id == hub_id)
        .options(selectinload(Node.outgoing_edges), selectinload(Node.incoming_edges))
    )
    loaded = db_session.exec(statement).one()
    assert len(loaded.outgoing_edges) == 2
    assert all(edge.source_node_id == hub_id for edge in loaded.outgoing_edges)
    assert len(loaded.incoming_edges) == 1
    assert loaded.incoming_edges[0].target_node_id == hub_id
    assert untouched.id not in {e.id for e in loaded.outgoing_edges + loaded.incoming_edges}


def test_appending_a_node_sets_its_workflow_id(db_session: Session) -> None:
    """workflow.nodes.append(node) then commit fills in node.workflow_id."""
    workflow = make_workflow(db_session)
    node = Node(name="appended", node_type=NodeType.ADAPTER)
    workflow.nodes.append(node)
    db_session.commit()
    assert node.workflow_id == workflow.id
    assert count(db_session, "nodes", "id = :id AND workflow_id = :w", id=node.id, w=workflow.id)


def test_removing_a_node_from_the_collection_deletes_it(db_session: Session) -> None:
    """delete-orphan: a node taken out of workflow.nodes is deleted."""
    workflow = make_workflow(db_session)
    node = make_node(db_session, workflow)
    db_session.refresh(workflow)
    workflow.nodes.remove(node)
    db_session.flush()
    assert count(db_session, "nodes", "id = :id", id=node.id) == 0


def test_accidental_lazy_load_fails_loudly(db_session: Session) -> None:
    """Touching node.workflow without loading it raises instead of issuing hidden SQL."""
    node = make_node(db_session, make_workflow(db_session))
    db_session.expunge_all()
    loaded = db_session.get(Node, node.id)
    assert loaded is not None
    with pytest.raises(InvalidRequestError, match="raise_on_sql"):
        _ = loaded.workflow
    with pytest.raises(InvalidRequestError, match="raise_on_sql"):
        _ = loaded.outgoing_edges


def test_accidental_lazy_load_of_edge_nodes_fails_loudly(db_session: Session) -> None:
    """edge.source_node is raise_on_sql as well."""
    workflow = make_workflow(db_session)
    edge = make_edge(db_session, make_node(db_session, workflow), make_node(db_session, workflow))
    db_session.expunge_all()
    loaded = db_session.get(Edge, edge.id)
    assert loaded is not None
    with pytest.raises(InvalidRequestError, match="raise_on_sql"):
        _ = loaded.source_node


# Indexes in use


def scans_index(plan: str, index: str) -> bool:
    """Whether the plan reads through `index` (plain, index-only or bitmap scan)."""
    return (
        re.search(rf"(Index|Index Only|Bitmap Index) Scan (using|on) {index}\b", plan) is not None
    )


def plan_without(session: Session, sql: str, twins: tuple[str, ...], **params: Any) -> str:
    """The plan of `sql` after running the `twins` DROP statements in the test transaction.

    Indexes sharing a leading column tie on cost for tiny tables, and statistics gathered by
    autovacuum after other tests can tip the planner either way; dropping the twins (rolled
    back with the test) isolates the index under test.
    """
    for statement in twins:
        session.execute(text(statement))
    return explain(session, sql, **params)


WORKFLOWS_BY_OWNER = "SELECT * FROM workflows WHERE owner_id = :owner"
NODES_BY_WORKFLOW = "SELECT * FROM nodes WHERE workflow_id = :w"


def test_owner_lookup_uses_an_owner_index(db_session: Session) -> None:
    """Listing an owner's workflows is an index scan on idx_workflows_owner."""
    make_workflow(db_session)
    plan = explain(db_session, WORKFLOWS_BY_OWNER, owner=uuid.uuid4())
    assert scans_index(plan, "idx_workflows_owner"), plan


def test_workflow_nodes_lookup_uses_a_workflow_index(db_session: Session) -> None:
    """Loading a workflow's nodes is an index scan on a workflow_id-first index."""
    make_node(db_session, make_workflow(db_session))
    plan = explain(db_session, NODES_BY_WORKFLOW, w=uuid.uuid4())
    workflow_indexes = ("idx_nodes_workflow", "idx_nodes_type", "uq_nodes_workflow_id_id")
    assert any(scans_index(plan, index) for index in workflow_indexes), plan


def test_workflow_nodes_lookup_can_use_idx_nodes_workflow(db_session: Session) -> None:
    """idx_nodes_workflow serves a workflow's nodes on its own."""
    make_node(db_session, make_workflow(db_session))
    twins = (
        "DROP INDEX idx_nodes_type",
        "ALTER TABLE edges DROP CONSTRAINT fk_edges_source_node, "
        "DROP CONSTRAINT fk_edges_target_node",
        "ALTER TABLE nodes DROP CONSTRAINT uq_nodes_workflow_id_id",
    )
    plan = plan_without(db_session, NODES_BY_WORKFLOW, twins, w=uuid.uuid4())
    assert scans_index(plan, "idx_nodes_workflow"), plan


def test_workflow_edges_lookup_uses_idx_edges_workflow(db_session: Session) -> None:
    """Loading a workflow's edges uses the workflow index of edges (its only such index)."""
    plan = explain(db_session, "SELECT * FROM edges WHERE workflow_id = :w", w=uuid.uuid4())
    assert scans_index(plan, "idx_edges_workflow"), plan


# Users, tools, agents


def test_user_has_a_creation_time(db_session: Session) -> None:
    """A user row is just an id and a creation time."""
    user = make_user(db_session)
    db_session.refresh(user)
    assert isinstance(user.created_at, datetime)


def test_tool_defaults(db_session: Session) -> None:
    """A new tool is active, at version 1, with empty config and not deleted."""
    tool = make_tool(db_session, make_user(db_session))
    db_session.refresh(tool)
    assert (tool.is_active, tool.version, tool.config, tool.description) == (True, 1, {}, None)
    assert tool.tool_type is ToolType.HTTP
    assert tool.created_at is not None
    assert tool.updated_at is not None
    assert tool.is_deleted is False


def test_agent_defaults(db_session: Session) -> None:
    """A new agent is active, at version 1, with empty config and not deleted."""
    agent = make_agent(db_session, make_user(db_session))
    db_session.refresh(agent)
    assert (agent.is_active, agent.version, agent.config) == (True, 1, {})
    assert (agent.model_provider, agent.model_name) == (
        ModelProvider.ANTHROPIC,
        "claude-sonnet-4-5",
    )
    assert agent.is_deleted is False


@pytest.mark.parametrize("tool_type", list(ToolType))
def test_each_tool_type_persists(db_session: Session, tool_type: ToolType) -> None:
    """All tool types are values of tool_type_enum."""
    tool = make_tool(db_session, make_user(db_session), tool_type=tool_type)
    stored = db_session.execute(
        text("SELECT tool_type::text FROM tools WHERE id = :id"), {"id": tool.id}
    )
    assert stored.scalar_one() == tool_type.value


@pytest.mark.parametrize("provider", list(ModelProvider))
def test_each_model_provider_persists(db_session: Session, provider: ModelProvider) -> None:
    """All model providers are values of model_provider_enum."""
    agent = make_agent(db_session, make_user(db_session), model_provider=provider)
    stored = db_session.execute(
        text("SELECT model_provider::text FROM agents WHERE id = :id"), {"id": agent.id}
    )
    assert stored.scalar_one() == provider.value


@pytest.mark.parametrize("make_entry", [make_tool, make_agent], ids=["tool", "agent"])
def test_registry_update_raises_version(db_session: Session, make_entry: Any) -> None:
    """Tools and agents are optimistically locked like workflows."""
    entry = make_entry(db_session, make_user(db_session))
    entry.description = "now described"
    db_session.flush()
    assert entry.version == 2


@pytest.mark.parametrize("model", [Tool, Agent])
def test_registry_soft_delete_and_restore(db_session: Session, model: Any) -> None:
    """Tools and agents go to the trash and come back like workflows."""
    owner = make_user(db_session)
    entry = make_tool(db_session, owner) if model is Tool else make_agent(db_session, owner)
    this_one = model.id == entry.id
    entry.soft_delete()
    db_session.flush()
    assert entry.is_deleted is True
    assert db_session.exec(select_live(model).where(this_one)).all() == []
    assert db_session.exec(select(model).where(this_one)).all() == [entry]
    entry.restore()
    db_session.flush()
    assert db_session.exec(select_live(model).where(this_one)).all() == [entry]


def test_tool_node_references_its_tool(db_session: Session) -> None:
    """A tool node stores the tool it calls."""
    owner = make_user(db_session)
    tool = make_tool(db_session, owner)
    node = make_node(db_session, make_workflow(db_session, owner), NodeType.TOOL, tool_id=tool.id)
    db_session.expire_all()
    reloaded = db_session.get(Node, node.id)
    assert reloaded is not None
    assert reloaded.tool_id == tool.id


def test_deleting_a_tool_clears_node_tool_id(db_session: Session) -> None:
    """ON DELETE SET NULL: the node survives with tool_id NULL."""
    owner = make_user(db_session)
    tool = make_tool(db_session, owner)
    node = make_node(db_session, make_workflow(db_session, owner), NodeType.TOOL, tool_id=tool.id)
    db_session.execute(delete(Tool).where(Tool.id == tool.id))
    stored = db_session.execute(text("SELECT tool_id FROM nodes WHERE id = :id"), {"id": node.id})
    assert stored.one() == (None,)


def test_deleting_an_agent_clears_node_agent_id(db_session: Session) -> None:
    """ON DELETE SET NULL: the node survives with agent_id NULL."""
    owner = make_user(db_session)
    agent = make_agent(db_session, owner)
    node = make_node(
        db_session, make_workflow(db_session, owner), NodeType.AGENT, agent_id=agent.id
    )
    db_session.execute(delete(Agent).where(Agent.id == agent.id))
    stored = db_session.execute(text("SELECT agent_id FROM nodes WHERE id = :id"), {"id": node.id})
    assert stored.one() == (None,)


def test_node_cannot_reference_a_missing_tool(db_session: Session) -> None:
    """tool_id is a real foreign key."""
    with pytest.raises(IntegrityError) as error:
        make_node(db_session, make_workflow(db_session), NodeType.TOOL, tool_id=uuid.uuid4())
    assert constraint_violated(error) == "nodes_tool_id_fkey"
