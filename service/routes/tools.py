"""Tools: list, create, read, update, soft delete, restore, purge."""

from service.models import ToolCreate, ToolPublic, ToolUpdate
from service.pagination import Page
from service.repositories.registry import TOOLS
from service.routes.registry import registry_router

router = registry_router(TOOLS, ToolCreate, ToolUpdate, Page[ToolPublic])
