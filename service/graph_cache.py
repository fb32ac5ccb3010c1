"""Whole-graph JSON already rendered, kept per worker and keyed by (workflow id, version).

Every change to a workflow or its graph raises its version, so an entry can never be stale:
a new version is a new key, and old keys simply age out of the LRU. Rendering a large graph
costs PostgreSQL tens of milliseconds; serving it again costs one version lookup.
"""

import uuid
from collections import OrderedDict


class RenderedGraphs:
    """An LRU of graph documents bounded by their total size in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[tuple[uuid.UUID, int], bytes] = OrderedDict()

    def get(self, workflow_id: uuid.UUID, version: int) -> bytes | None:
        """The document of this version of the workflow's graph, if it was kept."""
        body = self._entries.get((workflow_id, version))
        if body is not None:
            self._entries.move_to_end((workflow_id, version))
        return body

    def put(self, workflow_id: uuid.UUID, version: int, body: bytes) -> None:
        """Keep a rendered document, dropping the least recently used ones beyond the limit."""
        key = (workflow_id, version)
        if len(body) > self.max_bytes or key in self._entries:
            return
        self._entries[key] = body
        self.size += len(body)
        while self.size > self.max_bytes:
            _key, dropped = self._entries.popitem(last=False)
            self.size -= len(dropped)
