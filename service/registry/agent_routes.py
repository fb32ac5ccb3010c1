"""Agents: list, create, read, update, soft delete, restore, purge."""

from service.pagination import Page
from service.registry.models import AgentCreate, AgentPublic, AgentUpdate
from service.registry.repository import AGENTS
from service.registry.routes import registry_router

router = registry_router(AGENTS, AgentCreate, AgentUpdate, Page[AgentPublic])
