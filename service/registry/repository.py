"""Tools and agents: the owner's registries, stored like workflows (versioned, soft-deletable).

Every function is the generic `*_row` data access of the workflow repository; this module names
the two tables it serves, so routes pass `TOOLS` or `AGENTS`.
"""

from service.owned_rows import (
    ListFilter,
    OwnedTable,
    VersionedJson,
    get_row,
    insert_row,
    list_rows,
    patch_row,
    purge_row,
    restore_row,
    soft_delete_row,
)
from service.registry.models import Agent, AgentPublic, Tool, ToolPublic

TOOLS = OwnedTable(Tool, ToolPublic)
AGENTS = OwnedTable(Agent, AgentPublic)

__all__ = [
    "AGENTS",
    "TOOLS",
    "ListFilter",
    "OwnedTable",
    "VersionedJson",
    "get_row",
    "insert_row",
    "list_rows",
    "patch_row",
    "purge_row",
    "restore_row",
    "soft_delete_row",
]
