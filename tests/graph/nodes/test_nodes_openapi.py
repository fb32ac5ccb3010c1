"""Node bodies in openapi.json: a union discriminated by node_type, each kind typed."""

import json
from typing import Any, get_args

import pytest

from service.config_documents import CONFIG_BY_NODE_TYPE
from service.graph.nodes.models import NodeCreate, node_variant
from service.shared_models import NodeType
from tests.live_server import PROJECT_ROOT

DOCUMENT = json.loads((PROJECT_ROOT / "openapi.json").read_text())
SCHEMAS = DOCUMENT["components"]["schemas"]
REF = "#/components/schemas/"


def create_body() -> dict[str, Any]:
    """The schema of POST /workflows/{id}/nodes."""
    operation = DOCUMENT["paths"]["/api/v1/workflows/{workflow_id}/nodes"]["post"]
    schema: dict[str, Any] = operation["requestBody"]["content"]["application/json"]["schema"]
    return schema


NODE_UNIONS = {
    "create body": create_body,
    "batch items": lambda: SCHEMAS["NodeBatchCreate"]["properties"]["nodes"]["items"],
    "graph save items": lambda: SCHEMAS["GraphIn"]["properties"]["nodes"]["items"],
}


def variants(union: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The union's variant schemas by node_type, checked to be its discriminator's mapping."""
    assert union["discriminator"]["propertyName"] == "node_type"
    mapping: dict[str, str] = union["discriminator"]["mapping"]
    assert sorted(mapping.values()) == sorted(item["$ref"] for item in union["oneOf"])
    return {kind: SCHEMAS[ref.removeprefix(REF)] for kind, ref in mapping.items()}


@pytest.mark.parametrize("where", NODE_UNIONS)
def test_node_bodies_are_unions_discriminated_by_node_type(where: str) -> None:
    by_type = variants(NODE_UNIONS[where]())
    assert set(by_type) == {kind.value for kind in NodeType}
    for kind, schema in by_type.items():
        assert schema["properties"]["node_type"]["const"] == kind
        assert "node_type" in schema["required"]


@pytest.mark.parametrize("where", NODE_UNIONS)
def test_each_node_kind_carries_its_requirements_and_typed_config(where: str) -> None:
    by_type = variants(NODE_UNIONS[where]())
    assert "tool_id" in by_type["tool"]["required"]
    assert by_type["tool"]["properties"]["tool_id"]["format"] == "uuid"
    assert "agent_id" in by_type["agent"]["required"]
    assert "tool_id" not in by_type["agent"]["required"]
    for kind, config_model in CONFIG_BY_NODE_TYPE.items():
        assert by_type[kind]["properties"]["config"]["$ref"] == REF + config_model.__name__
    trigger = SCHEMAS["TriggerConfig"]
    assert trigger["required"] == ["trigger_type"]
    assert {"cron_expression", "timezone"} <= set(trigger["properties"])
    assert set(SCHEMAS["TriggerType"]["enum"]) == {"manual", "schedule", "event", "webhook"}
    condition = SCHEMAS["ConditionConfig"]
    assert condition["required"] == ["condition_expression"]
    assert {"true_handle", "false_handle"} <= set(condition["properties"])
    assert all(SCHEMAS[m.__name__]["additionalProperties"] for m in CONFIG_BY_NODE_TYPE.values())


def test_variants_redeclare_only_node_type_and_config() -> None:
    for kind in NodeType:
        variant = node_variant(NodeCreate, kind)
        assert issubclass(variant, NodeCreate)
        assert set(variant.__annotations__) <= {"node_type", "config"}, kind
        assert get_args(variant.__annotations__["node_type"]) == (kind,)
        assert set(variant.model_fields) == set(NodeCreate.model_fields)


def test_the_patch_body_says_which_fields_apply_to_which_type() -> None:
    fields = SCHEMAS["NodeUpdate"]["properties"]
    assert "Tool nodes only" in fields["tool_id"]["description"]
    assert "Agent nodes only" in fields["agent_id"]["description"]
    for config_model in CONFIG_BY_NODE_TYPE.values():
        assert config_model.__name__ in fields["config"]["description"]
