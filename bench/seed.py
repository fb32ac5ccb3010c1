"""Benchmark data written straight into PostgreSQL (generate_series and COPY: seconds)."""

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

WORKFLOW_CONFIG = json.dumps(
    {"timeout": 3600, "retry_policy": "fixed", "error_handling": "stop_on_first_error"}
)
WORKFLOW_VARIABLES = json.dumps({"symbol": "BTC-USD", "threshold": 0.05, "tags": ["bench"]})
WORKFLOW_DESCRIPTION = "Seeded by the benchmark: a workflow of realistic size and shape."
BACKGROUND_USERS = 100
BACKGROUND_WORKFLOWS_PER_USER = 100
# Seeded edges join node s to node s + k for k = 1, 2, ... (so every graph is a DAG); POSTed
# edges (W4) use k >= FRESH_EDGE_MIN_STEP and so never collide with seeded ones.
FRESH_EDGE_MIN_STEP = 6
SEEDED_VIEWPORT = {"x": 0.0, "y": 0.0, "zoom": 1.0}  # the column's default: a PUT keeps it


@dataclass
class Graph:
    """A seeded workflow with its nodes (in creation order) and edges (as node indexes)."""

    workflow_id: uuid.UUID
    node_ids: list[uuid.UUID]
    edges: list[tuple[uuid.UUID, int, int]]

    @property
    def size(self) -> str:
        """`nodes/edges`, e.g. `100/150`."""
        return f"{len(self.node_ids)}/{len(self.edges)}"

    def put_body(self) -> dict[str, Any]:
        """The PUT /graph body an editor would save for this graph (same ids, same layout)."""
        return {
            "nodes": [
                {"id": str(node_id), **node_fields(index)}
                for index, node_id in enumerate(self.node_ids)
            ],
            "edges": [
                {
                    "id": str(edge_id),
                    "source_node_id": str(self.node_ids[source]),
                    "target_node_id": str(self.node_ids[target]),
                }
                for edge_id, source, target in self.edges
            ],
        }

    def reactflow_body(self) -> dict[str, Any]:
        """The same body in React Flow's format (what its `toObject()` gives), viewport kept."""
        plain = self.put_body()
        nodes = [
            {
                "id": node["id"],
                "type": node["node_type"],
                "position": {"x": node["position_x"], "y": node["position_y"]},
                "data": {"name": node["name"], "config": node["config"]},
            }
            for node in plain["nodes"]
        ]
        edges = [
            {"id": edge["id"], "source": edge["source_node_id"], "target": edge["target_node_id"]}
            for edge in plain["edges"]
        ]
        return {"nodes": nodes, "edges": edges, "viewport": SEEDED_VIEWPORT}


@dataclass
class SeedData:
    """Ids of everything the workloads touch."""

    owner_id: uuid.UUID = field(default_factory=uuid.uuid4)
    list_owner_id: uuid.UUID = field(default_factory=uuid.uuid4)
    create_owner_id: uuid.UUID = field(default_factory=uuid.uuid4)
    small_workflow_ids: list[uuid.UUID] = field(default_factory=list)
    read_graph: Graph | None = None
    patch_graphs: list[Graph] = field(default_factory=list)
    edge_graphs: list[Graph] = field(default_factory=list)
    put_graphs: list[Graph] = field(default_factory=list)
    put_small_graph: Graph | None = None
    large_graph: Graph | None = None
    list_workflow_count: int = 0
    revision_put_graphs: list[Graph] = field(default_factory=list)
    revision_list_workflow_id: uuid.UUID | None = None
    diff_workflow_id: uuid.UUID | None = None
    published_graph: Graph | None = None


