"""Whole-graph JSON already rendered, kept per worker: the newest rendering of each workflow.

Every change to a workflow or its graph raises its version, and a GET always asks for the
current version, so an entry is served only for the version it was rendered at and an older
rendering is replaced, never kept beside a newer one. Rendering a large graph costs
PostgreSQL tens of milliseconds; serving it again costs one version lookup. A rendering's
compressed form is kept with it once asked for, within the same budget.
"""

import uuid
from collections import OrderedDict
from collections.abc import Callable


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

    def compressed(self, body: bytes, compress: Callable[[bytes], bytes]) -> bytes | None:
        """The compressed form of a kept rendering, compressed once; None for any other body."""
        workflow_id = self._by_body.get(id(body))
        if workflow_id is None or self._entries[workflow_id][1] is not body:
            return None
        packed = self._compressed.get(workflow_id)
        if packed is None:
            packed = self._compressed[workflow_id] = compress(body)
            self.size += len(packed)
            self._shrink()
        return packed

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
