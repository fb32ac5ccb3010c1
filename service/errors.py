"""RFC 9457 problem documents: one class per error, each with its status, code and schema."""

import uuid
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, Union, cast

from pydantic import BaseModel, ConfigDict, Field, create_model

from service.changes.models import ChangePublic
from service.graph.validation import ValidationIssue

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """An RFC 9457 problem document with a stable machine `code`."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    type: str = Field(description="URI reference naming the problem type.")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    code: str = Field(description="Stable machine-readable error code.")


class ItemCode(StrEnum):
    """Why one located input is refused (the `code` of each item of `errors`)."""

    INVALID_VALUE = "INVALID_VALUE"
    SELF_LOOP = "SELF_LOOP"
    DUPLICATE_EDGE = "DUPLICATE_EDGE"
    NODE_NOT_IN_WORKFLOW = "NODE_NOT_IN_WORKFLOW"
    REFERENCE_NOT_FOUND = "REFERENCE_NOT_FOUND"
    CYCLE_DETECTED = "CYCLE_DETECTED"
    DUPLICATE_ID = "DUPLICATE_ID"
    ID_IN_OTHER_WORKFLOW = "ID_IN_OTHER_WORKFLOW"
    TOO_MANY_ITEMS = "TOO_MANY_ITEMS"
    ITEM_NOT_FOUND = "ITEM_NOT_FOUND"
    UNKNOWN_MEMBER = "UNKNOWN_MEMBER"


class FieldError(BaseModel):
    """One invalid input: a JSON pointer into the body, or a parameter name, and why."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    code: ItemCode
    pointer: str | None = Field(default=None, examples=["/nodes/3/name"])
    parameter: str | None = Field(default=None, examples=["limit"])
    detail: str


def invalid_value(pointer: str, detail: str) -> dict[str, Any]:
    """The located INVALID_VALUE item of a field that failed validation."""
    return {"code": ItemCode.INVALID_VALUE, "pointer": pointer, "detail": detail}


def validation_code(error: Mapping[str, Any]) -> ItemCode:
    """The item code of a pydantic error: UNKNOWN_MEMBER for a member no schema names."""
    if error.get("type") == "extra_forbidden":
        return ItemCode.UNKNOWN_MEMBER
    return ItemCode.INVALID_VALUE


def body_error(error: Mapping[str, Any], *prefix: str | int) -> dict[str, Any]:
    """The located item of a pydantic error in a body (its `loc` under `prefix`)."""
    pointer = json_pointer(*prefix, *error.get("loc", ()))
    return {"code": validation_code(error), "pointer": pointer, "detail": str(error["msg"])}


