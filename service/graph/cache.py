"""Whole-graph JSON already rendered, kept per worker: the newest rendering of each workflow.

Every change to a workflow or its graph raises its version, and a GET always asks for the
current version, so an entry is served only for the version it was rendered at and an older
rendering is replaced, never kept beside a newer one. Rendering a large graph costs
PostgreSQL tens of milliseconds; serving it again costs one version lookup. A rendering's
derived forms (React Flow's document, gzip) are kept with it once asked for, within the
same budget.
"""

import uuid
from collections import OrderedDict

GZIP_FORM = "gzip"


def form_key(parent: str, name: str) -> str:
    """The key of form `name` derived from form `parent` ("" is the rendering itself)."""
    return f"{parent}+{name}" if parent else name


class RenderedGraphs:
    """An LRU of the newest graph document per workflow, bounded by total size in bytes.

    Beside each rendering it keeps forms derived from it once asked for (React Flow's
    document, the gzipped bodies), dropped with it and counted in the same budget.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[uuid.UUID, tuple[int, bytes]] = OrderedDict()
        self._forms: dict[uuid.UUID, dict[str, bytes]] = {}
        # id() of each kept body -> its workflow and form name ("" for the rendering itself)
        self._by_body: dict[int, tuple[uuid.UUID, str]] = {}

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
        self._forms[workflow_id] = {}
        self._by_body[id(body)] = (workflow_id, "")
        self.size += len(body)
        self._shrink()

    def form(self, body: bytes, name: str) -> bytes | None:
        """Form `name` kept for this kept body (the very object handed out), if any."""
        owner = self._by_body.get(id(body))
        return None if owner is None else self._forms[owner[0]].get(form_key(owner[1], name))

    def keep_form(self, body: bytes, name: str, derived: bytes) -> None:
        """Keep form `name` of a kept body, itself handed out again; other bodies are not kept."""
        owner = self._by_body.get(id(body))
        if owner is None:
            return
        workflow_id, key = owner[0], form_key(owner[1], name)
        forms = self._forms[workflow_id]
        if key in forms:
            return
        forms[key] = derived
        self._by_body[id(derived)] = (workflow_id, key)
        self.size += len(derived)
        self._shrink()

    def compressed(self, body: bytes) -> bytes | None:
        """The gzipped form kept for this kept body, if any."""
        return self.form(body, GZIP_FORM)

    def keep_compressed(self, body: bytes, packed: bytes) -> None:
        """Keep the gzipped form of a kept body."""
        self.keep_form(body, GZIP_FORM, packed)

    def _drop(self, workflow_id: uuid.UUID) -> None:
        _version, body = self._entries.pop(workflow_id)
        forms = self._forms.pop(workflow_id)
        for kept in (body, *forms.values()):
            self._by_body.pop(id(kept), None)
            self.size -= len(kept)

    def _shrink(self) -> None:
        while self.size > self.max_bytes:
            self._drop(next(iter(self._entries)))

    async def put_async(self, workflow_id: uuid.UUID, version: int, body: bytes) -> None:
        """`put` as a background task that runs on the event loop.

        Starlette runs a sync background task on a worker thread, where it would race the
        event loop's reads of this unsynchronized cache (and cost a thread hop per save).
        """
        self.put(workflow_id, version, body)