def node_fields(index: int) -> dict[str, Any]:
    """Name, type, position and config of the index-th node of a seeded graph."""
    if index == 0:
        node_type, config = "trigger", {"trigger_type": "manual"}
    elif index % 2:
        node_type, config = "adapter", {"transform_script": "return input"}
    else:
        node_type, config = "aggregator", {"aggregation_type": "merge"}
    return {
        "name": f"node-{index}",
        "node_type": node_type,
        "position_x": 250.0 * (index % 20),
        "position_y": 120.0 * (index // 20),
        "config": config,
    }


def edge_pairs(node_count: int, edge_count: int) -> list[tuple[int, int]]:
    """The first `edge_count` pairs (s, s + k), by step k then source s."""
    pairs: list[tuple[int, int]] = []
    step = 1
    while len(pairs) < edge_count:
        if step >= FRESH_EDGE_MIN_STEP or step >= node_count:
            raise ValueError(f"{edge_count} edges do not fit {node_count} nodes")
        pairs += [(source, source + step) for source in range(node_count - step)]
        step += 1
    return pairs[:edge_count]


def insert_users(connection: psycopg.Connection[Any], user_ids: list[uuid.UUID]) -> None:
    """The users the workloads act as."""
    connection.execute("INSERT INTO users (id) SELECT unnest(%s::uuid[])", (user_ids,))


def insert_workflows(
    connection: psycopg.Connection[Any], owner_id: uuid.UUID, names: list[str]
) -> list[uuid.UUID]:
    """Workflows of one owner, newest last; returns their ids in `names` order."""
    ids = [uuid.uuid4() for _ in names]
    connection.execute(
        "INSERT INTO workflows (id, owner_id, name, description, config, variables, created_at,"
        " updated_at) SELECT id, %s, name, %s, %s::jsonb, %s::jsonb, ts, ts"
        " FROM unnest(%s::uuid[], %s::text[]) WITH ORDINALITY AS t(id, name, ordinal),"
        " LATERAL (SELECT now() - interval '1 day' + ordinal * interval '1 millisecond') AS c(ts)",
        (owner_id, WORKFLOW_DESCRIPTION, WORKFLOW_CONFIG, WORKFLOW_VARIABLES, ids, names),
    )
    return ids


def insert_background(connection: psycopg.Connection[Any]) -> None:
    """Other users' workflows, so that every query runs against a table of realistic size."""
    connection.execute(
        "WITH u AS (INSERT INTO users (id) SELECT gen_random_uuid() FROM generate_series(1, %s)"
        " RETURNING id)"
        " INSERT INTO workflows (id, owner_id, name, description, config, variables, created_at,"
        " updated_at)"
        " SELECT gen_random_uuid(), u.id, 'background ' || i, %s, %s::jsonb, %s::jsonb,"
        " now() - i * interval '1 minute', now() - i * interval '1 minute'"
        " FROM u CROSS JOIN generate_series(1, %s) AS i",
        (
            BACKGROUND_USERS,
            WORKFLOW_DESCRIPTION,
            WORKFLOW_CONFIG,
            WORKFLOW_VARIABLES,
            BACKGROUND_WORKFLOWS_PER_USER,
        ),
    )


def insert_graphs(
    connection: psycopg.Connection[Any],
    owner_id: uuid.UUID,
    name: str,
    count: int,
    node_count: int,
    edge_count: int,
) -> list[Graph]:
    """`count` workflows of `node_count` nodes and `edge_count` edges, written with COPY."""
    workflow_ids = insert_workflows(connection, owner_id, [f"{name} {i}" for i in range(count)])
    pairs = edge_pairs(node_count, edge_count)
    start = datetime.now(UTC) - timedelta(hours=1)
    graphs = []
    with connection.cursor() as cursor:
        with cursor.copy(
            "COPY nodes (id, workflow_id, name, node_type, position_x, position_y, config,"
            " created_at, updated_at) FROM STDIN"
        ) as copy:
            for workflow_id in workflow_ids:
                node_ids = [uuid.uuid4() for _ in range(node_count)]
                graphs.append(Graph(workflow_id, node_ids, []))
                for index, node_id in enumerate(node_ids):
                    fields = node_fields(index)
                    created = start + timedelta(microseconds=index)
                    copy.write_row(
                        (
                            node_id,
                            workflow_id,
                            fields["name"],
                            fields["node_type"],
                            fields["position_x"],
                            fields["position_y"],
                            json.dumps(fields["config"]),
                            created,
                            created,
                        )
                    )
        with cursor.copy(
            "COPY edges (id, workflow_id, source_node_id, target_node_id, created_at) FROM STDIN"
        ) as copy:
            for graph in graphs:
                for index, (source, target) in enumerate(pairs):
                    edge_id = uuid.uuid4()
                    graph.edges.append((edge_id, source, target))
                    copy.write_row(
                        (
                            edge_id,
                            graph.workflow_id,
                            graph.node_ids[source],
                            graph.node_ids[target],
                            start + timedelta(microseconds=index),
                        )
                    )
    return graphs


def seed(conninfo: str, clients: int, list_workflow_count: int = 10_000) -> SeedData:
    """Write every workload's data; `clients` is how many connections edit concurrently."""
    data = SeedData(list_workflow_count=list_workflow_count)
    with psycopg.connect(conninfo) as connection:
        insert_users(connection, [data.owner_id, data.list_owner_id, data.create_owner_id])
        insert_background(connection)
        data.small_workflow_ids = insert_workflows(
            connection, data.owner_id, [f"bench workflow {i}" for i in range(1000)]
        )
        insert_workflows(
            connection,
            data.list_owner_id,
            [f"listed workflow {i}" for i in range(list_workflow_count)],
        )
        owner = data.owner_id
        data.read_graph = insert_graphs(connection, owner, "read graph", 1, 100, 150)[0]
        data.patch_graphs = insert_graphs(connection, owner, "patch graph", clients, 100, 150)
        data.edge_graphs = insert_graphs(connection, owner, "edge graph", clients, 500, 2000)
        data.put_graphs = insert_graphs(connection, owner, "put graph", clients, 500, 2000)
        data.put_small_graph = insert_graphs(connection, owner, "put small", 1, 100, 150)[0]
        data.large_graph = insert_graphs(connection, owner, "large graph", 1, 5000, 7500)[0]
        insert_revision_data(connection, data, clients)
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE")
    return data


REVISION_LIST_LENGTH = 1000
# Seeded revisions: metadata only; the published graph's and the diffed ones' snapshots are
# built from their graphs' rows the way the service renders them (to_jsonb of each row).
SEEDED_REVISIONS = """
INSERT INTO revisions (workflow_id, number, version, author_id, origin, message, content_hash,
                       node_count, edge_count, snapshot)
SELECT %(workflow_id)s, n, n, %(owner_id)s, 'save', 'seeded', repeat(md5(n::text), 2),
       0, 0, '{}'::jsonb
FROM generate_series(1, %(count)s) AS n
"""
SNAPSHOT_REVISIONS = """
INSERT INTO revisions (workflow_id, number, version, author_id, origin, message, content_hash,
                       node_count, edge_count, snapshot)
SELECT %(workflow_id)s, v, v, %(owner_id)s, 'save', NULL, repeat(md5(v::text), 2),
       (SELECT count(*) FROM nodes WHERE workflow_id = %(graph_id)s),
       (SELECT count(*) FROM edges WHERE workflow_id = %(graph_id)s),
       to_jsonb(w) || jsonb_build_object(
         'is_deleted', false, 'published_revision', 1, 'has_unpublished_changes', false,
         'nodes', (SELECT jsonb_agg(to_jsonb(n) || CASE WHEN v = 2 AND n.position_x = 0
                                     THEN jsonb_build_object('name', n.name || ' v2')
                                     ELSE '{}'::jsonb END ORDER BY n.created_at, n.id)
                   FROM nodes n WHERE n.workflow_id = %(graph_id)s),
         'edges', (SELECT jsonb_agg(to_jsonb(e) ORDER BY e.created_at, e.id)
                   FROM edges e WHERE e.workflow_id = %(graph_id)s))
FROM workflows w, generate_series(1, %(count)s) AS v
WHERE w.id = %(graph_id)s
"""


def insert_revision_data(connection: psycopg.Connection[Any], data: SeedData, clients: int) -> None:
    """R1-R4: graphs saved with revisions, a long history, two large revisions, a published one."""
    owner = data.owner_id
    data.revision_put_graphs = insert_graphs(connection, owner, "revision put", clients, 500, 2000)
    data.revision_list_workflow_id, data.diff_workflow_id = insert_workflows(
        connection, owner, ["revision list", "diffed"]
    )
    values = {"workflow_id": data.revision_list_workflow_id, "owner_id": owner}
    connection.execute(SEEDED_REVISIONS, {**values, "count": REVISION_LIST_LENGTH})
    assert data.large_graph is not None
    large = {"graph_id": data.large_graph.workflow_id, "owner_id": owner, "count": 2}
    connection.execute(SNAPSHOT_REVISIONS, {**large, "workflow_id": data.diff_workflow_id})
    data.published_graph = insert_graphs(connection, owner, "published graph", 1, 100, 150)[0]
    published = data.published_graph.workflow_id
    connection.execute(
        SNAPSHOT_REVISIONS,
        {"graph_id": published, "workflow_id": published, "owner_id": owner, "count": 1},
    )
    connection.execute("UPDATE workflows SET published_revision = 1 WHERE id = %s", (published,))


def current_versions(conninfo: str, workflow_ids: list[uuid.UUID]) -> list[int]:
    """The workflows' versions (their ETags), in the order asked."""
    with psycopg.connect(conninfo) as connection:
        rows = connection.execute(
            "SELECT w.version FROM unnest(%s::uuid[]) WITH ORDINALITY AS t(id, ordinal)"
            " JOIN workflows w ON w.id = t.id ORDER BY t.ordinal",
            (workflow_ids,),
        ).fetchall()
    return [int(row[0]) for row in rows]


def remove_posted_edges(conninfo: str, graphs: list[Graph]) -> int:
    """Delete the edges W4 added, so that every W4 run starts from 500 nodes / 2,000 edges."""
    seeded = [edge_id for graph in graphs for edge_id, _source, _target in graph.edges]
    with psycopg.connect(conninfo) as connection:
        cursor = connection.execute(
            "DELETE FROM edges WHERE workflow_id = ANY(%s::uuid[]) AND NOT id = ANY(%s::uuid[])",
            ([graph.workflow_id for graph in graphs], seeded),
        )
        return cursor.rowcount