def json_pointer(*parts: str | int) -> str:
    """An RFC 6901 JSON pointer to the body location named by `parts`."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


class ValidationProblem(Problem):
    """VALIDATION_ERROR: every invalid input, each located and with its own code."""

    code: Literal["VALIDATION_ERROR"]
    errors: list[FieldError]


class VersionMismatchProblem(Problem):
    """VERSION_MISMATCH: If-Match does not name the current version, or If-None-Match does."""

    code: Literal["VERSION_MISMATCH"]
    current_version: int
    changes_since: list[ChangePublic] = Field(
        default_factory=list,
        description=(
            "The change log entries between the newest version If-Match named and the current "
            "one, oldest first, at most 100 (workflow, node and edge writes; empty elsewhere)."
        ),
    )
    changes_truncated: bool = Field(
        default=False, description="More steps were missed than `changes_since` holds."
    )


class CycleProblem(Problem):
    """CYCLE_DETECTED: the write would close this cycle (first id = last id)."""

    code: Literal["CYCLE_DETECTED"]
    cycle_path: list[uuid.UUID]


class DuplicateEdgeProblem(Problem):
    """DUPLICATE_EDGE: the same connection already exists."""

    code: Literal["DUPLICATE_EDGE"]
    existing_edge_id: uuid.UUID


class ValidationFailedProblem(Problem):
    """VALIDATION_FAILED: the definition's validation report has errors (warnings don't count)."""

    code: Literal["VALIDATION_FAILED"]
    issues: list[ValidationIssue] = Field(description="The report's issues, errors and warnings.")


class ProblemError(Exception):
    """Base of every error the API answers with; rendered by one exception handler."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"
    title: ClassVar[str] = "Internal server error"
    schema: ClassVar[type[Problem]] = Problem

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give an error without a schema of its own one whose `code` is its constant."""
        super().__init_subclass__(**kwargs)
        if "schema" not in cls.__dict__:
            cls.schema = create_model(
                cls.__name__.removesuffix("Error") + "Problem",
                __base__=Problem,
                __doc__=f"{cls.code}: {cls.__doc__}",
                code=(cast(Any, Literal)[cls.code], Field(description="Stable machine code.")),
            )

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    @classmethod
    def type_uri(cls) -> str:
        """The problem type, a relative URI reference derived from the code."""
        return "/problems/" + cls.code.lower().replace("_", "-")

    def document(self) -> dict[str, Any]:
        """The problem+json body, extension members at the top level."""
        body = {
            "type": self.type_uri(),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        return self.schema.model_validate({**body, **self.extra}).model_dump(mode="json")


class MalformedJsonError(ProblemError):
    """The body is not well-formed JSON."""

    status, code, title = 400, "MALFORMED_JSON", "Malformed JSON"


class UnauthorizedError(ProblemError):
    """Missing, malformed, expired or badly signed bearer token."""

    status, code, title = 401, "UNAUTHORIZED", "Unauthorized"

    def __init__(self, detail: str, *, token_sent: bool = True):
        # RFC 6750 3.1: no error code when the request carried no credentials at all.
        challenge = 'Bearer error="invalid_token"' if token_sent else "Bearer"
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class NotFoundError(ProblemError):
    """No such resource for this caller."""

    status, code, title = 404, "NOT_FOUND", "Not found"


def workflow_not_found(workflow_id: uuid.UUID) -> NotFoundError:
    """The 404 for a workflow the caller cannot see."""
    return NotFoundError(f"Workflow {workflow_id} not found.")


class RevisionNotFoundError(ProblemError):
    """The workflow has no revision of that number (never had, or pruned)."""

    status, code, title = 404, "REVISION_NOT_FOUND", "Revision not found"


class NotPublishedError(ProblemError):
    """The workflow has no published revision."""

    status, code, title = 404, "NOT_PUBLISHED", "Not published"


class MethodNotAllowedError(ProblemError):
    """The resource exists but not with this method."""

    status, code, title = 405, "METHOD_NOT_ALLOWED", "Method not allowed"


class NotAcceptableError(ProblemError):
    """No representation matches the Accept header."""

    status, code, title = 406, "NOT_ACCEPTABLE", "Not acceptable"


class DuplicateEdgeError(ProblemError):
    """The connection already exists."""

    status, code, title = 409, "DUPLICATE_EDGE", "Duplicate edge"
    schema = DuplicateEdgeProblem


class CycleDetectedError(ProblemError):
    """The write would make the graph cyclic."""

    status, code, title = 409, "CYCLE_DETECTED", "Cycle detected"
    schema = CycleProblem


class NotDeletedError(ProblemError):
    """Restore of an item that is not in the trash."""

    status, code, title = 409, "NOT_DELETED", "Not deleted"


class ConflictError(ProblemError):
    """The write conflicts with stored data."""

    status, code, title = 409, "CONFLICT", "Conflict"


class VersionMismatchError(ProblemError):
    """If-Match does not name the current version, or If-None-Match does."""

    status, code, title = 412, "VERSION_MISMATCH", "Version mismatch"
    schema = VersionMismatchProblem

    def __init__(
        self,
        current_version: int,
        *,
        changes_since: list[ChangePublic] | None = None,
        truncated: bool = False,
    ):
        super().__init__(
            f"If-Match or If-None-Match refuses the current version {current_version}",
            headers={"ETag": f'"{current_version}"'},
            current_version=current_version,
            changes_since=changes_since or [],
            changes_truncated=truncated,
        )


class ChangesExpiredError(ProblemError):
    """The change log no longer reaches back to the version asked for: reload the graph."""

    status, code, title = 410, "CHANGES_EXPIRED", "Changes expired"

    def __init__(self, since: int, oldest: int | None):
        reach = "holds no entries" if oldest is None else f"starts at version {oldest}"
        super().__init__(
            f"The change log {reach}; the steps after version {since} are gone. "
            "Reload the workflow and its graph."
        )


class PayloadTooLargeError(ProblemError):
    """The body is over the configured limit."""

    status, code, title = 413, "PAYLOAD_TOO_LARGE", "Payload too large"


class UnsupportedMediaTypeError(ProblemError):
    """The body is not application/json."""

    status, code, title = 415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported media type"


class ValidationError(ProblemError):
    """Invalid input, with every problem located."""

    status, code, title = 422, "VALIDATION_ERROR", "Validation error"
    schema = ValidationProblem

    def __init__(self, errors: list[dict[str, Any]], detail: str = "The request is invalid."):
        super().__init__(detail, errors=errors)


class ValidationFailedError(ProblemError):
    """The definition to publish does not pass validation."""

    status, code, title = 422, "VALIDATION_FAILED", "Validation failed"
    schema = ValidationFailedProblem

    def __init__(self, issues: list[ValidationIssue]):
        errors = sum(issue.severity == "error" for issue in issues)
        super().__init__(
            f"The definition has {errors} validation error(s); fix them before publishing.",
            issues=issues,
        )


class SelfLoopError(ProblemError):
    """An edge from a node to itself."""

    status, code, title = 422, "SELF_LOOP", "Self loop"


class NodeNotInWorkflowError(ProblemError):
    """An edge names a node that is not in this workflow."""

    status, code, title = 422, "NODE_NOT_IN_WORKFLOW", "Node not in workflow"


class GraphTooLargeError(ProblemError):
    """The write would exceed the workflow size limits."""

    status, code, title = 422, "GRAPH_TOO_LARGE", "Graph too large"


class PreconditionRequiredError(ProblemError):
    """A change without If-Match."""

    status, code, title = 428, "PRECONDITION_REQUIRED", "Precondition required"

    def __init__(self) -> None:
        super().__init__("This change needs an If-Match header with the current ETag.")


class DatabaseUnavailableError(ProblemError):
    """PostgreSQL cannot be reached within the configured timeout."""

    status, code, title = 503, "DATABASE_UNAVAILABLE", "Database unavailable"

    def __init__(self, detail: str = "The database is unavailable; try again shortly."):
        super().__init__(detail, headers={"Retry-After": "1"})


RETRY_STREAM_SECONDS = 5


class TooManySubscribersError(ProblemError):
    """This worker serves MAX_EVENT_SUBSCRIBERS event streams already (or is shutting down)."""

    status, code, title = 503, "TOO_MANY_SUBSCRIBERS", "Too many subscribers"

    def __init__(self, limit: int):
        super().__init__(
            f"This server streams events to its limit of {limit} subscribers; retry shortly.",
            headers={"Retry-After": str(RETRY_STREAM_SECONDS)},
        )


class NotReadyError(ProblemError):
    """The service cannot serve yet (database unreachable or schema not at head)."""

    status, code, title = 503, "NOT_READY", "Not ready"


COMMON_ERRORS: tuple[type[ProblemError], ...] = (
    MalformedJsonError,
    UnauthorizedError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    ValidationError,
    DatabaseUnavailableError,
)


def error_responses(
    *errors: type[ProblemError], common: tuple[type[ProblemError], ...] = COMMON_ERRORS
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for these errors and `common`, by status, unions keyed by `code`."""
    by_status: dict[int, list[type[ProblemError]]] = {}
    for error in (*errors, *common):
        if error not in by_status.get(error.status, []):
            by_status.setdefault(error.status, []).append(error)
    responses: dict[int | str, dict[str, Any]] = {}
    for status, group in sorted(by_status.items()):
        schemas = tuple(dict.fromkeys(error.schema for error in group))
        model: Any = schemas[0]
        if len(schemas) > 1:
            model = Annotated[cast(Any, Union)[schemas], Field(discriminator="code")]
        codes = ", ".join(error.code for error in group)
        responses[status] = {
            "model": model,
            "description": codes,
            "content": {PROBLEM_JSON: {}},
        }
    return responses
