"""Typed JSONB documents: the known keys are validated, unknown keys are kept."""

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from annotated_types import Ge, Le
from croniter import croniter
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from service.shared_models import WHOLE_NUMBER, FiniteFloat, SafeStr, StrictInt, storable_json


class OpenDocument(BaseModel):
    """A JSON object whose extra keys are kept for forward compatibility."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)


class RetryPolicy(StrEnum):
    """How failed nodes are retried by default."""

    NONE = "none"
    FIXED = "fixed"
    EXPONENTIAL = "exponential"


class ErrorHandling(StrEnum):
    """What a workflow run does when a node fails."""

    STOP_ON_FIRST_ERROR = "stop_on_first_error"
    CONTINUE_ON_ERROR = "continue_on_error"
    ROLLBACK = "rollback"


class TriggerType(StrEnum):
    """What starts a workflow run."""

    MANUAL = "manual"
    SCHEDULE = "schedule"
    EVENT = "event"
    WEBHOOK = "webhook"


class AggregationType(StrEnum):
    """How an aggregator node combines its inputs."""

    MERGE = "merge"
    CONCAT = "concat"
    FIRST = "first"
    LAST = "last"


class EdgeConditionType(StrEnum):
    """When an edge is followed."""

    ALWAYS = "always"
    ON_SUCCESS = "on_success"
    ON_FAILURE = "on_failure"
    EXPRESSION = "expression"


def valid_cron(expression: str) -> str:
    """Refuse cron expressions that croniter cannot parse."""
    if not croniter.is_valid(expression):
        raise ValueError(f"not a valid cron expression: {expression!r}")
    return expression


def valid_timezone(name: str) -> str:
    """Refuse names that are not IANA time zones."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"not an IANA time zone: {name!r}") from error
    return name


class WorkflowConfig(OpenDocument):
    """Run-wide settings of a workflow."""

    timeout: Annotated[StrictInt, Ge(1), Le(7 * 24 * 3600), WHOLE_NUMBER] | None = None
    retry_policy: RetryPolicy | None = None
    max_concurrent_nodes: Annotated[StrictInt, Ge(1), Le(1000), WHOLE_NUMBER] | None = None
    error_handling: ErrorHandling | None = None


class RetryConfig(OpenDocument):
    """How often and how patiently a node is retried."""

    max_retries: Annotated[StrictInt, Ge(0), Le(10), WHOLE_NUMBER] = 3
    delay: Annotated[FiniteFloat, Ge(0), Le(86400)] = 1
    backoff_multiplier: Annotated[FiniteFloat, Ge(1), Le(100)] = 1
    max_delay: Annotated[FiniteFloat, Ge(0), Le(86400)] | None = None

    @model_validator(mode="after")
    def _max_delay_not_below_delay(self) -> Self:
        if self.max_delay is not None and self.max_delay < self.delay:
            raise ValueError("max_delay must be at least delay")
        return self


def required_in_schema(*names: str) -> Callable[[dict[str, Any]], None]:
    """A `json_schema_extra` that makes `names` required and not null in the schema."""

    def require(schema: dict[str, Any]) -> None:
        schema["required"] = list(dict.fromkeys([*schema.get("required", []), *names]))
        for name in names:
            field = schema["properties"][name]
            field.pop("default", None)
            branches = [branch for branch in field.pop("anyOf", []) if branch != {"type": "null"}]
            if len(branches) == 1:
                field.update(branches[0])
            elif branches:
                field["anyOf"] = branches

    return require


class TriggerConfig(OpenDocument):
    """Config of a trigger node; a trigger node needs `trigger_type`."""

    # The node checks the requirement (its message names the node type); the schema says it.
    model_config = ConfigDict(json_schema_extra=required_in_schema("trigger_type"))

    trigger_type: TriggerType | None = None
    cron_expression: Annotated[SafeStr, AfterValidator(valid_cron)] | None = None
    timezone: Annotated[SafeStr, AfterValidator(valid_timezone)] | None = None


class ConditionConfig(OpenDocument):
    """Config of a condition node: an expression (required) and its two outgoing handles."""

    model_config = ConfigDict(json_schema_extra=required_in_schema("condition_expression"))

    condition_expression: SafeStr | None = Field(default=None, json_schema_extra={"minLength": 1})
    true_handle: SafeStr = Field(default="true", min_length=1, max_length=50)
    false_handle: SafeStr = Field(default="false", min_length=1, max_length=50)


class AdapterConfig(OpenDocument):
    """Config of an adapter node: how its input is transformed."""

    transform_script: SafeStr | None = None


class AggregatorConfig(OpenDocument):
    """Config of an aggregator node."""

    aggregation_type: AggregationType | None = None


class EdgeCondition(OpenDocument):
    """When an edge is followed, e.g. {"type": "expression", "value": "x > 1"}."""

    type: EdgeConditionType
    value: Any = None


CONFIG_BY_NODE_TYPE: dict[str, type[OpenDocument]] = {
    "trigger": TriggerConfig,
    "condition": ConditionConfig,
    "adapter": AdapterConfig,
    "aggregator": AggregatorConfig,
}


def validate_document(model: type[OpenDocument], value: dict[str, Any]) -> dict[str, Any]:
    """Validate a JSONB document against its typed model and return it as stored."""
    storable_json(value)
    return model.model_validate(value).model_dump(mode="json", exclude_unset=True)


def inline_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its $defs (enums) inlined, to embed in a field."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref", "")
            if reference.startswith("#/$defs/"):
                return resolve(definitions[reference.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def typed_document(model: type[OpenDocument]) -> tuple[AfterValidator, WithJsonSchema]:
    """Validation against `model` plus its schema in OpenAPI, for a dict field."""
    return (
        AfterValidator(lambda value: validate_document(model, value)),
        WithJsonSchema(inline_json_schema(model)),
    )


WorkflowConfigJson = Annotated[dict[str, Any], *typed_document(WorkflowConfig)]
RetryConfigJson = Annotated[dict[str, Any], *typed_document(RetryConfig)]
EdgeConditionJson = Annotated[dict[str, Any], *typed_document(EdgeCondition)]
