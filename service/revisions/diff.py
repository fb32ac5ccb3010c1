"""The structural difference between two graph documents, and applying it (pure functions).

Only the definition counts: the workflow's name, description, config and variables, and each
node's and edge's id and written fields. Timestamps, versions and item order do not.
Objects are compared member by member (JSON pointers into them); any other value, arrays
included, is replaced whole.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from service.errors import json_pointer
from service.graph.edges.models import EdgeCreate
from service.graph.nodes.models import NodeCreate
from service.revisions.models import DEFINITION_FIELDS

ITEM_FIELDS = {
    "nodes": ("id", *NodeCreate.model_fields),
    "edges": ("id", *EdgeCreate.model_fields),
}
Change = dict[str, Any]


@dataclass(frozen=True)
class Definition:
    """What a graph document defines: workflow fields, and items by id (in document order)."""

    workflow: dict[str, Any]
    items: dict[str, dict[str, dict[str, Any]]]

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> "Definition":
        """The definition of a graph document (GET .../graph or a revision's snapshot)."""
        workflow = workflow_fields(document)
        items = {
            kind: {str(item["id"]): defined_fields(kind, item) for item in document.get(kind, [])}
            for kind in ITEM_FIELDS
        }
        return cls(workflow, items)


def defined_fields(kind: str, item: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a node or edge that belong to the definition."""
    return {name: item[name] for name in ITEM_FIELDS[kind] if name in item}


def same(old: Any, new: Any) -> bool:
    """Equal as JSON (1 is not 1.0, true is not 1; object member order does not count)."""
    if type(old) is not type(new):
        return False
    if isinstance(old, dict | list):
        return orjson.dumps(old, option=orjson.OPT_SORT_KEYS) == orjson.dumps(
            new, option=orjson.OPT_SORT_KEYS
        )
    return bool(old == new)


def value_changes(old: Any, new: Any, path: tuple[str, ...] = ()) -> list[Change]:
    """The changes turning `old` into `new`, as JSON pointers below `path`."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[Change] = []
        for key in [*old, *(key for key in new if key not in old)]:
            where = (*path, key)
            if key not in new:
                changes.append({"op": "remove", "pointer": json_pointer(*where), "old": old[key]})
            elif key not in old:
                changes.append({"op": "add", "pointer": json_pointer(*where), "new": new[key]})
            else:
                changes += value_changes(old[key], new[key], where)
        return changes
    if same(old, new):
        return []
    return [{"op": "replace", "pointer": json_pointer(*path), "old": old, "new": new}]


def by_id(items: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Items keyed by their id, in document order."""
    return {str(item["id"]): item for item in items}


def item_changes(
    kind: str, old_items: Iterable[Mapping[str, Any]], new_items: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """Items of one kind added, removed and changed; added and removed carry the whole item."""
    old, new = by_id(old_items), by_id(new_items)
    changed = []
    for item_id, new_item in new.items():
        old_item = old.get(item_id)
        # PostgreSQL renders both sides' members in one order: equal text is an unchanged item.
        if old_item is None or orjson.dumps(old_item) == orjson.dumps(new_item):
            continue
        changes = value_changes(defined_fields(kind, old_item), defined_fields(kind, new_item))
        if changes:
            changed.append({"id": item_id, "changes": changes})
    return {
        "added": [item for item_id, item in new.items() if item_id not in old],
        "removed": [item for item_id, item in old.items() if item_id not in new],
        "changed": changed,
    }


def workflow_fields(document: Mapping[str, Any]) -> dict[str, Any]:
    """The workflow fields of a graph document that belong to the definition."""
    return {name: document.get(name) for name in DEFINITION_FIELDS}


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The difference between two graph documents: workflow fields, nodes and edges."""
    result: dict[str, Any] = {"workflow": value_changes(workflow_fields(old), workflow_fields(new))}
    for kind in ITEM_FIELDS:
        result[kind] = item_changes(kind, old.get(kind, []), new.get(kind, []))
    return result


def parse_pointer(pointer: str) -> list[str]:
    """The reference tokens of an RFC 6901 JSON pointer."""
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer.split("/")[1:]]


def apply_change(document: dict[str, Any], change: Change) -> dict[str, Any]:
    """`document` with one change applied (the root itself when the pointer is empty)."""
    tokens = parse_pointer(change["pointer"])
    if not tokens:
        return dict(change["new"])
    parent = document
    for token in tokens[:-1]:
        parent = parent[token]
    if change["op"] == "remove":
        del parent[tokens[-1]]
    else:
        parent[tokens[-1]] = change["new"]
    return document


def apply(difference: Mapping[str, Any], definition: Definition) -> Definition:
    """The definition `difference` leads to from `definition` (the inverse of `diff`)."""
    copy = orjson.loads(orjson.dumps({"w": definition.workflow, "i": definition.items}))
    workflow = copy["w"]
    for change in difference["workflow"]:
        workflow = apply_change(workflow, change)
    items = copy["i"]
    for kind in ITEM_FIELDS:
        part = difference[kind]
        for item in part["removed"]:
            del items[kind][str(item["id"])]
        for changed in part["changed"]:
            item_id = str(changed["id"])
            for change in changed["changes"]:
                items[kind][item_id] = apply_change(items[kind][item_id], change)
        for item in part["added"]:
            items[kind][str(item["id"])] = defined_fields(kind, item)
    return Definition(workflow, items)
