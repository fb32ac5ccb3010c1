"""Tools: list, create, read, update, soft delete, restore, purge."""

from service.pagination import Page
from service.registry.models import ToolCreate, ToolPublic, ToolUpdate
from service.registry.repository import TOOLS
from service.registry.routes import registry_router

router = registry_router(TOOLS, ToolCreate, ToolUpdate, Page[ToolPublic])
