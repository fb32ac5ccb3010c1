"""The caller."""

from fastapi import APIRouter

from service.deps import CurrentUser, ReadConnection
from service.errors import NotFoundError, error_responses
from service.json_body import JsonBodyRoute
from service.responses import json_response
from service.users import repository as users
from service.users.models import UserPublic

router = APIRouter(tags=["me"], route_class=JsonBodyRoute)


@router.get(
    "/me",
    operation_id="get_me",
    response_model=UserPublic,
    summary="Who am I",
    responses=error_responses(),
)
async def get_me(user_id: CurrentUser, connection: ReadConnection) -> object:
    """The caller, as identified by the bearer token."""
    body = await users.user_json(connection, user_id)
    if body is None:
        raise NotFoundError("The user does not exist.")
    return json_response(body)
