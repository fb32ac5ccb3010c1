"""Users: the owners of workflows, tools and agents, identified by the token subject."""

import uuid

from sqlmodel import Field

from service.shared_models import PUBLIC_CONFIG, CreatedAtMixin


class User(CreatedAtMixin, table=True):
    """A caller, created on first use of a token whose `sub` is this id."""

    __tablename__ = "users"

    id: uuid.UUID = Field(primary_key=True)


class UserPublic(CreatedAtMixin):
    """The caller as the API shows it."""

    model_config = PUBLIC_CONFIG

    id: uuid.UUID
