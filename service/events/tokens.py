"""Stream tokens: short-lived, for one workflow's event stream only, carried in the query.

Browsers' EventSource cannot send Authorization, and the bearer token must never go in a URL.
A stream token is a JWT signed with a key derived from JWT_SECRET (or EVENTS_TOKEN_SECRET): a
key of its own, so no bearer check ever accepts one, and it names the one workflow it opens.
"""

import hashlib
import hmac
import time
import uuid

import jwt

from service.config import Settings
from service.errors import NotFoundError, UnauthorizedError

STREAM_AUDIENCE = "workflow-service/events"
STREAM_ALGORITHM = "HS256"
KEY_PURPOSE = b"workflow-service event stream tokens"


def stream_key(settings: Settings) -> bytes | None:
    """The key stream tokens are signed with, never the bearer tokens' own; None: no secret."""
    secret = settings.events_token_secret or settings.jwt_secret
    if secret is None:
        return None  # RS256/ES256 without EVENTS_TOKEN_SECRET: no stream tokens
    return hmac.new(secret.get_secret_value().encode(), KEY_PURPOSE, hashlib.sha256).digest()


def mint_stream_token(settings: Settings, user_id: uuid.UUID, workflow_id: uuid.UUID) -> str:
    """A token that opens this workflow's event stream for `user_id` until it expires."""
    key = stream_key(settings)
    if key is None:
        raise NotFoundError(
            "Stream tokens are not enabled here: the server needs EVENTS_TOKEN_SECRET."
        )
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "workflow_id": str(workflow_id),
        "aud": STREAM_AUDIENCE,
        "iat": now,
        "exp": now + settings.events_token_ttl_seconds,
    }
    return jwt.encode(claims, key, algorithm=STREAM_ALGORITHM)


def stream_token_user(settings: Settings, token: str, workflow_id: uuid.UUID) -> uuid.UUID:
    """The user a valid stream token for this workflow names; 401 for anything else."""
    key = stream_key(settings)
    if key is None:
        raise UnauthorizedError("Stream tokens are not enabled here.")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[STREAM_ALGORITHM],
            audience=STREAM_AUDIENCE,
            options={"require": ["exp", "sub", "aud", "workflow_id"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise UnauthorizedError("The stream token has expired; mint a new one.") from error
    except jwt.PyJWTError as error:
        raise UnauthorizedError("The stream token is invalid.") from error
    if claims["workflow_id"] != str(workflow_id):
        raise UnauthorizedError("The stream token is for another workflow.")
    try:
        return uuid.UUID(str(claims["sub"]))
    except ValueError as error:
        raise UnauthorizedError("The stream token subject is not a UUID.") from error
