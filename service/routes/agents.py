"""Agents: list, create, read, update, soft delete, restore, purge."""

from service.models import AgentCreate, AgentPublic, AgentUpdate
from service.pagination import Page
from service.repositories.registry import AGENTS
from service.routes.registry import registry_router

router = registry_router(AGENTS, AgentCreate, AgentUpdate, Page[AgentPublic])
