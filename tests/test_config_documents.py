"""Typed JSONB documents: what the create schemas accept and refuse (no database)."""

import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from service.config_documents import ConditionConfig
from service.graph.edges.models import EdgeCreate
from service.graph.nodes.models import NodeCreate
from service.shared_models import MAX_JSON_DEPTH, NodeType
from service.workflows.models import WorkflowCreate

GOOD_CRON = "0 9 * * 1-5"


def node(node_type: str = "adapter", **fields: Any) -> NodeCreate:
    """A NodeCreate of `node_type` with a name and whatever else is given."""
    return NodeCreate(name=fields.pop("name", "step"), node_type=node_type, **fields)


def trigger(**config: Any) -> NodeCreate:
    """A schedule trigger node with extra config."""
    return node("trigger", config={"trigger_type": "schedule", **config})


def edge(**fields: Any) -> EdgeCreate:
    """An EdgeCreate between two fresh node ids."""
    return EdgeCreate(source_node_id=uuid.uuid4(), target_node_id=uuid.uuid4(), **fields)


def nested(depth: int) -> dict[str, Any]:
    """A JSON object nested `depth` objects deep."""
    document: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        document = {"child": document}
    return document


# Workflow config


def test_workflow_config_accepts_known_keys_and_keeps_unknown_ones() -> None:
    """Known keys are validated and unknown keys survive untouched."""
    config = {
        "timeout": 3600,
        "retry_policy": "exponential",
        "max_concurrent_nodes": 5,
        "error_handling": "stop_on_first_error",
        "ui": {"zoom": 1.5},
    }
    assert WorkflowCreate(name="flow", config=config).config == config


@pytest.mark.parametrize("timeout", [0, -1, 7 * 24 * 3600 + 1])
def test_workflow_config_rejects_out_of_range_timeout(timeout: int) -> None:
    """A timeout must be between one second and one week."""
    with pytest.raises(ValidationError, match="timeout"):
        WorkflowCreate(name="flow", config={"timeout": timeout})


def test_workflow_config_rejects_unknown_retry_policy() -> None:
    """retry_policy is one of none, fixed, exponential."""
    with pytest.raises(ValidationError, match="retry_policy"):
        WorkflowCreate(name="flow", config={"retry_policy": "sometimes"})


# Trigger config


def test_trigger_accepts_cron_and_iana_timezone() -> None:
    """A weekday 9 o'clock schedule in Seoul is a valid trigger."""
    created = trigger(cron_expression=GOOD_CRON, timezone="Asia/Seoul")
    assert created.config == {
        "trigger_type": "schedule",
        "cron_expression": GOOD_CRON,
        "timezone": "Asia/Seoul",
    }


@pytest.mark.parametrize("cron", ["61 * * * *", "not cron", "* * *"])
def test_trigger_rejects_invalid_cron(cron: str) -> None:
    """Cron expressions croniter cannot parse are refused."""
    with pytest.raises(ValidationError, match="not a valid cron expression"):
        trigger(cron_expression=cron)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../etc/passwd", ""])
def test_trigger_rejects_unknown_timezone(zone: str) -> None:
    """Only IANA time zone names are accepted."""
    with pytest.raises(ValidationError, match="not an IANA time zone"):
        trigger(timezone=zone)


def test_trigger_rejects_unknown_trigger_type() -> None:
    """trigger_type is one of manual, schedule, event, webhook."""
    with pytest.raises(ValidationError, match="trigger_type"):
        node("trigger", config={"trigger_type": "telepathy"})


# Retry config


def test_retry_config_accepts_a_full_policy() -> None:
    """Every documented retry key within range is kept."""
    retry = {"max_retries": 5, "delay": 1, "backoff_multiplier": 2, "max_delay": 60}
    assert node(retry_config=retry).retry_config == retry


@pytest.mark.parametrize(
    ("retry_config", "field"),
    [
        ({"max_retries": 11}, "max_retries"),
        ({"max_retries": -1}, "max_retries"),
        ({"delay": -1}, "delay"),
        ({"backoff_multiplier": 0.5}, "backoff_multiplier"),
        ({"delay": 10, "max_delay": 5}, "max_delay must be at least delay"),
    ],
)
def test_retry_config_rejects_out_of_range_values(retry_config: dict[str, Any], field: str) -> None:
    """Retry counts, delays and multipliers are bounded."""
    with pytest.raises(ValidationError, match=field):
        node(retry_config=retry_config)


