"""Whole-graph JSON already rendered, kept per worker: the newest rendering of each workflow.

Every change to a workflow or its graph raises its version, and a GET always asks for the
current version, so an entry is served only for the version it was rendered at and an older
rendering is replaced, never kept beside a newer one. Rendering a large graph costs
PostgreSQL tens of milliseconds; serving it again costs one version lookup. A rendering's
compressed form is kept with it once asked for, within the same budget.
"""

import uuid
from collections import OrderedDict


class RenderedGraphs:
    """An LRU of the newest graph document per workflow, bounded by total size in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[uuid.UUID, tuple[int, bytes]] = OrderedDict()
        self._compressed: dict[uuid.UUID, bytes] = {}
        self._by_body: dict[int, uuid.UUID] = {}  # id() of each kept rendering

    def get(self, workflow_id: uuid.UUID, version: int) -> bytes | None:
        """The document of this version of the workflow's graph, if it is the one kept."""
        entry = self._entries.get(workflow_id)
        if entry is None or entry[0] != version:
            return None
        self._entries.move_to_end(workflow_id)
        return entry[1]

    def put(self, workflow_id: uuid.UUID, version: int, body: bytes) -> None:
        """Keep a rendering unless a newer one is kept; drop the least recently used beyond."""
        kept = self._entries.get(workflow_id)
        if (kept is not None and kept[0] >= version) or len(body) > self.max_bytes:
            return
        if kept is not None:
            self._drop(workflow_id)
        self._entries[workflow_id] = (version, body)
        self._by_body[id(body)] = workflow_id
        self.size += len(body)
        self._shrink()

    def compressed(self, body: bytes) -> bytes | None:
        """The compressed form kept for this rendering (the very object handed out), if any."""
        workflow_id = self._by_body.get(id(body))
        return None if workflow_id is None else self._compressed.get(workflow_id)

    def keep_compressed(self, body: bytes, packed: bytes) -> None:
        """Keep the compressed form of a rendering that is kept; other bodies are not kept."""
        workflow_id = self._by_body.get(id(body))
        if workflow_id is None or workflow_id in self._compressed:
            return
        self._compressed[workflow_id] = packed
        self.size += len(packed)
        self._shrink()

    def _drop(self, workflow_id: uuid.UUID) -> None:
        _version, body = self._entries.pop(workflow_id)
        del self._by_body[id(body)]
        self.size -= len(body) + len(self._compressed.pop(workflow_id, b""))

    def _shrink(self) -> None:
        while self.size > self.max_bytes:
            self._drop(next(iter(self._entries)))

    async def put_async(self, workflow_id: uuid.UUID, version: int, body: bytes) -> None:
        """`put` as a background task that runs on the event loop.

        Starlette runs a sync background task on a worker thread, where it would race the
        event loop's reads of this unsynchronized cache (and cost a thread hop per save).
        """
        self.put(workflow_id, version, body)