# Condition config and edge conditions


def test_condition_handles_default_to_true_and_false() -> None:
    """Without explicit handles a condition routes through "true" and "false"."""
    config = ConditionConfig.model_validate({"condition_expression": "x > 1"})
    assert (config.true_handle, config.false_handle) == ("true", "false")


def test_condition_node_keeps_custom_handles() -> None:
    """Handles the client names are stored as given."""
    config = {
        "condition_expression": "{{ output.price > 50000 }}",
        "true_handle": "high_price",
        "false_handle": "low_price",
    }
    assert node("condition", config=config).config == config


def test_condition_node_rejects_empty_handle() -> None:
    """A handle name cannot be empty."""
    with pytest.raises(ValidationError, match="true_handle"):
        node("condition", config={"condition_expression": "x", "true_handle": ""})


def test_edge_condition_accepts_type_and_value() -> None:
    """An expression condition keeps its type and value."""
    condition = {"type": "expression", "value": "{{ source_output.status == 'success' }}"}
    assert edge(condition=condition).condition == condition


@pytest.mark.parametrize("condition", [{"type": "sometimes"}, {"value": "x > 1"}])
def test_edge_condition_rejects_missing_or_unknown_type(condition: dict[str, Any]) -> None:
    """An edge condition needs a known type."""
    with pytest.raises(ValidationError, match="type"):
        edge(condition=condition)


# Node-type requirements


@pytest.mark.parametrize(
    ("node_type", "message"),
    [
        ("tool", "a tool node needs tool_id"),
        ("agent", "an agent node needs agent_id"),
        ("trigger", "a trigger node needs config.trigger_type"),
        ("condition", "a condition node needs config.condition_expression"),
    ],
)
def test_node_type_requirement_missing_is_rejected(node_type: str, message: str) -> None:
    """Tool, agent, trigger and condition nodes each need one thing to be runnable."""
    with pytest.raises(ValidationError, match=message):
        node(node_type)


@pytest.mark.parametrize(
    ("node_type", "fields"),
    [
        ("tool", {"tool_id": uuid.uuid4()}),
        ("agent", {"agent_id": uuid.uuid4()}),
        ("trigger", {"config": {"trigger_type": "manual"}}),
        ("condition", {"config": {"condition_expression": "x > 1"}}),
        ("adapter", {}),
        ("aggregator", {}),
    ],
)
def test_node_type_requirement_met_is_accepted(node_type: str, fields: dict[str, Any]) -> None:
    """With its requirement met, every node type validates."""
    assert node(node_type, **fields).node_type is NodeType(node_type)


# What PostgreSQL cannot store


def test_nul_in_name_is_rejected() -> None:
    """PostgreSQL text cannot hold NUL characters."""
    with pytest.raises(ValidationError, match="NUL characters"):
        node(name="bad\x00name")


@pytest.mark.parametrize(
    "config", [{"note": "bad\x00value"}, {"bad\x00key": 1}, {"list": ["ok", "bad\x00"]}]
)
def test_nul_inside_config_json_is_rejected(config: dict[str, Any]) -> None:
    """NUL characters are refused in JSON keys and values, however deep."""
    with pytest.raises(ValidationError, match="NUL characters"):
        node(config=config)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_in_json_are_rejected(number: str) -> None:
    """jsonb has no NaN or Infinity."""
    body = f'{{"name": "step", "node_type": "adapter", "config": {{"x": {number}}}}}'
    with pytest.raises(ValidationError, match="NaN and Infinity"):
        NodeCreate.model_validate_json(body)


def test_nan_in_workflow_variables_is_rejected() -> None:
    """Free-form workflow variables obey the same JSON rules."""
    with pytest.raises(ValidationError, match="NaN and Infinity"):
        WorkflowCreate(name="flow", variables={"x": float("nan")})


def test_json_nested_40_deep_is_rejected() -> None:
    """Deeply nested documents are refused before they reach the database."""
    with pytest.raises(ValidationError, match="nested deeper"):
        node(config=nested(40))


def test_json_nested_within_limit_is_accepted() -> None:
    """Nesting up to the limit is fine."""
    assert node(config=nested(MAX_JSON_DEPTH)).config == nested(MAX_JSON_DEPTH)
